"""Identity: construction, signing and key files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from p2pstack.errors import InvalidKeyError, KeyFileError
from p2pstack.identity import Ed25519PrivateKey, Identity, KeyType, PrivateKey

SPEC_SEED = bytes.fromhex("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d")
SPEC_PEER = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
SPEC_PRIVATE = bytes.fromhex(
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
    "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)


def test_from_seed_matches_spec_vector() -> None:
    ident = Identity.from_ed25519_seed(SPEC_SEED)
    assert str(ident.peer_id) == SPEC_PEER
    assert ident.public_key == ident.private_key.public_key
    assert ident.public_key.verify(b"data", ident.sign(b"data"))
    assert ident == Identity.from_private_key(PrivateKey.from_protobuf(SPEC_PRIVATE))
    assert SPEC_PEER in repr(ident)
    with pytest.raises(InvalidKeyError):
        Identity.from_ed25519_seed(b"short")


def test_generate_defaults_to_ed25519() -> None:
    a, b = Identity.generate(), Identity.generate()
    assert isinstance(a.private_key, Ed25519PrivateKey)
    assert a.peer_id != b.peer_id
    assert str(a.peer_id).startswith("12D3KooW")
    assert Identity.generate(KeyType.SECP256K1).private_key.key_type is KeyType.SECP256K1


def test_from_private_key_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        Identity(b"not a key")  # type: ignore[arg-type]


@pytest.mark.parametrize("kt", [KeyType.ED25519, KeyType.SECP256K1, KeyType.ECDSA])
def test_save_and_load(tmp_path: Path, kt: KeyType) -> None:
    ident = Identity.generate(kt)
    path = tmp_path / "node.key"
    ident.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == ident.private_key.to_protobuf()
    loaded = Identity.load(str(path))
    assert loaded == ident
    assert loaded.peer_id == ident.peer_id
    assert [p.name for p in tmp_path.iterdir()] == ["node.key"]  # no temp files left


def test_save_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    ident = Identity.from_ed25519_seed(SPEC_SEED)
    ident.save(path)
    assert path.read_bytes() == SPEC_PRIVATE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_spec_vector_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "go.key"
    path.write_bytes(SPEC_PRIVATE)
    os.chmod(path, 0o600)
    assert str(Identity.load(path).peer_id) == SPEC_PEER


def test_load_or_create(tmp_path: Path) -> None:
    path = tmp_path / "id.key"
    created = Identity.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load_or_create(path) == created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id.key"]


def test_load_or_create_does_not_overwrite_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "id.key"
    path.write_bytes(b"garbage")
    with pytest.raises(KeyFileError):
        Identity.load_or_create(path)
    assert path.read_bytes() == b"garbage"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (SPEC_PRIVATE[:40], "not a libp2p private key"),  # truncated
        (b"\x00\x01garbage", "not a libp2p private key"),
        (b"\x08\x09\x12\x02ab", "not a libp2p private key"),  # unknown key type
        (
            bytes.fromhex(
                "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
            ),
            "not a libp2p private key",
        ),  # a public key
        (b"-----BEGIN PRIVATE KEY-----\n", "not a libp2p private key"),
        (b"\x08\x01" * 40000, "larger than"),
    ],
)
def test_bad_key_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=message) as info:
        Identity.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    with pytest.raises(KeyFileError, match="does not exist") as info:
        Identity.load(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(KeyFileError, match=r"cannot read|not a regular file"):
        Identity.load(tmp_path)
    fifo = tmp_path / "fifo.key"
    os.mkfifo(fifo)
    with pytest.raises(KeyFileError, match="not a regular file"):
        Identity.load(fifo)
    if os.geteuid() != 0:  # root reads anything
        path = tmp_path / "locked.key"
        Identity.generate().save(path)
        os.chmod(path, 0)
        with pytest.raises(KeyFileError, match="cannot read"):
            Identity.load(path)


def test_save_into_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "id.key"
    with pytest.raises(KeyFileError, match="cannot write") as info:
        Identity.generate().save(path)
    assert str(path) in str(info.value)


def test_world_readable_file_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "open.key"
    path.write_bytes(SPEC_PRIVATE)
    os.chmod(path, 0o644)
    with caplog.at_level("WARNING", logger="p2pstack.identity"):
        Identity.load(path)
    assert "accessible by other users" in caplog.text
