"""Structure-aware hypothesis strategies: inputs that get past a decoder's first checks
(valid framing or envelopes around hostile values), encoded as the targets take them."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from p2pstack.identity.envelope import seal
from p2pstack.identity.record import PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE
from p2pstack.multiaddr import PROTOCOLS
from p2pstack.varint import encode_uvarint

from .registry import split, whole
from .targets_codecs import ALICE

# ------------------------------------------------------------------------- protobuf
_hostile_bytes = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"/\x80", b"\x00", b""]),
    st.text(max_size=20).map(str.encode),
)
_varints = st.one_of(
    st.integers(0, 5), st.integers(0, 2**64 - 1), st.sampled_from([2**31, 2**32 - 1, 2**63])
)


def signed_peer_record(payload: bytes) -> bytes:
    """``payload`` in a peer-record envelope that ALICE validly signed (what the
    ``peer_record`` target verifies as ALICE's)."""
    return seal(ALICE, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload).to_bytes()


def _field(number: int, wire: int, value: bytes | int) -> bytes:
    key = encode_uvarint((number << 3) | wire)
    if wire == 0:
        assert isinstance(value, int)
        return key + _pb_varint(value)
    assert isinstance(value, bytes)
    return key + encode_uvarint(len(value)) + value


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def protobuf_messages(max_depth: int = 2) -> st.SearchStrategy[bytes]:
    """Well-formed protobuf wire bytes: fields 1-8 with hostile varints, strings, nesting."""

    def fields(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        varint_field = st.builds(_field, st.integers(1, 8), st.just(0), _varints)
        bytes_field = st.builds(
            _field, st.integers(1, 8), st.just(2), st.one_of(_hostile_bytes, inner)
        )
        return st.lists(st.one_of(varint_field, bytes_field), max_size=8).map(b"".join)

    return st.recursive(st.just(b""), fields, max_leaves=max_depth * 6)


# ---------------------------------------------------------------------------- Yamux
_yamux_frame = st.builds(
    lambda version, ftype, flags, sid, length, payload: (
        struct.pack(">BBHII", version, ftype, flags, sid, length)
        + (payload[:length] if ftype == 0 else b"")
    ),
    st.sampled_from([0, 0, 0, 0, 1]),
    st.sampled_from([0, 1, 2, 3, 0, 1, 4]),
    st.one_of(st.sampled_from([0, 1, 2, 4, 8, 3, 5, 9, 12, 15]), st.integers(0, 0xFFFF)),
    st.one_of(st.integers(0, 6), st.sampled_from([2**31, 2**32 - 1, 2**32 - 2])),
    st.one_of(st.integers(0, 40), st.integers(0, 2**32 - 1)),
    st.binary(max_size=40),
)
yamux_sessions = st.builds(
    split, st.lists(_yamux_frame, max_size=12).map(b"".join), st.integers(0, 255)
)
"""Valid 12-byte headers with hostile types, flags, ids and lengths, fed in varied pieces."""

# ------------------------------------------------------------------------ multiaddr
_component = st.builds(
    lambda proto, value: (
        encode_uvarint(proto.code)
        + (encode_uvarint(len(value)) + value if proto.size < 0 else value[: proto.size // 8])
    ),
    st.sampled_from(PROTOCOLS),
    st.binary(max_size=40),
)
multiaddr_bytes = st.lists(_component, max_size=5).map(b"".join)
"""Known protocol codes (and length prefixes) in front of hostile values."""

multiaddr_strings = st.lists(
    st.tuples(st.sampled_from([p.name for p in PROTOCOLS] + ["ipfs"]), st.text(max_size=30)),
    max_size=5,
).map(lambda parts: "".join(f"/{name}/{value}" for name, value in parts).encode())
"""``/<known protocol>/<hostile text>`` sequences (as UTF-8 bytes)."""

# ----------------------------------------------------------------------- multistream
_ms_message = st.one_of(
    st.binary(max_size=40).map(lambda b: encode_uvarint(len(b) + 1) + b + b"\n"),
    st.sampled_from([b"/multistream/1.0.0", b"na", b"ls", b"/ipfs/ping/1.0.0", b"/echo/1.0.0"]).map(
        lambda b: encode_uvarint(len(b) + 1) + b + b"\n"
    ),
)
multistream_sessions = st.builds(
    split, st.lists(_ms_message, max_size=8).map(b"".join), st.integers(0, 255)
)
"""Well-framed multistream messages with hostile payloads, in varied pieces."""

# ------------------------------------------------------------------------- WebSocket


def _ws_frame(head: int, masked: bool, length_form: int, payload: bytes) -> bytes:
    n = len(payload)
    bit = 0x80 if masked else 0
    if length_form == 0 and n < 126:
        out = bytes([head, bit | n])
    elif length_form == 1:
        out = bytes([head, bit | 126]) + struct.pack("!H", n)
    else:
        out = bytes([head, bit | 127]) + struct.pack("!Q", n)
    if masked:
        key = b"\x11\x22\x33\x44"
        payload = key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return out + payload


def ws_frames(masked: bool) -> st.SearchStrategy[bytes]:
    """Frames with any FIN/RSV/opcode bits, length encodings and payloads, in pieces."""
    frame = st.builds(
        _ws_frame,
        st.one_of(st.sampled_from([0x81, 0x82, 0x02, 0x80, 0x88, 0x89, 0x8A]), st.integers(0, 255)),
        st.one_of(st.just(masked), st.booleans()),
        st.integers(0, 2),
        st.binary(max_size=60),
    )
    return st.builds(split, st.lists(frame, max_size=6).map(b"".join), st.integers(0, 255))


# ------------------------------------------------------------------ XMPP, mDNS, misc
xmpp_attributes = st.lists(st.text(max_size=60), min_size=1, max_size=7).map(
    lambda values: b"\x00".join(v.encode("utf-8", "surrogatepass") for v in values)
)
"""NUL-separated attribute values for ``xmpp_presence_attrs``."""

mdns_records = st.lists(
    st.one_of(
        st.text(max_size=80).map(lambda t: b"dnsaddr=" + t.encode("utf-8", "surrogatepass")),
        multiaddr_strings.map(lambda s: b"dnsaddr=" + s),
        st.binary(max_size=60),
    ),
    max_size=6,
).map(lambda strings: b"".join(bytes([min(len(s), 255)]) + s[:255] for s in strings))
"""TXT rdata of ``dnsaddr=`` strings with hostile values."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)

length_prefixed_bodies = st.builds(
    lambda length, body, control: split(encode_uvarint(length) + body, control),
    st.one_of(st.integers(0, 80), st.integers(0, 2**63 - 1)),
    st.binary(max_size=80),
    st.integers(0, 255),
)

perf_requests = st.builds(
    lambda size, upload: whole(struct.pack(">Q", size) + upload),
    st.one_of(st.integers(0, 1 << 20), st.integers(0, 2**64 - 1)),
    st.binary(max_size=40),
)


_header_names = st.sampled_from(
    [
        b"Sec-WebSocket-Extensions",
        b"Sec-WebSocket-Protocol",
        b"Sec-WebSocket-Version",
        b"Sec-WebSocket-Accept",
        b"Content-Length",
        b"Transfer-Encoding",
        b"Connection",
        b"Upgrade",
        b"X-Other",
    ]
)
_header_values = st.one_of(
    st.sampled_from([b"permessage-deflate", b"permessage-deflate; server_max_window_bits=99",
                     b"chunked", b"close", b"13", b"x, y", b"", b"\xff\xfe"]),
    st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)  # fmt: skip
ws_upgrade_answers = st.builds(
    lambda headers, frames: b"\r\n".join(n + b": " + v for n, v in headers) + b"\r\n\r\n" + frames,
    st.lists(st.tuples(_header_names, _header_values), max_size=4),
    st.binary(max_size=30),
)  # fmt: skip
"""Header lines added to a valid 101 answer, then frame bytes (``ws_client_upgrade``)."""
