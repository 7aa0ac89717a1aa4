"""TlsSession: the sans-IO libp2p TLS 1.3 endpoint (OpenSSL through pyOpenSSL, memory BIOs).

Bytes from the network go in with :meth:`TlsSession.receive_data`; bytes for the network come
out of :meth:`TlsSession.data_to_send`. No I/O, no trio; the wall clock for certificate
validity is passed in.

Why pyOpenSSL and not the stdlib ``ssl`` module: libp2p certificates are self-signed, and a
server must request and accept the client's. ``ssl`` offers no verify callback, so requesting a
client certificate (``CERT_OPTIONAL``/``CERT_REQUIRED``) always runs OpenSSL's PKIX checks,
which refuse every self-signed certificate. pyOpenSSL (a dependency of aioquic) exposes
``SSL_CTX_set_verify`` with a callback: OpenSSL's verdict is ignored and
:func:`~p2pstack.security.tls.certificate.verify_certificate_chain` decides instead.

Handshake contract: TLS 1.3 only, ALPN ``libp2p`` (a server refuses a client offering none of
its protocols), client certificate required. Inlined muxer negotiation (libp2p/specs
``connections/inlined-muxer-negotiation.md``): with ``muxers``, the client offers those
protocol ids before ``libp2p`` and the server picks the client's first offer it also lists;
a muxer picked this way is :attr:`TlsSession.early_muxer`.

The dialer verifies the listener's certificate *before* its Finished leaves
:meth:`TlsSession.data_to_send`, so a refused listener never sees a completed handshake; the
listener verifies the dialer's once the handshake completes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Final, final

from OpenSSL import SSL

from p2pstack.errors import PeerIdMismatch
from p2pstack.identity.identity import Identity
from p2pstack.identity.peer_id import PeerId
from p2pstack.role import Role
from p2pstack.security.tls.certificate import (
    VerifiedPeer,
    generate_certificate,
    verify_certificate_chain,
)
from p2pstack.security.tls.errors import TlsProtocolError

ALPN_LIBP2P: Final = b"libp2p"
"""The application protocol libp2p TLS negotiates (plain, without an inlined muxer)."""
_READ_CHUNK: Final = 64 * 1024


def _accept_any(*_args: object) -> bool:
    """OpenSSL's own chain verdict is ignored; our code verifies the certificate."""
    return True


def _alpn_selector(accepted: frozenset[bytes]) -> Callable[[SSL.Connection, list[bytes]], bytes]:
    """A server's ALPN choice: the client's first offer we accept (``libp2p`` or an inlined
    muxer). None accepted: the raised error makes OpenSSL abort with a fatal alert (pyOpenSSL's
    NO_OVERLAPPING_PROTOCOLS would only skip ALPN), and ``do_handshake`` re-raises it."""

    def select(_conn: SSL.Connection, offered: list[bytes]) -> bytes:
        for proto in offered:
            if proto in accepted:
                return proto
        raise TlsProtocolError(f"no common ALPN protocol in the client's offer {offered!r}")

    return select


