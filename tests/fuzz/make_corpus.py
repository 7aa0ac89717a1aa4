"""Write the seed corpus: ``tests/fuzz/corpus/<target>/<name>`` (small valid and near-valid
inputs per target, plus inputs that once crashed a decoder). Deterministic: running it again
rewrites the same files. Run from the repository root::

    .venv/bin/python -m tests.fuzz.make_corpus
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree as ET

from cryptography.hazmat.primitives.asymmetric import ec, x25519

from p2pstack.identity import Identity, PrivateKey
from p2pstack.identity.key_ecdsa import EcdsaPrivateKey, Secp256k1PrivateKey
from p2pstack.identity.record import (
    PEER_RECORD_DOMAIN,
    PEER_RECORD_PAYLOAD_TYPE,
    PeerRecord,
    seal_peer_record,
)
from p2pstack.multiaddr import Multiaddr
from p2pstack.multistream.messages import PROTOCOL_ID, encode_ls_response, encode_message
from p2pstack.muxers.yamux.frames import HEADER
from p2pstack.protocols.discovery.mdns.records import build_txt
from p2pstack.protocols.discovery.xmpp.presence import P2PInfo, build_payload
from p2pstack.protocols.identify.codec import encode_identify
from p2pstack.protocols.relay.envelope import make_voucher, seal
from p2pstack.protocols.relay.messages import (
    HopMessage,
    HopType,
    Limit,
    Peer,
    Reservation,
    StopMessage,
    StopType,
    encode_hop,
    encode_stop,
)
from p2pstack.protocols.request_response.framing import REJECTION
from p2pstack.security.noise.cipher import FrameEncryptor
from p2pstack.security.noise.framing import encode_frame
from p2pstack.security.noise.payload import encode_payload
from p2pstack.transports.quic.retry import RetryTokens
from p2pstack.varint import encode_uvarint, length_prefixed

from .registry import split, whole
from .targets_codecs import ALICE, BOB
from .targets_quic import TOKEN_CLIENT, TOKEN_RETRY_CID

CORPUS = Path(__file__).parent / "corpus"

# Inputs that made a decoder raise something else than a StackError (regression seeds).
UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
"""A client upgrade request with a fixed key (RFC 6455's sample nonce), so the seeds repeat."""

KNOWN_CRASHES = {
    # identify: a protocols entry that is not UTF-8 came back as bytes -> TypeError.
    "identify": {"non-utf8-protocol": whole(base64.b64decode("GgpBYJafn2BgYGBg"))},
    # Jid.parse: a lone surrogate (decoded with surrogateescape) -> UnicodeEncodeError.
    "xmpp_jid": {"lone-surrogate": b"a\xed\xa0\x80@b/c"},
    # metrics endpoint: prometheus-client's choose_encoder raised TypeError on a version it
    # cannot compare, and echoed non-ASCII Accept parameters into the Content-Type.
    "metrics_http": {
        "bad-openmetrics-version": b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-"
        b"text; version=1...0\r\n\r\n",
        "non-ascii-accept-parameter": b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-"
        b"text; version=1.0.0; escaping=\xe9\xe9\r\n\r\n",
    },
}

ADDRS = [
    "/ip4/127.0.0.1/tcp/4001",
    "/ip6/::1/tcp/4001/ws",
    f"/ip4/1.2.3.4/tcp/1/p2p/{ALICE.peer_id}/p2p-circuit/p2p/{BOB.peer_id}",
    "/dns4/example.local/tcp/443/wss",
    "/ip6zone/eth0/ip6/fe80::1/udp/4001/quic-v1",
    "/memory/42",
    "/ip4/10.0.0.1/udp/1/quic-v1/webtransport/certhash/uEiAkH5a4DK6Fq6z1Sm2V4Gf8tFTkIzD1Qml1gH8VrOxH6g",
    "/dns/example.com/tcp/80/http/http-path/a%2Fb",
]


def _mask(payload: bytes, key: bytes = b"\x01\x02\x03\x04") -> bytes:
    return key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def _ws_frame(opcode: int, payload: bytes, *, masked: bool, fin: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    else:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    return head + (_mask(payload) if masked else payload)


def _ws_frames(masked: bool) -> dict[str, bytes]:
    close = struct.pack("!H", 1000) + b"bye"
    return {
        "binary": _ws_frame(2, b"hello", masked=masked),
        "text": _ws_frame(1, "héllo".encode(), masked=masked),
        "fragments": _ws_frame(2, b"ab", masked=masked, fin=False)
        + _ws_frame(0, b"cd", masked=masked),
        "ping-close": _ws_frame(9, b"p", masked=masked) + _ws_frame(8, close, masked=masked),
        "close-error": _ws_frame(8, struct.pack("!H", 4000), masked=masked),
        "big": _ws_frame(2, bytes(300), masked=masked),
    }


def _yamux() -> dict[str, bytes]:
    syn = HEADER.pack(0, 1, 0x1, 1, 0)
    data = HEADER.pack(0, 0, 0, 1, 5) + b"hello"
    return {
        "open-data-fin": syn + data + HEADER.pack(0, 0, 0x4, 1, 0),
        "syn-on-data": HEADER.pack(0, 0, 0x1, 3, 3) + b"abc",
        "window-update": syn + HEADER.pack(0, 1, 0, 1, 1 << 20),
        "ping": HEADER.pack(0, 2, 0x1, 0, 7) + HEADER.pack(0, 2, 0x2, 0, 0),
        "go-away": HEADER.pack(0, 3, 0, 0, 2),
        "rst": syn + HEADER.pack(0, 1, 0x8, 1, 0),
        "our-stream": HEADER.pack(0, 1, 0x2, 2, 0) + HEADER.pack(0, 0, 0, 2, 2) + b"hi",
    }


def _quic_datagrams() -> dict[str, bytes]:
    """Near-valid QUIC v1 long and short headers (one datagram each: control byte 0)."""
    dcid = b"\x01" * 8
    initial = b"\xc0" + (1).to_bytes(4, "big") + b"\x08" + dcid + b"\x08" + dcid + b"\x00"
    return {
        "initial": b"\x00" + initial + b"\x44\xd0" + bytes(64),
        "initial-v2": b"\x00\xc0" + (0x6B3343CF).to_bytes(4, "big") + initial[5:] + bytes(32),
        "handshake": b"\x00\xe0" + (1).to_bytes(4, "big") + b"\x08" + dcid + b"\x00" + bytes(40),
        "short": b"\x00\x40" + dcid + bytes(40),
        "version-negotiation": b"\x00\x80" + bytes(4) + b"\x08" + dcid + b"\x00" + bytes(8),
        "two-initials": b"\xa0" + initial + initial,
    }


def _quic_retry_tokens() -> dict[str, bytes]:
    """Tokens as sent (control byte 0) and plaintexts to seal (control byte 1)."""
    tokens = RetryTokens(bytes(16))

    def seal(plaintext: bytes, retry_cid: bytes = TOKEN_RETRY_CID) -> bytes:
        nonce = bytes(12)  # fixed: the seeds repeat
        return tokens.seal(plaintext, address=TOKEN_CLIENT, retry_cid=retry_cid, nonce=nonce)

    valid = struct.pack("!d", 5.0) + b"\x08" + bytes(range(8))
    return {
        "valid": b"\x00" + seal(valid),
        "expired": b"\x00" + seal(struct.pack("!d", -1.0) + b"\x00"),
        "other-cid": b"\x00" + seal(valid, bytes(7)),
        "garbage": b"\x00\x01" + bytes(60),
        "sealed-valid": b"\x01" + valid,
        "sealed-bad-length": b"\x01" + valid[:8] + b"\x09" + valid[9:],
        "sealed-short": b"\x01" + bytes(5),
    }


def _quic_long_headers() -> dict[str, bytes]:
    dcid = b"\x01" * 8
    return {
        "v1-initial": b"\xc0" + (1).to_bytes(4, "big") + b"\x08" + dcid + b"\x00" + bytes(8),
        "other-version-long-ids": b"\xc0\x1a\x2a\x3a\x4a\x1e" + bytes(30) + b"\xff" + bytes(255),
        "truncated-dcid": b"\xc0\x00\x00\x00\x01\x14" + bytes(5),
        "short-header": b"\x40" + dcid,
    }


def _multistream() -> dict[str, bytes]:
    header = encode_message(PROTOCOL_ID)
    return {
        "propose": header + encode_message("/ipfs/ping/1.0.0") + b"trailing",
        "propose-unknown": header + encode_message("/nope/1.0.0") + encode_message("/echo/1.0.0"),
        "ls": header + encode_message("ls"),
        "na": header + encode_message("na"),
        "ls-answer": header + encode_ls_response(["/a/1", "/b/2"]),
    }


def _noise_msg1() -> bytes:
    ephemeral = x25519.X25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    return encode_frame(ephemeral.public_bytes_raw())


def _identities() -> list[Identity]:
    """One identity per key type, all fixed (the RSA key is the spec's test vector)."""
    rsa_hex = (
        Path(__file__).parents[1] / "unit" / "identity" / "data" / "rsa_private.hex"
    ).read_text()
    return [
        ALICE,
        Identity.from_private_key(Secp256k1PrivateKey.from_raw(bytes(31) + b"\x01")),
        Identity.from_private_key(EcdsaPrivateKey(ec.derive_private_key(7, ec.SECP256R1()))),
        Identity.from_private_key(PrivateKey.from_protobuf(bytes.fromhex(rsa_hex.strip()))),
    ]


def seeds() -> dict[str, dict[str, bytes]]:
    """Every target's seeds by name."""
    addrs = [Multiaddr(a) for a in ADDRS]
    ids = _identities()
    static = bytes(range(1, 33))
    payload = encode_payload(ALICE, static)
    hop = [
        HopMessage(HopType.RESERVE),
        HopMessage(HopType.CONNECT, peer=Peer(BOB.peer_id, tuple(addrs[:2]))),
        HopMessage(
            HopType.STATUS,
            reservation=Reservation(2**40, tuple(addrs[:1]), make_voucher(ALICE, BOB.peer_id, 9)),
            limit=Limit(duration=120, data=1 << 17),
            status=100,
        ),
    ]
    stop = [
        StopMessage(StopType.CONNECT, peer=Peer(ALICE.peer_id), limit=Limit(duration=1)),
        StopMessage(StopType.STATUS, status=270),
    ]
    identify = encode_identify(
        public_key=ALICE.public_key.to_protobuf(),
        listen_addrs=addrs,
        protocols=["/ipfs/ping/1.0.0", "/ipfs/id/1.0.0", "not-a-protocol"],
        observed_addr=addrs[0],
        agent_version="p2pstack/fuzz",
        protocol_version="ipfs/0.1.0",
    )
    encryptor = FrameEncryptor(bytes(32))
    presence = b"".join(
        ET.tostring(e)
        for e in build_payload(
            P2PInfo(ext_ip="1.2.3.4", ext_port=4001, loc_ip="10.0.0.2", loc_port=4001),
            ALICE.public_key.raw_bytes(),
            [Multiaddr(f"/ip4/7.7.7.7/tcp/4001/p2p/{ALICE.peer_id}/p2p-circuit")],
        )
    )
    pub = base64.b64encode(ALICE.public_key.raw_bytes())
    return {
        "metrics_http": {
            "metrics": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "openmetrics": b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; "
            b"version=1.0.0\r\n\r\n",
            "head-healthz": b"HEAD /healthz?x=1 HTTP/1.1\r\n\r\n",
            "post": b"POST / HTTP/1.0\r\n\r\n",
            "bare": b"\r\n\r\n",
        },
        "varint": {
            "small": b"\x05",
            "max": encode_uvarint(2**63 - 1),
            "non-minimal": b"\x80\x00",
            "too-long": b"\xff" * 10,
            "prefixed": length_prefixed(b"body"),
        },
        "multiaddr_bytes": {f"addr{i}": a.to_bytes() for i, a in enumerate(addrs)},
        "multiaddr_string": {f"addr{i}": str(a).encode() for i, a in enumerate(addrs)},
        "public_key": {i.public_key.key_type.name: i.public_key.to_protobuf() for i in ids},
        "private_key": {i.public_key.key_type.name: i.private_key.to_protobuf() for i in ids},
        "peer_id_bytes": {i.public_key.key_type.name: i.peer_id.multihash for i in ids},
        "peer_id_string": {
            "base58": str(ALICE.peer_id).encode(),
            "cid": ALICE.peer_id.to_cid().encode(),
            "rsa-base58": str(ids[3].peer_id).encode(),
        },
        "identify": {"valid": whole(identify), "split": split(identify, 0xA7)},
        "relay_hop": {f"hop{i}": encode_hop(m) for i, m in enumerate(hop)},
        "relay_stop": {f"stop{i}": encode_stop(m) for i, m in enumerate(stop)},
        "relay_voucher": {"voucher": make_voucher(ALICE, BOB.peer_id, 2**40)},
        "signed_envelope": {
            "voucher": make_voucher(ALICE, BOB.peer_id, 1),
            "empty-domain": seal(BOB, "", b"", b"payload").to_bytes(),
        },
        "peer_record": {
            "valid": seal_peer_record(ALICE, addrs[:2], 1_700_000_000_000_000_000).data,
            "no-addrs": seal_peer_record(ALICE, [], 1).data,
            "signed-by-bob": seal(
                BOB,
                PEER_RECORD_DOMAIN,
                PEER_RECORD_PAYLOAD_TYPE,
                PeerRecord(ALICE.peer_id, 2, tuple(addrs[:1])).to_bytes(),
            ).to_bytes(),
            "bob-s-own": seal_peer_record(BOB, addrs[:1], 3).data,
            "payload-only": PeerRecord(ALICE.peer_id, 4, tuple(addrs)).to_bytes(),
        },
        "rr_codecs": {
            "request": json.dumps({"name": "x", "count": 3}).encode(),
            "empty": b"{}",
            "nested": b"[" * 50 + b"]" * 50,
            "big-number": b"1" * 5000,
        },
        "mdns_txt": {
            "valid": build_txt([addrs[0], addrs[1]], ALICE.peer_id).rdata,
            "two-peers": build_txt([addrs[0]], ALICE.peer_id).rdata
            + build_txt([addrs[0]], BOB.peer_id).rdata,
            "other-keys": b"\x07foo=bar\x0bdnsaddr2=/x",
        },
        "xmpp_presence_xml": {"payload": presence},
        "xmpp_jid": {
            "full": "Alice@Example.ORG/Phone-é".encode(),
            "bare": b"example.org",
            "bad": b"@example.org/",
        },
        "xmpp_presence_attrs": {
            "valid": b"1.2.3.4\x004001\x00::ffff:10.0.0.1\x004001\x00" + pub + b"\x00" + pub
        },
        "upnp": {
            "public": b"192.168.1.2\x0093.184.216.34\x00192.168.1.2\x00\x0f\xa1",
            "private": b"10.0.0.2\x0010.0.0.1\x00\x00\x00",
        },
        "multistream": {k: whole(v) for k, v in _multistream().items()}
        | {"propose-split": split(_multistream()["propose"], 0x31)},
        "multistream_streams": {k: whole(v) for k, v in _multistream().items()},
        "noise_responder": {"msg1": whole(_noise_msg1()), "msg1-split": split(_noise_msg1(), 0x21)},
        "noise_initiator": {"short": whole(encode_frame(bytes(80))), "long": whole(_noise_msg1())},
        "noise_msg2_payload": {"valid": payload, "rsa": encode_payload(ids[3], static)},
        "noise_msg3_payload": {"valid": payload, "rsa": encode_payload(ids[3], static)},
        "noise_payload": {"valid": payload},
        "noise_stream": {"text": whole(b"hello world"), "split": split(bytes(300), 0x77)},
        "noise_transport": {"frames": split(bytes(encryptor.encrypt(b"hello" * 10)), 0x5F)},
        "yamux": {k: whole(v) for k, v in _yamux().items()}
        | {"split": split(_yamux()["open-data-fin"], 0x35)},
        "rr_framing": {
            "message": whole(length_prefixed(b'{"a":1}')),
            "rejection": split(REJECTION, 1),
            "empty": whole(b"\x00"),
        },
        "ping": {"one": whole(bytes(range(32))), "partial": whole(bytes(40))},
        "perf": {"small": whole(struct.pack(">Q", 10) + b"upload"), "huge": whole(b"\xff" * 8)},
        "relay_wire": {f"hop{i}": whole(length_prefixed(encode_hop(m))) for i, m in enumerate(hop)},
        "ws_server": {k: whole(UPGRADE_REQUEST + v) for k, v in _ws_frames(masked=True).items()},
        "ws_server_frames": {k: whole(v) for k, v in _ws_frames(masked=True).items()},
        "ws_client": {
            "refused": whole(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
            "bad-accept": whole(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
                b"websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: x\r\n\r\n"
            ),
        },
        "ws_client_frames": {k: whole(v) for k, v in _ws_frames(masked=False).items()},
        "quic_datagrams": _quic_datagrams(),
        "quic_retry_token": _quic_retry_tokens(),
        "quic_long_header": _quic_long_headers(),
        "ws_client_upgrade": {
            "deflate": b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            + _ws_frames(masked=False)["binary"],
            "protocol": b"Sec-WebSocket-Protocol: x\r\nX-Y: z\r\n\r\n",
            "frames-only": b"\r\n\r\n" + _ws_frames(masked=False)["ping-close"],
        },
    }


def generated() -> dict[str, dict[str, bytes]]:
    """Every seed this module makes, by target (the known crashes included)."""
    from .targets import targets_dcutr

    all_seeds = seeds()
    all_seeds["dcutr"] = targets_dcutr.seeds()
    for name, crashes in KNOWN_CRASHES.items():
        all_seeds[name] |= {f"crash-{k}": v for k, v in crashes.items()}
    return all_seeds


def write(corpus: Path = CORPUS) -> Iterable[Path]:
    """(Re)write the generated targets' folders; return the files written.

    A target whose seeds are kept as files (made once from random keys, e.g. the TLS
    certificates, or by hand) keeps its folder untouched; a target with neither fails.
    """
    from .targets import TARGETS

    all_seeds = generated()
    missing = [n for n in TARGETS if n not in all_seeds and not any((corpus / n).glob("*"))]
    if missing:
        raise SystemExit(f"no seeds for: {', '.join(sorted(missing))}")
    written = []
    for target_name, entries in sorted(all_seeds.items()):
        folder = corpus / target_name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for entry, data in sorted(entries.items()):
            path = folder / entry
            path.write_bytes(data)
            written.append(path)
    return written


if __name__ == "__main__":
    files = list(write())
    print(f"wrote {len(files)} seed files under {CORPUS}")
