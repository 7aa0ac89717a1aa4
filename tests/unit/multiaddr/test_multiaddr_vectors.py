"""Spec vectors from docs/wire.md section 2, both directions, and rejection cases."""

from __future__ import annotations

import pytest

from p2pstack.errors import DecodeError, MultiaddrError
from p2pstack.multiaddr import MAX_BINARY_SIZE, Multiaddr

ED25519_PEER = "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"
SHA256_PEER = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
SHA256_PEER_CID = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"

VECTORS = [
    ("/ip4/127.0.0.1/udp/1234", "047f000001910204d2"),
    ("/ip4/127.0.0.1/tcp/4321", "047f0000010610e1"),
    ("/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"),
    ("/ip4/192.0.2.42/tcp/443", "04c000022a0601bb"),
    ("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1"),
    ("/ip4/127.0.0.1/tcp/4001/ws", "047f000001060fa1dd03"),
    ("/ip6/::1/udp/4001/quic-v1", "29" + "00" * 15 + "01" + "91020fa1cd03"),
    ("/dns4/example.com/tcp/443/wss", "360b6578616d706c652e636f6d0601bbde03"),
    (
        "/ip4/192.0.2.0/tcp/1234/tls/sni/foo.example.com/ws",
        "04c00002000604d2c003c1030f666f6f2e6578616d706c652e636f6ddd03",
    ),
    ("/p2p-circuit", "a202"),
    (
        f"/p2p/{SHA256_PEER}",
        "a5032212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9",
    ),
    (
        f"/ip4/127.0.0.1/tcp/4001/p2p/{ED25519_PEER}",
        "047f000001060fa1a503260024080112"
        "20a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b9",
    ),
    # Codes from the wire.md table (encodings computed from the table rules).
    ("/ip6zone/eth0/ip6/fe80::1/tcp/80", "2a0465746830" + "29fe80" + "00" * 13 + "01" + "060050"),
    ("/dns/a.b/tcp/1", "3503612e62060001"),
    ("/dns6/x/udp/0", "3701789102" + "0000"),
    ("/dnsaddr/bootstrap.libp2p.io", "3813" + b"bootstrap.libp2p.io".hex()),
    ("/ip4/1.2.3.4/tcp/1/noise", "0401020304060001c603"),
    ("/ip4/1.2.3.4/udp/1/quic", "04010203049102" + "0001" + "cc03"),
    (
        "/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/uEiAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw",
        "04010203049102" + "0001" + "cd03d103" + "d20322" + "1220" + bytes(range(32)).hex(),
    ),
    ("/ip4/1.2.3.4/tcp/80/http/http-path/a%2Fb%20c", "0401020304060050e003e10305612f622063"),
    ("/memory/42", "8906" + "000000000000002a"),
    ("/ip6/::ffff:1.2.3.4/tcp/1", "29" + "00" * 10 + "ffff01020304" + "060001"),
]


@pytest.mark.parametrize(("text", "hexbytes"), VECTORS)
def test_string_to_bytes(text: str, hexbytes: str) -> None:
    assert Multiaddr(text).to_bytes().hex() == hexbytes


