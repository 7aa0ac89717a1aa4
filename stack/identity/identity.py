"""A node identity: a private key with its public key and peer id, plus key files.

Key file format: the file holds exactly the serialized libp2p ``PrivateKey`` protobuf
(``08 <type> 12 uvarint(len) Data``, see :mod:`p2pstack.identity.keys`), the same bytes go-libp2p's
``crypto.MarshalPrivateKey`` and js-libp2p's ``privateKeyToProtobuf`` produce. No PEM, no
encryption, no trailing newline. Files are written atomically with mode 0600.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Final, final

from p2pstack.errors import InvalidKeyError, KeyFileError
from p2pstack.identity.keys import (
    Ed25519PrivateKey,
    KeyType,
    PrivateKey,
    PublicKey,
    generate_private_key,
)
from p2pstack.identity.peer_id import PeerId

_log = logging.getLogger("p2pstack.identity")

MAX_KEY_FILE_SIZE: Final = 64 * 1024
"""Key files larger than this are refused without being parsed."""

StrPath = str | os.PathLike[str]


@final
class Identity:
    """A private key plus its derived ``public_key`` and ``peer_id``. Immutable."""

    __slots__ = ("peer_id", "private_key", "public_key")

    def __init__(self, private_key: PrivateKey) -> None:
        if not isinstance(private_key, PrivateKey):
            raise TypeError("Identity needs a p2pstack.identity.PrivateKey")
        self.private_key: Final = private_key
        self.public_key: Final[PublicKey] = private_key.public_key
        self.peer_id: Final[PeerId] = self.public_key.to_peer_id()

    @classmethod
    def generate(cls, key_type: KeyType = KeyType.ED25519) -> Identity:
        """A fresh random identity (Ed25519 unless ``key_type`` says otherwise)."""
        return cls(generate_private_key(key_type))

    @classmethod
    def from_ed25519_seed(cls, seed: bytes) -> Identity:
        """The deterministic Ed25519 identity of a 32-byte seed. Raises InvalidKeyError."""
        return cls(Ed25519PrivateKey.from_seed(seed))

    @classmethod
    def from_private_key(cls, key: PrivateKey) -> Identity:
        """Wrap an existing private key."""
        return cls(key)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the identity key."""
        return self.private_key.sign(data)

    # -- key files ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: StrPath) -> Identity:
        """Read a key file (see the module docstring for the format).

        Raises:
            KeyFileError: the file is missing, unreadable, too large or not a valid key.
        """
        p = Path(path)
        try:
            # O_NONBLOCK: opening a FIFO must not hang; regular files ignore the flag.
            fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if not stat.S_ISREG(mode):
                    raise KeyFileError(f"key file {p} is not a regular file")
                data = f.read(MAX_KEY_FILE_SIZE + 1)
        except FileNotFoundError as exc:
            raise KeyFileError(f"key file {p} does not exist") from exc
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {p}: {exc.strerror or exc}") from exc
        if len(data) > MAX_KEY_FILE_SIZE:
            raise KeyFileError(f"key file {p} is larger than {MAX_KEY_FILE_SIZE} bytes")
        if not data:
            raise KeyFileError(f"key file {p} is empty")
        try:
            key = PrivateKey.from_protobuf(data)
        except InvalidKeyError as exc:
            reason = " ".join(str(exc).split())  # keep the message on one line
            raise KeyFileError(f"key file {p} is not a libp2p private key: {reason}") from exc
        if mode & 0o077:
            _log.warning("key file %s is accessible by other users (mode %o)", p, mode & 0o777)
        return cls(key)

    def save(self, path: StrPath) -> None:
        """Write the key file atomically (temp file + rename), mode 0600, replacing any old one.

        Raises:
            KeyFileError: the file could not be written.
        """
        p = Path(path)
        tmp = _write_temp(self, p)
        try:
            os.replace(tmp, p)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise KeyFileError(f"cannot write key file {p}: {exc.strerror or exc}") from exc

    @classmethod
    def load_or_create(cls, path: StrPath, key_type: KeyType = KeyType.ED25519) -> Identity:
        """Load the key file at ``path``, or create it with a new identity if it does not exist.

        Creation never replaces a file another process created meanwhile: that file wins.

        Raises:
            KeyFileError: an existing file is bad, or the new one could not be written.
        """
        p = Path(path)
        if p.exists():
            return cls.load(p)
        identity = cls.generate(key_type)
        tmp = _write_temp(identity, p)
        try:
            os.link(tmp, p)  # atomic create-if-absent
        except FileExistsError:
            return cls.load(p)
        except OSError as exc:
            raise KeyFileError(f"cannot create key file {p}: {exc.strerror or exc}") from exc
        finally:
            _unlink_quietly(tmp)
        _log.info("created key file %s for peer %s", p, identity.peer_id)
        return identity

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self.private_key == other.private_key

    def __hash__(self) -> int:
        return hash(self.peer_id)

    def __repr__(self) -> str:
        return f"Identity({self.peer_id}, {self.private_key.key_type.name})"


def _write_temp(identity: Identity, p: Path) -> str:
    """Write ``identity``'s key to a new temporary file (mode 0600) next to ``p``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {p}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(identity.private_key.to_protobuf())
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        _unlink_quietly(tmp)
        raise KeyFileError(f"cannot write key file {p}: {exc.strerror or exc}") from exc
    return tmp


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
