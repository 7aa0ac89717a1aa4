"""DNS multiaddr resolution (trio's resolver for /dns*, a local DNS server for /dnsaddr) and the
dns() transport that wraps the others."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import DialError, InvalidConfigError, TransportError
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.dns import (
    DnsConfig,
    DnsResolutionError,
    dns as dns_transport,
    needs_resolution,
    resolve,
)
from p2pstack.transports.tcp import TcpConfig, tcp
from p2pstack.transports.websocket import websocket

PEER_A = "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"
PEER_B = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"


def M(text: str) -> Multiaddr:
    return Multiaddr(text)


# --------------------------------------------------------------- /dns, /dns4, /dns6


async def test_ip_addresses_pass_through() -> None:
    for text in ("/ip4/1.2.3.4/tcp/1", f"/ip6/::1/tcp/1/ws/p2p/{PEER_A}", "/memory/3"):
        assert await resolve(M(text)) == [M(text)]
        assert not needs_resolution(M(text))


async def test_dns4_localhost_keeps_the_rest() -> None:
    addr = M(f"/dns4/localhost/tcp/4001/ws/p2p/{PEER_A}")
    assert needs_resolution(addr)
    assert await resolve(addr) == [M(f"/ip4/127.0.0.1/tcp/4001/ws/p2p/{PEER_A}")]


class FakeResolver(trio.abc.HostnameResolver):
    """Answers getaddrinfo from a table (or never, for timeouts)."""

    def __init__(self, table: dict[str, list[str]], *, hang: bool = False) -> None:
        self.table = table
        self.hang = hang
        self.calls: list[tuple[Any, ...]] = []

    async def getaddrinfo(
        self, host: bytes | None, port: Any, family: int = 0, type: int = 0,
        proto: int = 0, flags: int = 0,
    ) -> list[tuple[Any, ...]]:  # fmt: skip
        self.calls.append((host, family))
        if self.hang:
            await trio.sleep_forever()
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for ip in self.table[name]:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            if family in (0, fam):
                sockaddr = (ip, 0, 0, 0) if fam == socket.AF_INET6 else (ip, 0)
                out.append((fam, socket.SOCK_STREAM, 6, "", sockaddr))
        if not out:
            raise socket.gaierror(socket.EAI_NONAME, "no address of the requested family")
        return out

    async def getnameinfo(self, sockaddr: Any, flags: int) -> tuple[str, str]:
        raise NotImplementedError


@pytest.fixture
async def fake_resolver() -> AsyncIterator[Callable[..., FakeResolver]]:
    def install(table: dict[str, list[str]], **kw: bool) -> FakeResolver:
        resolver = FakeResolver(table, **kw)
        trio.socket.set_custom_hostname_resolver(resolver)
        return resolver

    yield install
    trio.socket.set_custom_hostname_resolver(None)


async def test_dns_prefers_ipv6_and_keeps_order(fake_resolver: Callable[..., FakeResolver]) -> None:
    fake_resolver({"multi.test": ["10.0.0.2", "fd00::1", "10.0.0.1", "fd00::2", "10.0.0.2"]})
    got = await resolve(M("/dns/multi.test/tcp/1/p2p/" + PEER_A))
    assert got == [
        M(f"/ip6/fd00::1/tcp/1/p2p/{PEER_A}"),
        M(f"/ip6/fd00::2/tcp/1/p2p/{PEER_A}"),
        M(f"/ip4/10.0.0.2/tcp/1/p2p/{PEER_A}"),
        M(f"/ip4/10.0.0.1/tcp/1/p2p/{PEER_A}"),
    ]


async def test_dns4_and_dns6_keep_their_family(
    fake_resolver: Callable[..., FakeResolver],
) -> None:
    resolver = fake_resolver({"multi.test": ["10.0.0.1", "fd00::1"], "v4only.test": ["10.0.0.9"]})
    assert await resolve(M("/dns4/multi.test/tcp/1")) == [M("/ip4/10.0.0.1/tcp/1")]
    assert await resolve(M("/dns6/multi.test/tcp/1")) == [M("/ip6/fd00::1/tcp/1")]
    assert (b"multi.test", socket.AF_INET6) in resolver.calls
    with pytest.raises(DnsResolutionError) as info:
        await resolve(M("/dns6/v4only.test/tcp/1"))
    assert info.value.name == "v4only.test"
    assert isinstance(info.value, TransportError)


async def test_unknown_name_is_typed_error(fake_resolver: Callable[..., FakeResolver]) -> None:
    fake_resolver({})
    with pytest.raises(DnsResolutionError, match=r"nothing\.test") as info:
        await resolve(M("/dns4/nothing.test/tcp/1"))
    assert "not known" in info.value.reason


async def test_resolution_times_out(fake_resolver: Callable[..., FakeResolver]) -> None:
    fake_resolver({}, hang=True)
    with trio.fail_after(5):
        with pytest.raises(DnsResolutionError, match="timed out") as info:
            await resolve(M("/dns4/slow.test/tcp/1"), DnsConfig(timeout=0.1))
    assert info.value.name == "slow.test"


async def test_secure_websocket_keeps_the_name_for_tls(
    fake_resolver: Callable[..., FakeResolver],
) -> None:
    fake_resolver({"example.test": ["10.0.0.1"]})
    assert await resolve(M(f"/dns4/example.test/tcp/443/wss/p2p/{PEER_A}")) == [
        M(f"/ip4/10.0.0.1/tcp/443/tls/sni/example.test/ws/p2p/{PEER_A}")
    ]
    assert await resolve(M("/dns4/example.test/tcp/443/tls/ws")) == [
        M("/ip4/10.0.0.1/tcp/443/tls/sni/example.test/ws")
    ]
    assert await resolve(M("/dns4/example.test/tcp/443/tls/sni/other.test/ws")) == [
        M("/ip4/10.0.0.1/tcp/443/tls/sni/other.test/ws")
    ]


def test_config_is_validated() -> None:
    with pytest.raises(InvalidConfigError):
        DnsConfig(timeout=0)
    with pytest.raises(InvalidConfigError):
        DnsConfig(nameservers=())


# ------------------------------------------------------------------------ /dnsaddr


@asynccontextmanager
async def dns_server(txt: dict[str, list[str]]) -> AsyncIterator[tuple[str, int]]:
    """A tiny authoritative UDP DNS server on 127.0.0.1 answering TXT queries from ``txt``."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))

    async def serve() -> None:
        while True:
            data, peer = await sock.recvfrom(4096)
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True)
            if name not in txt:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name,
                        60,
                        dns.rdataclass.IN,
                        dns.rdatatype.TXT,
                        [f'"{record}"' for record in txt[name]],
                    )
                )
            await sock.sendto(response.to_wire(), peer)

    with sock:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            yield sock.getsockname()
            nursery.cancel_scope.cancel()


