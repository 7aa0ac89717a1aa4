"""Noise transport-phase encryption of framed messages. Pure (no I/O).

After the handshake each direction has a ChaCha20-Poly1305 key from Noise ``Split()`` and a
64-bit counter. Message ``n`` is encrypted with nonce ``00000000 || LE64(n)`` and empty
associated data, then framed as ``BE16(len) || ciphertext``. Nonce ``2**64-1`` is reserved by
the Noise spec, so a direction fails with :class:`NoiseNonceExhausted` before reaching it.
"""

from __future__ import annotations

import struct
from typing import Final, final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from p2pstack.security.noise.errors import NoiseDecryptError, NoiseNonceExhausted
from p2pstack.security.noise.framing import MAX_PLAINTEXT_LEN, TAG_LEN

BytesLike = bytes | bytearray | memoryview

MAX_NONCE: Final = (1 << 64) - 1
"""Reserved nonce value: usable nonces are ``0 .. MAX_NONCE - 1``."""

_NONCE: Final = struct.Struct("<4xQ")
_LEN: Final = struct.Struct(">H")


@final
class FrameEncryptor:
    """Encrypts outgoing plaintext into Noise transport frames for one direction."""

    __slots__ = ("_aead", "nonce")

    def __init__(self, key: bytes, nonce: int = 0) -> None:
        self._aead = ChaCha20Poly1305(key)
        self.nonce = nonce

    @staticmethod
    def encrypted_size(size: int) -> int:
        """Bytes of frames that ``size`` plaintext bytes become (0 for 0)."""
        return size + -(-size // MAX_PLAINTEXT_LEN) * (2 + TAG_LEN)

    def encrypt(self, data: BytesLike) -> bytearray:
        """Return ``data`` as consecutive frames of at most 65519 plaintext bytes each.

        Empty input gives an empty result (no frame).

        Raises:
            NoiseNonceExhausted: the frames would need the reserved nonce.
        """
        out = bytearray(self.encrypted_size(memoryview(data).nbytes))
        self.encrypt_into(data, out)
        return out

    def encrypt_into(self, data: BytesLike, out: bytearray | memoryview) -> int:
        """Write ``data``'s frames to the start of ``out``; return the bytes written.

        ``out`` must hold at least ``encrypted_size(len(data))`` bytes.

        Raises:
            NoiseNonceExhausted: the frames would need the reserved nonce.
            ValueError: ``out`` is too small.
        """
        with memoryview(data) as raw, raw.cast("B") as mv, memoryview(out) as om:
            size = len(mv)
            frames = -(-size // MAX_PLAINTEXT_LEN)
            total = size + frames * (2 + TAG_LEN)
            if len(om) < total:
                raise ValueError(f"output buffer of {len(om)} bytes is smaller than {total}")
            nonce = self.nonce
            if nonce + frames > MAX_NONCE:
                raise NoiseNonceExhausted()
            pos = 0
            encrypt_into = self._aead.encrypt_into
            pack_len = _LEN.pack_into
            pack_nonce = _NONCE.pack
            for start in range(0, size, MAX_PLAINTEXT_LEN):
                chunk = mv[start : start + MAX_PLAINTEXT_LEN]
                length = len(chunk) + TAG_LEN
                pack_len(om, pos, length)
                pos += 2
                encrypt_into(pack_nonce(nonce), chunk, None, om[pos : pos + length])
                pos += length
                nonce += 1
            self.nonce = nonce
            return total


@final
class FrameDecryptor:
    """Decrypts a stream of Noise transport frames for one direction.

    Feed it arbitrary chunks of the byte stream; it keeps at most one incomplete frame.
    """

    __slots__ = ("_aead", "_pending", "nonce")

    def __init__(self, key: bytes, nonce: int = 0) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._pending = bytearray()
        self.nonce = nonce

    @property
    def has_partial_frame(self) -> bool:
        """True while an incomplete frame is buffered (EOF now would truncate it)."""
        return bool(self._pending)

    def feed(self, data: BytesLike) -> bytearray:
        """Decrypt every frame completed by ``data``; return their plaintext (may be empty).

        Raises:
            NoiseDecryptError: a frame is shorter than a tag or fails authentication.
            NoiseNonceExhausted: the peer sent more frames than nonces exist.
        """
        with memoryview(data) as raw, raw.cast("B") as mv:
            pos = 0
            frames: list[tuple[memoryview, int, int]] = []  # (source, start, length)
            if self._pending:
                pos = self._complete_pending(mv)
                if pos < 0:
                    return bytearray()
                completed, self._pending = self._pending, bytearray()  # no copy
                frames.append((memoryview(completed), 2, len(completed) - 2))
            end = len(mv)
            while end - pos >= 2:
                length = (mv[pos] << 8) | mv[pos + 1]
                if end - pos - 2 < length:
                    break
                frames.append((mv, pos + 2, length))
                pos += 2 + length
            if pos < end:
                self._pending += mv[pos:]
            return self._decrypt(frames)

    def _complete_pending(self, mv: memoryview) -> int:
        """Move bytes from ``mv`` into the pending frame; return bytes used, -1 if still short."""
        pending = self._pending
        used = 0
        if len(pending) < 2:
            used = min(2 - len(pending), len(mv))
            pending += mv[:used]
            if len(pending) < 2:
                return -1
        need = 2 + ((pending[0] << 8) | pending[1]) - len(pending)
        take = min(need, len(mv) - used)
        pending += mv[used : used + take]
        used += take
        return used if take == need else -1

    def _decrypt(self, frames: list[tuple[memoryview, int, int]]) -> bytearray:
        if self.nonce + len(frames) > MAX_NONCE:
            raise NoiseNonceExhausted(remote=True)
        total = 0
        for _, _, length in frames:
            if length < TAG_LEN:
                raise NoiseDecryptError(f"Noise frame of {length} bytes is shorter than its tag")
            total += length - TAG_LEN
        out = bytearray(total)
        om = memoryview(out)
        nonce = self.nonce
        pos = 0
        decrypt_into = self._aead.decrypt_into
        try:
            for source, start, length in frames:
                size = length - TAG_LEN
                decrypt_into(
                    _NONCE.pack(nonce), source[start : start + length], None, om[pos : pos + size]
                )
                pos += size
                nonce += 1
        except InvalidTag as exc:
            raise NoiseDecryptError(f"Noise frame {nonce} failed authentication") from exc
        finally:
            om.release()
            self.nonce = nonce
        return out
