"""DER codec of the libp2p ``SignedKey`` (the value of the libp2p certificate extension).

``SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }``: the
``publicKey`` holds the serialized libp2p ``PublicKey`` protobuf, the ``signature`` that key's
signature over ``libp2p-tls-handshake:`` + the certificate's SubjectPublicKeyInfo DER.
Decoding is strict DER (definite minimal lengths, no trailing bytes) and raises only
:class:`~p2pstack.security.tls.errors.CertificateDecodeError`.
"""

from __future__ import annotations

from typing import Final

from p2pstack.security.tls.errors import CertificateDecodeError

_SEQUENCE: Final = 0x30
_OCTET_STRING: Final = 0x04
MAX_SIGNED_KEY_LEN: Final = 64 * 1024
"""Larger extension values are refused unparsed (an RSA-8192 key and signature is ~2 KiB)."""


def _encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + _encode_length(len(value)) + value


def encode_signed_key(public_key: bytes, signature: bytes) -> bytes:
    """The DER ``SignedKey`` of a serialized public key and its signature."""
    return _tlv(_SEQUENCE, _tlv(_OCTET_STRING, public_key) + _tlv(_OCTET_STRING, signature))


def _read_tlv(data: bytes, pos: int, tag: int, what: str) -> tuple[bytes, int]:
    """The value of the TLV at ``pos`` (which must carry ``tag``) and the offset after it."""
    if pos + 2 > len(data):
        raise CertificateDecodeError(f"truncated {what} in SignedKey")
    if data[pos] != tag:
        raise CertificateDecodeError(f"expected tag 0x{tag:02x} for {what}, got 0x{data[pos]:02x}")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise CertificateDecodeError(f"unsupported DER length form in {what}")
        if pos + count > len(data):
            raise CertificateDecodeError(f"truncated length of {what} in SignedKey")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise CertificateDecodeError(f"non-minimal DER length in {what}")
        pos += count
    end = pos + length
    if end > len(data):
        raise CertificateDecodeError(f"{what} runs past the end of the SignedKey")
    return data[pos:end], end


def decode_signed_key(data: bytes) -> tuple[bytes, bytes]:
    """Parse a DER ``SignedKey`` into ``(public_key_protobuf, signature)``.

    Raises:
        CertificateDecodeError: not exactly one well-formed SignedKey, or over the size limit.
    """
    data = bytes(data)
    if len(data) > MAX_SIGNED_KEY_LEN:
        raise CertificateDecodeError(f"SignedKey of {len(data)} bytes exceeds {MAX_SIGNED_KEY_LEN}")
    body, end = _read_tlv(data, 0, _SEQUENCE, "SignedKey sequence")
    if end != len(data):
        raise CertificateDecodeError("trailing bytes after the SignedKey")
    public_key, pos = _read_tlv(body, 0, _OCTET_STRING, "publicKey")
    signature, pos = _read_tlv(body, pos, _OCTET_STRING, "signature")
    if pos != len(body):
        raise CertificateDecodeError("unexpected fields in the SignedKey")
    return public_key, signature
