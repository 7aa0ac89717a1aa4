"""The resource manager's scopes: memory, connection and stream accounting and refusals."""

from __future__ import annotations

import pytest

from p2pstack.errors import InvalidConfigError, LimitExceeded
from p2pstack.host.limits import ConnectionLimits
from p2pstack.host.resources import MemoryLimits, MiB, ResourceManager, default_system_memory
from p2pstack.identity import Identity
from p2pstack.role import Role

KiB = 1024


def manager(**memory: int | None) -> tuple[ResourceManager, list[LimitExceeded]]:
    refused: list[LimitExceeded] = []
    limits = MemoryLimits(
        system=memory.get("system", 8 * MiB),
        transient=memory.get("transient", 1 * MiB),
        peer=memory.get("peer", 2 * MiB),
        connection=memory.get("connection", 1 * MiB),
        stream=memory.get("stream", 256 * KiB),
        connection_overhead=64 * KiB,
    )
    conns = ConnectionLimits(max_per_peer=2, max_inbound=3, max_inbound_streams=2)
    return ResourceManager(conns, limits, on_refusal=refused.append), refused


def test_connection_memory_counts_up_the_chain_and_is_released() -> None:
    rm, _ = manager()
    peer = Identity.generate().peer_id
    conn = rm.open_connection(role=Role.RESPONDER)
    assert rm.transient.memory == 64 * KiB
    conn.set_peer(peer)
    assert rm.transient.memory == 0
    assert rm.transient.conns == {"inbound": 0, "outbound": 0}
    conn.reserve_memory(256 * KiB)
    assert rm.peer_scope(peer).memory == 320 * KiB
    assert rm.system.memory == 320 * KiB
    assert rm.system.conns["inbound"] == 1
    conn.done()
    conn.done()  # idempotent
    assert rm.system.memory == 0
    assert rm.system.conns["inbound"] == 0
    assert peer not in rm.peers


def test_memory_refusal_names_the_scope_and_changes_nothing() -> None:
    rm, refused = manager(connection=512 * KiB)
    conn = rm.open_connection(role=Role.INITIATOR)
    conn.set_peer(Identity.generate().peer_id)
    conn.reserve_memory(400 * KiB)
    with pytest.raises(LimitExceeded) as info:
        conn.reserve_memory(100 * KiB)
    assert info.value.limit == "memory"
    assert info.value.scope == conn.name
    assert conn.memory == 464 * KiB
    assert rm.system.memory == 464 * KiB
    assert refused == [info.value]
    assert rm.refusals["connection", "memory"] == 1


def test_peer_memory_is_shared_by_its_connections() -> None:
    rm, _ = manager(peer=1 * MiB)
    peer = Identity.generate().peer_id
    first = rm.open_connection(role=Role.RESPONDER)
    first.set_peer(peer)
    second = rm.open_connection(role=Role.RESPONDER)
    second.set_peer(peer)
    first.reserve_memory(800 * KiB)
    with pytest.raises(LimitExceeded) as info:
        second.reserve_memory(100 * KiB)
    assert info.value.scope == f"peer:{peer}"


def test_connection_counts_per_direction_per_peer_and_transient() -> None:
    rm, _ = manager()
    peer = Identity.generate().peer_id
    conns = [rm.open_connection(role=Role.RESPONDER) for _ in range(3)]
    with pytest.raises(LimitExceeded) as info:
        rm.open_connection(role=Role.RESPONDER)
    assert (info.value.scope, info.value.limit) == ("system", "connections.inbound")
    conns[0].set_peer(peer)
    conns[1].set_peer(peer)
    with pytest.raises(LimitExceeded) as info:
        conns[2].set_peer(peer)
    assert info.value.limit == "connections.per_peer"
    assert rm.transient.conns["inbound"] == 1  # still transient: the caller closes it
    conns[2].done()
    assert rm.system.conns["inbound"] == 2


def test_exempt_connections_are_counted_but_never_refused() -> None:
    rm, _ = manager()
    conns = [rm.open_connection(role=Role.RESPONDER, exempt=True) for _ in range(5)]
    assert rm.system.conns["inbound"] == 5
    for conn in conns:
        conn.done()
    assert rm.system.conns["inbound"] == 0


def test_streams_count_in_connection_and_protocol() -> None:
    rm, _ = manager()
    conn = rm.open_connection(role=Role.RESPONDER)
    conn.set_peer(Identity.generate().peer_id)
    a = conn.open_stream(role=Role.RESPONDER, protocol="/a")
    conn.open_stream(role=Role.RESPONDER, protocol="/a")
    with pytest.raises(LimitExceeded) as info:
        conn.open_stream(role=Role.RESPONDER, protocol="/a")
    assert info.value.limit == "streams.inbound"
    assert rm.protocol_scope("/a").streams["inbound"] == 2
    a.reserve_memory(100 * KiB)
    assert rm.protocol_scope("/a").memory == 100 * KiB
    assert conn.memory == 164 * KiB
    a.done()
    assert rm.protocol_scope("/a").memory == 0
    assert rm.protocol_scope("/a").streams["inbound"] == 1
    assert conn.streams["inbound"] == 1


def test_stream_memory_limit() -> None:
    rm, _ = manager(stream=128 * KiB)
    conn = rm.open_connection(role=Role.RESPONDER)
    stream = conn.open_stream(role=Role.INITIATOR)
    with pytest.raises(LimitExceeded) as info:
        stream.reserve_memory(129 * KiB)
    assert info.value.scope == stream.name


def test_default_budget_is_a_quarter_of_ram_at_most_one_gib() -> None:
    assert 0 < default_system_memory() <= 1024 * MiB
    assert MemoryLimits.scaled(64 * MiB).peer == 8 * MiB
    with pytest.raises(InvalidConfigError):
        MemoryLimits(connection=1)


def test_one_address_cannot_take_the_whole_system_budget() -> None:
    refused: list[LimitExceeded] = []
    limits = MemoryLimits(system=8 * MiB, address=2 * MiB, peer=4 * MiB, connection=4 * MiB)
    rm = ResourceManager(ConnectionLimits(), limits, on_refusal=refused.append)
    flood = []
    for _ in range(3):  # three peer ids from one address
        conn = rm.open_connection(role=Role.RESPONDER, address="192.0.2.66")
        conn.set_peer(Identity.generate().peer_id)
        flood.append(conn)
    flood[0].reserve_memory(1 * MiB)
    with pytest.raises(LimitExceeded) as info:
        flood[1].reserve_memory(1 * MiB)
    assert info.value.scope == "address:192.0.2.66"
    honest = rm.open_connection(role=Role.RESPONDER, address="198.51.100.7")
    honest.set_peer(Identity.generate().peer_id)
    honest.reserve_memory(1 * MiB)
    for conn in [*flood, honest]:
        conn.done()
    assert rm.system.memory == 0
    assert rm.addresses == {}
