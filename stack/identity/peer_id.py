"""Peer ids: multihashes of a serialized libp2p ``PublicKey`` protobuf.

Text forms: legacy base58btc (``12D3KooW...``, ``Qm...``, ``16Uiu2...``) and CIDv1 with codec
libp2p-key (``bafz...``). Both parse; :meth:`PeerId.__str__` prints base58btc.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Final

import base58

from p2pstack.errors import PeerIdError, VarintError
from p2pstack.varint import decode_uvarint, encode_uvarint

MH_IDENTITY: Final = 0x00
MH_SHA2_256: Final = 0x12
CID_V1: Final = 0x01
CODEC_LIBP2P_KEY: Final = 0x72
MAX_INLINE_KEY_LEN: Final = 42
"""Serialized public keys up to this size are inlined (identity multihash), larger ones hashed."""
MAX_PEER_ID_LEN: Final = 128
"""A sanity bound on the binary form; real ids are 34 to 44 bytes."""


@dataclass(frozen=True, slots=True, order=True)
class PeerId:
    """An immutable, hashable, ordered peer id holding its binary multihash."""

    multihash: bytes
    _base58: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _validate_multihash(self.multihash)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> PeerId:
        """Parse the binary multihash form. Raises :class:`PeerIdError`."""
        return cls(bytes(data))

    @classmethod
    def from_string(cls, text: str) -> PeerId:
        """Parse base58btc (``1...``/``Qm...``) or a CIDv1 string. Raises :class:`PeerIdError`."""
        if not isinstance(text, str) or not text:
            raise PeerIdError("empty peer id")
        if text[0] == "1" or text.startswith("Qm"):
            try:
                raw = base58.b58decode(text)
            except ValueError as exc:
                raise PeerIdError(f"invalid base58 in peer id {text!r}") from exc
            return cls.from_bytes(raw)
        return cls.from_bytes(_decode_cid(text))

    @classmethod
    def from_public_key_bytes(cls, serialized_public_key: bytes) -> PeerId:
        """Derive the id of a serialized ``PublicKey`` protobuf (identity or sha256 multihash)."""
        if len(serialized_public_key) <= MAX_INLINE_KEY_LEN:
            mh = bytes((MH_IDENTITY,)) + encode_uvarint(len(serialized_public_key))
            return cls(mh + serialized_public_key)
        return cls(bytes((MH_SHA2_256, 32)) + hashlib.sha256(serialized_public_key).digest())

    def inline_public_key(self) -> bytes | None:
        """The serialized public key embedded in an identity multihash, else ``None``."""
        if self.multihash[0] != MH_IDENTITY:
            return None
        head = decode_uvarint(self.multihash, 1)
        assert head is not None  # validated in __post_init__
        return self.multihash[head[1] :]

    def to_base58(self) -> str:
        """The legacy base58btc text form (computed once: ids are logged and keyed often)."""
        text = self._base58
        if text is None:
            text = base58.b58encode(self.multihash).decode("ascii")
            object.__setattr__(self, "_base58", text)
        return text

    def to_cid(self) -> str:
        """The CIDv1 text form (multibase base32 lower, codec libp2p-key)."""
        raw = bytes((CID_V1, CODEC_LIBP2P_KEY)) + self.multihash
        return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")

    def short(self) -> str:
        """A short form for logs: the last 8 characters of the base58 form."""
        return "*" + self.to_base58()[-8:]

    def __str__(self) -> str:
        return self.to_base58()

    def __repr__(self) -> str:
        return f"PeerId({self.to_base58()!r})"


def _validate_multihash(mh: bytes) -> None:
    if not isinstance(mh, bytes):
        raise PeerIdError("peer id multihash must be bytes")
    if len(mh) > MAX_PEER_ID_LEN:
        raise PeerIdError(f"peer id of {len(mh)} bytes is too long")
    try:
        code_head = decode_uvarint(mh)
        if code_head is None:
            raise PeerIdError("empty or truncated peer id multihash")
        code, pos = code_head
        len_head = decode_uvarint(mh, pos)
    except VarintError as exc:
        raise PeerIdError(f"malformed peer id multihash: {exc}") from exc
    if len_head is None:
        raise PeerIdError("truncated peer id multihash")
    length, pos = len_head
    if len(mh) - pos != length:
        raise PeerIdError("peer id multihash length does not match its digest")
    if code == MH_IDENTITY:
        if length > MAX_INLINE_KEY_LEN or length == 0:
            raise PeerIdError(f"identity peer id with a {length}-byte key is not allowed")
    elif code == MH_SHA2_256:
        if length != 32:
            raise PeerIdError("sha2-256 peer id digest must be 32 bytes")
    else:
        raise PeerIdError(f"unsupported multihash code 0x{code:x} in peer id")


def _decode_cid(text: str) -> bytes:
    prefix, body = text[0], text[1:]
    try:
        if prefix == "b":
            raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
        elif prefix == "B":
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        elif prefix == "z":
            raw = base58.b58decode(body)
        elif prefix == "f":
            raw = bytes.fromhex(body)
        else:
            raise PeerIdError(f"unsupported multibase prefix {prefix!r} in peer id {text!r}")
    except ValueError as exc:  # binascii.Error is a ValueError
        raise PeerIdError(f"invalid multibase text in peer id {text!r}") from exc
    try:
        version = decode_uvarint(raw)
        if version is None or version[0] != CID_V1:
            raise PeerIdError(f"peer id {text!r} is not a CIDv1")
        codec = decode_uvarint(raw, version[1])
    except VarintError as exc:
        raise PeerIdError(f"malformed CID in peer id {text!r}") from exc
    if codec is None or codec[0] != CODEC_LIBP2P_KEY:
        raise PeerIdError(f"CID {text!r} does not have the libp2p-key codec")
    return raw[codec[1] :]