async def test_dnsaddr_recursive_with_p2p_filter() -> None:
    records = {
        "_dnsaddr.bootstrap.test": [
            f"dnsaddr=/dnsaddr/a.bootstrap.test/p2p/{PEER_A}",
            f"dnsaddr=/dnsaddr/b.bootstrap.test/p2p/{PEER_B}",
            "unrelated=text record",
            "dnsaddr=/not a multiaddr",
        ],
        "_dnsaddr.a.bootstrap.test": [
            f"dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/{PEER_A}",
            f"dnsaddr=/dns4/localhost/tcp/4002/ws/p2p/{PEER_A}",
        ],
        "_dnsaddr.b.bootstrap.test": [f"dnsaddr=/ip6/fd00::1/tcp/4001/p2p/{PEER_B}"],
    }
    async with dns_server(records) as (host, port):
        config = DnsConfig(nameservers=((host, port),), timeout=5)
        everything = await resolve(M("/dnsaddr/bootstrap.test"), config)
        # DNS does not order the records of one answer: compare as sets.
        assert len(everything) == 3
        assert set(everything) == {
            M(f"/ip4/10.0.0.1/tcp/4001/p2p/{PEER_A}"),
            M(f"/ip4/127.0.0.1/tcp/4002/ws/p2p/{PEER_A}"),
            M(f"/ip6/fd00::1/tcp/4001/p2p/{PEER_B}"),
        }
        only_b = await resolve(M(f"/dnsaddr/bootstrap.test/p2p/{PEER_B}"), config)
        assert only_b == [M(f"/ip6/fd00::1/tcp/4001/p2p/{PEER_B}")]


