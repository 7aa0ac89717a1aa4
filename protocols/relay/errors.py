"""Errors of circuit relay v2."""

from __future__ import annotations

from p2pstack.errors import DecodeError, ProtocolError, StackError, TransportError
from p2pstack.protocols.relay.status import Status


class RelayMessageError(DecodeError):
    """A hop or stop message (or a voucher, or an envelope) is malformed."""


class EnvelopeError(StackError):
    """A signed envelope does not verify: bad signature, domain or payload type."""


class VoucherError(EnvelopeError):
    """A reservation voucher is invalid or does not name the expected relay and peer."""


class RelayProtocolError(ProtocolError):
    """The peer answered with an unexpected message."""


class RelayRefused(TransportError):
    """The relay (or the destination, through the relay) refused with a non-OK status.

    ``status`` is the :class:`~p2pstack.protocols.relay.status.Status` (or the raw number
    when the peer sent one we do not know).
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def status_name(self) -> str:
        """The status' name (``"NO_RESERVATION"``...) or its number."""
        return Status.name_of(self.status)