@pytest.mark.parametrize(("text", "hexbytes"), VECTORS)
def test_bytes_to_string(text: str, hexbytes: str) -> None:
    ma = Multiaddr.from_bytes(bytes.fromhex(hexbytes))
    assert str(ma) == text
    assert ma == Multiaddr.from_string(text)
    assert bytes(ma) == bytes.fromhex(hexbytes)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        (f"/ipfs/{SHA256_PEER}", f"/p2p/{SHA256_PEER}"),
        (f"/p2p/{SHA256_PEER_CID}", f"/p2p/{SHA256_PEER}"),
        ("/ip6/0:0:0:0:0:0:0:1/tcp/1", "/ip6/::1/tcp/1"),
        ("/ip6/::FFFF:102:304/tcp/1", "/ip6/::ffff:1.2.3.4/tcp/1"),
        ("/ip6/2001:DB8:0:0:1:0:0:1/udp/5", "/ip6/2001:db8::1:0:0:1/udp/5"),
        ("/ip4/1.2.3.4/tcp/00080/", "/ip4/1.2.3.4/tcp/80"),
        ("/http-path/%7efoo%3f", "/http-path/~foo%3F"),
        ("/http-path/caf\u00e9", "/http-path/caf%C3%A9"),
        ("/certhash/f1220" + "00" * 32, "/certhash/uEiA" + "A" * 42 + "A"),
        ("/certhash/mEiA" + "A" * 43, "/certhash/uEiA" + "A" * 43),
        ("/certhash/zQmNLei78zWmzUdbeRB3CiUfAizWUrbeeZh5K1rhAQKCh51", None),
        ("", ""),
        ("/", ""),
    ],
)
def test_canonical_string_forms(given: str, canonical: str | None) -> None:
    ma = Multiaddr(given)
    if canonical is not None:
        assert str(ma) == canonical
    assert Multiaddr(str(ma)) == ma


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/ip4/1.2.3.4/tcp/70000", "invalid port '70000' in /ip4/1.2.3.4/tcp/70000"),
        ("/ip4/1.2.3.4/tcp/-1", "invalid port '-1'"),
        ("/ip4/1.2.3.4/tcp/+80", "invalid port '+80'"),
        ("/ip4/1.2.3.4/tcp/8_0", "invalid port '8_0'"),
        ("/ip4/1.2.3.4/tcp/\u0661", "invalid port"),
        ("/ip4/1.2.3.4/tcp", "missing value for tcp"),
        ("/ip4/256.0.0.1", "invalid ip4 address '256.0.0.1'"),
        ("/ip4/01.2.3.4", "invalid ip4 address"),
        ("/ip4/::1", "invalid ip4 address"),
        ("/ip6/1.2.3.4", "invalid ip6 address"),
        ("/ip6/fe80::1%eth0", "/ip6zone"),
        ("/ip6zone//ip6/::1", "invalid ip6zone name ''"),
        ("/foo/bar", "unknown protocol 'foo' in /foo/bar"),
        ("ip4/1.2.3.4", "must start with '/'"),
        ("//ip4/1.2.3.4", "empty protocol name"),
        ("/ip4/1.2.3.4//tcp/1", "empty protocol name"),
        ("/dns4/", "missing value for dns4"),
        ("/dns4//tcp/1", "invalid dns4 name ''"),
        ("/sni/", "missing value for sni"),
        ("/p2p/QmNotAPeer", "invalid peer id 'QmNotAPeer'"),
        ("/p2p/bafkqaaa", "invalid peer id"),
        ("/certhash/xabc", "unsupported or missing multibase"),
        ("/certhash/u", "not a well-formed multihash"),
        ("/certhash/uEiA", "not a well-formed multihash"),
        ("/certhash/u!!", "invalid characters"),
        ("/certhash/f123", "invalid characters"),
        ("/http-path/%", "invalid http path"),
        ("/http-path/%zz", "invalid http path"),
        ("/http-path/%2", "invalid http path"),
        ("/memory/18446744073709551616", "invalid memory id"),
        ("/ip4/1.2.3.4/tcp/1/ws/x", "unknown protocol 'x'"),
        ("/dns/\ud800/tcp/1", "invalid dns name"),
    ],
)
def test_bad_strings_name_the_component(text: str, fragment: str) -> None:
    with pytest.raises(MultiaddrError) as info:
        Multiaddr(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, DecodeError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("hexbytes", "fragment"),
    [
        ("04", "truncated value in component 0 (ip4)"),
        ("047f0000", "truncated value"),
        ("047f00000106", "truncated value in component 1 (tcp)"),
        ("a5", "truncated varint"),
        ("8100", "malformed varint"),
        ("ff" * 10, "malformed varint"),
        ("a503", "truncated varint in value length"),
        ("a50322", "truncated value"),
        ("a50300", "invalid peer id"),
        ("a5030401020304", "invalid peer id"),
        ("07", "unknown protocol code 0x7"),
        ("3500", "invalid dns name b''"),
        ("3501" + "2f", "must not contain '/'"),
        ("3501" + "ff", "invalid dns name"),
        ("2a012f", "invalid ip6zone name"),
        ("d20301ff", "not a well-formed multihash"),
        ("e10300", "invalid http path"),
    ],
)
def test_bad_bytes_name_the_component(hexbytes: str, fragment: str) -> None:
    with pytest.raises(MultiaddrError) as info:
        Multiaddr.from_bytes(bytes.fromhex(hexbytes))
    assert fragment in str(info.value)


def test_size_limits() -> None:
    ws = Multiaddr("/ws").to_bytes()
    at_limit = ws * (MAX_BINARY_SIZE // len(ws))
    assert Multiaddr(at_limit).to_bytes() == at_limit
    assert Multiaddr(str(Multiaddr(at_limit))) == Multiaddr(at_limit)
    with pytest.raises(MultiaddrError, match="exceeds"):
        Multiaddr(at_limit + ws)
    with pytest.raises(MultiaddrError, match="exceeds"):
        Multiaddr("/ws" * (MAX_BINARY_SIZE // 2 + 1))
    with pytest.raises(MultiaddrError, match="too long"):
        Multiaddr("/" + "x" * 10_000)
    with pytest.raises(MultiaddrError, match="exceeds"):
        Multiaddr(at_limit).encapsulate("/ws")


def test_wrong_types() -> None:
    with pytest.raises(TypeError):
        Multiaddr(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Multiaddr.from_string(b"/ws")  # type: ignore[arg-type]