@final
class TlsSession:
    """One libp2p TLS 1.3 connection endpoint, driven by bytes (see the module docstring).

    After the handshake, :meth:`encrypt` and :meth:`decrypt` carry application data. Every
    failure raises a :class:`~p2pstack.errors.ProtocolError` subclass (:class:`TlsProtocolError`
    for TLS, :class:`CertificateError` for the peer's certificate) or :class:`PeerIdMismatch`.
    """

    __slots__ = ("_alpn", "_conn", "_expected", "_now", "complete", "early_muxer", "remote", "role")

    def __init__(
        self,
        identity: Identity,
        *,
        role: Role,
        expected_peer: PeerId | None = None,
        now: datetime.datetime | float | None = None,
        muxers: Sequence[str] = (),
    ) -> None:
        self.role = role
        self._expected = expected_peer
        self._now = now
        self._alpn = [m.encode() for m in muxers] + [ALPN_LIBP2P]
        self.complete = False
        self.remote: VerifiedPeer | None = None
        self.early_muxer: str | None = None
        local = generate_certificate(identity, now=now)
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_options(SSL.OP_NO_TICKET)
        ctx.use_certificate(local.certificate)
        ctx.use_privatekey(local.private_key)
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _accept_any)
        if role is Role.INITIATOR:
            ctx.set_alpn_protos(self._alpn)
        else:
            ctx.set_alpn_select_callback(_alpn_selector(frozenset(self._alpn)))
        self._conn = SSL.Connection(ctx, None)
        if role is Role.INITIATOR:
            self._conn.set_connect_state()
            self._advance()  # queue the ClientHello
        else:
            self._conn.set_accept_state()

    # -- bytes in and out ----------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the network; advances the handshake if it is not complete.

        Raises:
            TlsProtocolError, CertificateError, PeerIdMismatch: the handshake failed.
        """
        if data:
            self._conn.bio_write(bytes(data))
        if not self.complete:
            self._advance()

    def data_to_send(self, size_hint: int = _READ_CHUNK) -> bytes:
        """All bytes queued for the network (handshake records, alerts, encrypted data).

        ``size_hint``: the expected amount; reads stop at the first short one (a memory BIO
        hands out everything it holds up to the size asked).
        """
        chunks = []
        size = max(size_hint, 1024)
        while True:
            try:
                chunk = self._conn.bio_read(size)
            except SSL.WantReadError:
                break
            chunks.append(chunk)
            if len(chunk) < size:
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # -- application data ----------------------------------------------------------------------

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """Encrypt ``data`` into records and return every byte queued for the network."""
        size = memoryview(data).nbytes
        if size:
            try:
                self._conn.sendall(data)
            except SSL.Error as exc:
                raise TlsProtocolError(f"TLS cannot send: {exc}", remote=False) from exc
        # Records add 22 bytes per 16 KiB of TLS 1.3 application data (header, type, tag).
        return self.data_to_send(size + 22 * (size // 16384 + 1) + 512)

    def decrypt(self, max_bytes: int) -> bytes | None:
        """Up to ``max_bytes`` decrypted bytes; ``None`` if more input is needed, ``b""`` once
        the peer sent close_notify.

        Raises:
            TlsProtocolError: a record failed authentication or the peer sent a fatal alert.
        """
        chunks: list[bytes] = []
        size = 0
        while size < max_bytes:
            try:
                chunk = self._conn.recv(min(max_bytes - size, _READ_CHUNK))
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                if chunks:
                    break
                return b""
            except SSL.Error as exc:
                raise TlsProtocolError(f"TLS record layer failed: {exc}") from exc
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if chunks else None

    def close_notify(self) -> bytes:
        """Queue our close_notify alert (TLS 1.3 half-close) and return the pending bytes."""
        try:
            self._conn.shutdown()
        except SSL.Error as exc:
            raise TlsProtocolError(f"TLS cannot close: {exc}", remote=False) from exc
        return self.data_to_send()

    # -- handshake -----------------------------------------------------------------------------

    def _advance(self) -> None:
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return
        except SSL.Error as exc:
            raise TlsProtocolError(f"TLS handshake failed: {_describe(exc)}") from exc
        self._finish()

    def _finish(self) -> None:
        if self._conn.get_protocol_version_name() != "TLSv1.3":  # pragma: no cover - min set
            raise TlsProtocolError("the peer negotiated a TLS version below 1.3")
        alpn = self._conn.get_alpn_proto_negotiated()
        if alpn and alpn not in self._alpn:
            raise TlsProtocolError(f"unexpected ALPN protocol {alpn!r}")
        if alpn and alpn != ALPN_LIBP2P:
            self.early_muxer = alpn.decode()
        chain = self._conn.get_peer_cert_chain(as_cryptography=True) or []
        if self.role is Role.RESPONDER:
            # OpenSSL leaves the client's leaf out of a server's chain: add it back.
            leaf = self._conn.get_peer_certificate(as_cryptography=True)
            chain = ([leaf] if leaf is not None else []) + list(chain)
        remote = verify_certificate_chain(chain, now=self._now)
        if self._expected is not None and remote.peer_id != self._expected:
            raise PeerIdMismatch(self._expected, remote.peer_id)
        self.remote = remote
        self.complete = True


def _describe(exc: SSL.Error) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, list) and detail and isinstance(detail[0], tuple):
        return "; ".join(str(item[-1]) for item in detail)
    return str(detail)