async def test_dnsaddr_errors() -> None:
    records = {
        "_dnsaddr.loop.test": ["dnsaddr=/dnsaddr/loop.test"],
        "_dnsaddr.other.test": [f"dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/{PEER_A}"],
    }
    async with dns_server(records) as (host, port):
        config = DnsConfig(nameservers=((host, port),), timeout=5)
        with pytest.raises(DnsResolutionError, match="no TXT records") as info:
            await resolve(M("/dnsaddr/missing.test"), config)
        assert info.value.name == "missing.test"
        with pytest.raises(DnsResolutionError, match="recursion"):
            await resolve(M("/dnsaddr/loop.test"), config)
        with pytest.raises(DnsResolutionError, match="no matching"):
            await resolve(M(f"/dnsaddr/other.test/p2p/{PEER_B}"), config)


async def test_dnsaddr_server_silent_times_out() -> None:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    with sock:
        host, port = sock.getsockname()
        with pytest.raises(DnsResolutionError):
            await resolve(M("/dnsaddr/x.test"), DnsConfig(nameservers=((host, port),), timeout=0.3))


# --------------------------------------------------------- the dns() wrapper transport


def test_dns_transport_dials_names_its_inner_transports_dial() -> None:
    transport = dns_transport([tcp(), websocket()])
    for text, ok in [
        ("/dns4/a.test/tcp/1", True),
        ("/dns6/a.test/tcp/1/ws", True),
        (f"/dns/a.test/tcp/443/wss/p2p/{PEER_A}", True),
        ("/ip4/127.0.0.1/tcp/1", True),  # numeric: handed straight to the inner transport
        (f"/dnsaddr/bootstrap.test/p2p/{PEER_A}", True),
        ("/dns4/a.test/udp/1", False),
        ("/dnsaddr/bootstrap.test/tcp/1", False),
        ("/memory/1", False),
    ]:
        assert transport.can_dial(M(text)) is ok, text
    assert transport.can_listen(M("/ip4/127.0.0.1/tcp/0"))
    assert not transport.can_listen(M("/dns4/a.test/tcp/0"))
    assert not tcp().can_dial(M("/dns4/a.test/tcp/1"))  # the TCP transport takes numbers


def test_dns_factory_checks_its_arguments() -> None:
    with pytest.raises(InvalidConfigError, match=r"dns\(inner\)"):
        dns_transport([])
    with pytest.raises(InvalidConfigError, match=r"dns\(inner\)\[1\]"):
        dns_transport([tcp(), "tcp"])  # type: ignore[list-item]
    with pytest.raises(InvalidConfigError, match=r"dns\(config\).*DnsConfig"):
        dns_transport([tcp()], TcpConfig())  # type: ignore[arg-type]


async def test_dns_transport_tries_the_resolved_addresses_in_order(
    fake_resolver: Callable[..., FakeResolver],
) -> None:
    listener = await tcp().listen(M("/ip4/127.0.0.1/tcp/0"))
    port = listener.listen_addrs[0].value_for("tcp")
    # 127.0.0.2 is loopback too, but nothing listens there: refused, then the next address.
    fake_resolver({"two.test": ["127.0.0.2", "127.0.0.1"]})
    raw = await dns_transport([tcp()]).dial(M(f"/dns4/two.test/tcp/{port}"))
    assert raw.remote_addr == M(f"/ip4/127.0.0.1/tcp/{port}")
    await raw.stream.aclose()
    fake_resolver({"none.test": ["127.0.0.2", "127.0.0.3"]})
    with pytest.raises(TransportError, match=r"127\.0\.0\.2.*127\.0\.0\.3"):
        await dns_transport([tcp()]).dial(M(f"/dns4/none.test/tcp/{port}"))
    await listener.aclose()


async def test_node_dial_uses_the_dns_transports_own_resolver_config() -> None:
    """A /dnsaddr dial by a node asks the nameserver of the DnsConfig given to dns(), here a
    local one on 127.0.0.1 (with the default config the system's resolver would be asked)."""
    async with open_node(listen=["/ip4/127.0.0.1/tcp/0"], transports=[tcp()]) as server:
        records = {"_dnsaddr.server.test": [f"dnsaddr={server.addrs[0]}"]}
        async with dns_server(records) as (host, port):
            config = DnsConfig(nameservers=((host, port),), timeout=5)
            async with open_node(transports=[dns_transport([tcp()], config)]) as client:
                conn = await client.dial(f"/dnsaddr/server.test/p2p/{server.peer_id}")
                assert conn.peer_id == server.peer_id
                assert conn.remote_addr == server.listen_addrs[0]
            async with open_node(transports=[tcp()]) as numeric_only:
                with pytest.raises(DialError):  # no DNS transport: the name is not dialled
                    await numeric_only.dial(f"/dnsaddr/server.test/p2p/{server.peer_id}")
