"""aioquic's ``QuicConnection`` with what libp2p needs and aioquic does not expose.

Everything that touches aioquic internals lives here, in one subclass:

- mutual TLS: the server requests the client's certificate (libp2p authenticates both
  ends); :attr:`Libp2pQuicConnection.peer_certificates` are the certificates the peer presented;
- bounded receive windows: aioquic raises a stream's (and the connection's) credit as data
  *arrives*, doubling it without bound, so a peer could make us buffer anything. Here the
  credit is ``bytes the application consumed + window``: the peer can make us hold at most
  ``window`` unread bytes per stream and ``connection_window`` in all;
- :meth:`Libp2pQuicConnection.has_unsent`: whether a stream's written bytes still wait for
  a packet (the send side's backpressure).
"""

from __future__ import annotations

from typing import Any

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from cryptography import x509


class Libp2pQuicConnection(QuicConnection):
    """A QUIC connection with libp2p's mutual TLS and bounded receive windows."""

    def __init__(
        self,
        *,
        configuration: QuicConfiguration,
        stream_window: int,
        connection_window: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(configuration=configuration, **kwargs)
        self.stream_window = stream_window
        self.connection_window = connection_window
        self._consumed: dict[int, int] = {}
        self._consumed_total = 0

    # -- public helpers ------------------------------------------------------------------
    @property
    def peer_certificates(self) -> list[x509.Certificate]:
        """The certificates the peer presented in the handshake (leaf first; empty before)."""
        tls = getattr(self, "tls", None)
        if tls is None or tls._peer_certificate is None:
            return []
        return [tls._peer_certificate, *tls._peer_certificate_chain]

    def consume(self, stream_id: int, size: int) -> None:
        """The application read ``size`` bytes of ``stream_id``: grant that much more credit
        (sent with the next packet)."""
        self._consumed[stream_id] = self._consumed.get(stream_id, 0) + size
        self._consumed_total += size

    def forget(self, stream_id: int) -> None:
        """The application is done with ``stream_id`` (its credit is no longer tracked)."""
        self._consumed.pop(stream_id, None)

    def has_unsent(self, stream_id: int) -> bool:
        """Whether bytes written to ``stream_id`` still wait to be put in a packet."""
        stream = self._streams.get(stream_id)
        return stream is not None and not stream.sender.buffer_is_empty

    def send_blocked(self, stream_id: int) -> bool:
        """Whether a write to ``stream_id`` would wait: bytes still unsent, or no credit left
        (the peer's stream or connection window is used up)."""
        stream = self._streams.get(stream_id)
        if stream is None:
            return False
        return (
            not stream.sender.buffer_is_empty
            or stream.sender.highest_offset >= stream.max_stream_data_remote
            or self._remote_max_data_used >= self._remote_max_data
        )

    def stream_known(self, stream_id: int) -> bool:
        """Whether aioquic still tracks ``stream_id``."""
        return stream_id in self._streams

    # -- overrides of aioquic internals --------------------------------------------------
    def _initialize(self, peer_cid: bytes) -> None:
        super()._initialize(peer_cid)
        if not self._is_client:
            self.tls._request_client_certificate = True

    def _write_connection_limits(self, builder: Any, space: Any) -> None:
        limit = self._local_max_data
        limit.value = max(limit.value, self._consumed_total + self.connection_window)
        used = limit.used
        limit.used = min(used, limit.value // 2)  # disables aioquic's doubling
        try:
            super()._write_connection_limits(builder, space)
        finally:
            limit.used = used

    def _write_stream_limits(self, builder: Any, space: Any, stream: Any) -> None:
        if stream.max_stream_data_local:
            consumed = self._consumed.get(stream.stream_id, 0)
            stream.max_stream_data_local = max(
                stream.max_stream_data_local, consumed + self.stream_window
            )
            receiver = stream.receiver
            highest = receiver.highest_offset
            receiver.highest_offset = min(highest, stream.max_stream_data_local // 2)
            try:
                super()._write_stream_limits(builder, space, stream)
            finally:
                receiver.highest_offset = highest
        else:
            super()._write_stream_limits(builder, space, stream)
