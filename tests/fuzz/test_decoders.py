"""Every fuzz target keeps the invariant on any bytes, on its seed corpus, and on
structure-aware inputs that get past the first checks (see strategies.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from . import strategies as s
from .registry import TARGETS
from .targets import TARGETS as ALL

CORPUS = Path(__file__).parent / "corpus"
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STRUCTURED = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def test_registry_is_complete() -> None:
    assert ALL is TARGETS
    assert len(TARGETS) >= 30


@pytest.mark.parametrize("name", sorted(ALL))
def test_seed_corpus(name: str) -> None:
    seeds = sorted((CORPUS / name).iterdir())
    assert seeds, f"no seeds for {name}"
    for path in seeds:
        TARGETS[name](path.read_bytes())


@pytest.mark.parametrize("name", sorted(ALL))
@FAST
@given(data=st.binary(max_size=600))
def test_any_bytes(name: str, data: bytes) -> None:
    TARGETS[name](data)


PROTOBUF_TARGETS = [
    "identify",
    "relay_hop",
    "relay_stop",
    "relay_voucher",
    "signed_envelope",
    "peer_record",
    "public_key",
    "private_key",
    "noise_payload",
    "noise_msg2_payload",
    "noise_msg3_payload",
]


@pytest.mark.parametrize("name", PROTOBUF_TARGETS)
@STRUCTURED
@given(message=s.protobuf_messages())
def test_protobuf_with_hostile_fields(name: str, message: bytes) -> None:
    TARGETS[name](b"\x00" + message if name == "identify" else message)


@STRUCTURED
@given(data=s.yamux_sessions)
def test_yamux_valid_headers_hostile_values(data: bytes) -> None:
    TARGETS["yamux"](data)


@STRUCTURED
@given(data=s.multiaddr_bytes)
def test_multiaddr_known_codes_hostile_values(data: bytes) -> None:
    TARGETS["multiaddr_bytes"](data)


@STRUCTURED
@given(data=s.multiaddr_strings)
def test_multiaddr_known_names_hostile_values(data: bytes) -> None:
    TARGETS["multiaddr_string"](data)
    TARGETS["peer_id_string"](data.rpartition(b"/")[2])


@STRUCTURED
@given(data=s.multistream_sessions)
def test_multistream_framed_hostile_messages(data: bytes) -> None:
    TARGETS["multistream"](data)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=s.ws_frames(masked=True))
def test_ws_server_hostile_frames(data: bytes) -> None:
    TARGETS["ws_server_frames"](data)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=s.ws_frames(masked=False))
def test_ws_client_hostile_frames(data: bytes) -> None:
    TARGETS["ws_client_frames"](data)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=s.ws_upgrade_answers)
def test_ws_client_hostile_upgrade_headers(data: bytes) -> None:
    TARGETS["ws_client_upgrade"](data)


@STRUCTURED
@given(data=s.xmpp_attributes)
def test_xmpp_hostile_attributes(data: bytes) -> None:
    TARGETS["xmpp_presence_attrs"](data)


@STRUCTURED
@given(data=s.mdns_records)
def test_mdns_hostile_dnsaddr(data: bytes) -> None:
    TARGETS["mdns_txt"](data)


@STRUCTURED
@given(value=s.json_values)
def test_rr_codecs_any_json(value: object) -> None:
    TARGETS["rr_codecs"](json.dumps(value).encode())


@STRUCTURED
@given(data=s.length_prefixed_bodies)
def test_rr_framing_hostile_lengths(data: bytes) -> None:
    TARGETS["rr_framing"](data)
    TARGETS["relay_wire"](data)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=s.perf_requests)
def test_perf_hostile_sizes(data: bytes) -> None:
    TARGETS["perf"](data)


@STRUCTURED
@given(message=s.protobuf_messages())
def test_peer_record_signed_hostile_payloads(message: bytes) -> None:
    """Validly signed envelopes (past the signature check) around hostile record payloads."""
    TARGETS["peer_record"](s.signed_peer_record(message))


def test_committed_corpus_is_what_make_corpus_writes() -> None:
    """The generated seeds are committed as generated (deterministic, none hand-edited), and
    every other target keeps a seed folder of its own (see ``make_corpus.write``)."""
    from .make_corpus import generated

    for name, entries in generated().items():
        committed = {p.name: p.read_bytes() for p in (CORPUS / name).iterdir()}
        assert committed == entries, f"{name}: run python -m tests.fuzz.make_corpus"
    assert generated() == generated()
