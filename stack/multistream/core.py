"""Sans-IO multistream-select 1.0 machines: :class:`MultistreamDialer`,
:class:`MultistreamLister`, :class:`MultistreamListener`.

Each machine takes bytes with :meth:`~Machine.receive_data` (``None`` is end of stream) and
queues bytes for :meth:`~Machine.data_to_send`. When :attr:`~Machine.done` turns true, the
bytes received after the final message are in :attr:`~Machine.trailing_data`: they belong to
the next protocol and must be handed on. No I/O, no clock, no trio.

Errors are sticky (every later call re-raises the first one):

- :class:`~p2pstack.errors.NegotiationFailed`: no common protocol, too many proposals, or the
  stream ended between messages. The listener also reports a parse error after it has
  answered ``na`` this way, since a lazy dialer sends application bytes right after its
  proposal.
- :class:`~p2pstack.errors.ProtocolError` subclasses (``MultistreamError``, ``MessageTooLarge``,
  ``VarintError``, ``UnexpectedEOF``): the peer sent bytes that break the protocol.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Collection, Sequence
from typing import Final

from p2pstack.errors import (
    InvalidConfigError,
    MultistreamError,
    NegotiationFailed,
    ProtocolError,
    UnexpectedEOF,
)
from p2pstack.multistream.messages import (
    LS,
    MAX_LS_RESPONSE_SIZE,
    MAX_MESSAGE_SIZE,
    NA,
    PROTOCOL_ID,
    decode_ls_response,
    decode_text,
    encode_ls_response,
    encode_message,
    is_protocol_id,
    parse_message,
    validate_protocol_id,
)

MAX_REJECTIONS: Final = 16
"""How many ``na`` (and ``ls``) answers a listener gives before it gives up on a dialer."""

_HEADER: Final = encode_message(PROTOCOL_ID)


class State(enum.Enum):
    """Where a machine is in the negotiation."""

    AWAIT_HEADER = "await-header"
    AWAIT_ANSWER = "await-answer"
    """Dialer and lister: waiting for the echo, ``na`` or the ``ls`` answer."""
    AWAIT_PROPOSAL = "await-proposal"
    """Listener: waiting for a proposal or ``ls``."""
    DONE = "done"
    FAILED = "failed"


class Machine(abc.ABC):
    """Buffering, message splitting, sticky errors and trailing data shared by the roles."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._buffer = bytearray()
        self._outgoing = bytearray()
        self._trailing = b""
        self._error: Exception | None = None

    @property
    def state(self) -> State:
        """The current :class:`State`."""
        return self._state

    @property
    def done(self) -> bool:
        """True once a result is available (the selected protocol or the ``ls`` answer)."""
        return self._state is State.DONE

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the final message (empty until :attr:`done`)."""
        return self._trailing

    def data_to_send(self) -> bytes:
        """Return and clear the bytes queued for the peer."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def receive_data(self, data: bytes | bytearray | memoryview | None) -> None:
        """Feed bytes from the peer; ``None`` means the peer ended the stream.

        Raises:
            NegotiationFailed: see the module docstring.
            ProtocolError: the peer broke the protocol (a subclass; see the module docstring).
            MultistreamError: called after :attr:`done` (``remote=False``: our own misuse).
        """
        if self._error is not None:
            raise self._error
        if self._state is State.DONE:
            raise MultistreamError("negotiation already finished", remote=False)
        try:
            if data is None:
                self._on_eof()
            else:
                self._buffer += data
                self._process()
        except (ProtocolError, NegotiationFailed) as exc:
            self._state = State.FAILED
            self._error = exc
            raise

    def _process(self) -> None:
        pos = 0
        try:
            while self._state is not State.DONE:
                parsed = parse_message(self._buffer, pos, self._max_size())
                if parsed is None:
                    break
                payload, pos = parsed
                self._handle(payload)
        finally:
            del self._buffer[:pos]
        if self._state is State.DONE:
            self._trailing = bytes(self._buffer)
            self._buffer.clear()

    def _max_size(self) -> int:
        return MAX_MESSAGE_SIZE

    @abc.abstractmethod
    def _handle(self, payload: bytes) -> None:
        """Act on one complete message (payload without the newline)."""

    @abc.abstractmethod
    def _on_eof(self) -> None:
        """Raise the error that the peer ending the stream now amounts to."""

    def _expect_header(self, payload: bytes) -> None:
        text = decode_text(payload)
        if text != PROTOCOL_ID:
            raise MultistreamError(f"expected the {PROTOCOL_ID} header, got {text[:100]!r}")


class MultistreamDialer(Machine):
    """The initiator: proposes protocols in preference order until one is echoed.

    The header and the first proposal are queued at once (never wait for the peer's header:
    rust listeners wait for ours). On ``na`` the next protocol is proposed.

    Args:
        protocols: the candidates, most preferred first.
        header_exchanged: the headers were already exchanged on this stream (after ``ls``),
            so neither send nor expect one.

    Raises:
        InvalidConfigError: no protocols, or an invalid protocol id.
    """

    def __init__(self, protocols: Sequence[str], *, header_exchanged: bool = False) -> None:
        if isinstance(protocols, str) or not protocols:
            raise InvalidConfigError("the dialer needs a non-empty sequence of protocol ids")
        for protocol in protocols:
            validate_protocol_id(protocol)
        super().__init__(State.AWAIT_ANSWER if header_exchanged else State.AWAIT_HEADER)
        self._protocols = tuple(protocols)
        self._index = 0
        self._outgoing += (b"" if header_exchanged else _HEADER) + encode_message(protocols[0])

    @property
    def selected(self) -> str | None:
        """The protocol the listener accepted, once :attr:`done`."""
        return self._protocols[self._index] if self.done else None

    @property
    def tried(self) -> tuple[str, ...]:
        """The protocols proposed so far."""
        return self._protocols[: self._index + 1]

    def _handle(self, payload: bytes) -> None:
        if self._state is State.AWAIT_HEADER:
            self._expect_header(payload)
            self._state = State.AWAIT_ANSWER
            return
        text = decode_text(payload)
        current = self._protocols[self._index]
        if text == current:
            self._state = State.DONE
        elif text == NA:
            if self._index + 1 == len(self._protocols):
                raise NegotiationFailed(
                    f"the listener supports none of {list(self._protocols)}",
                    protocols=self._protocols,
                )
            self._index += 1
            self._outgoing += encode_message(self._protocols[self._index])
        else:
            raise MultistreamError(f"listener answered {text[:100]!r} to proposal {current!r}")

    def _on_eof(self) -> None:
        if self._buffer:
            raise UnexpectedEOF("stream ended inside a multistream message")
        raise NegotiationFailed(
            "the listener closed the stream during negotiation", protocols=self.tried
        )


class MultistreamLister(Machine):
    """A dialer that asks ``ls``; :attr:`protocols` holds the answer once :attr:`done`.

    The stream stays in the negotiation phase afterwards: to select a protocol on it, use
    ``MultistreamDialer(protocols, header_exchanged=True)``.

    Raises (from :meth:`receive_data`):
        NegotiationFailed: the listener answered ``na`` (go listeners do not implement ``ls``).
    """

    def __init__(self, *, header_exchanged: bool = False) -> None:
        super().__init__(State.AWAIT_ANSWER if header_exchanged else State.AWAIT_HEADER)
        self._outgoing += (b"" if header_exchanged else _HEADER) + encode_message(LS)
        self._protocols: list[str] = []

    @property
    def protocols(self) -> list[str]:
        """The listed protocols (empty until :attr:`done`)."""
        return list(self._protocols)

    def _max_size(self) -> int:
        return MAX_LS_RESPONSE_SIZE if self._state is State.AWAIT_ANSWER else MAX_MESSAGE_SIZE

    def _handle(self, payload: bytes) -> None:
        if self._state is State.AWAIT_HEADER:
            self._expect_header(payload)
            self._state = State.AWAIT_ANSWER
            return
        if payload == NA.encode():
            raise NegotiationFailed("the listener does not support ls")
        self._protocols = decode_ls_response(payload)
        self._state = State.DONE

    def _on_eof(self) -> None:
        if self._buffer:
            raise UnexpectedEOF("stream ended inside a multistream message")
        raise NegotiationFailed("the listener closed the stream before answering ls")


class MultistreamListener(Machine):
    """The responder: echoes the first supported proposal, answers ``na`` to others.

    Our header is queued when the dialer's arrives, so with a pipelining dialer the header
    and the answer leave in one write. ``ls`` is answered with the supported list when
    ``supported`` is a collection, and with ``na`` when it is a predicate.

    Args:
        supported: the protocol ids we accept, or a predicate deciding per proposal.
        max_rejections: how many ``na``/``ls`` answers to give before failing.

    Raises:
        InvalidConfigError: ``supported`` holds an invalid protocol id.
    """

    def __init__(
        self,
        supported: Collection[str] | Callable[[str], bool],
        *,
        max_rejections: int = MAX_REJECTIONS,
    ) -> None:
        super().__init__(State.AWAIT_HEADER)
        self._listing: tuple[str, ...] | None
        if isinstance(supported, str):
            raise InvalidConfigError("supported must be a collection of ids, not one str")
        if isinstance(supported, Collection):
            for protocol in supported:
                validate_protocol_id(protocol)
            self._listing = tuple(supported)
            accepted = frozenset(supported)
            self._accepts: Callable[[str], bool] = accepted.__contains__
        else:
            self._listing = None
            self._accepts = supported
        self._max_rejections = max_rejections
        self._rejections = 0
        self._na_sent = False
        self._proposals: list[str] = []

    @property
    def selected(self) -> str | None:
        """The accepted protocol, once :attr:`done`."""
        return self._proposals[-1] if self.done else None

    @property
    def proposals(self) -> tuple[str, ...]:
        """Every protocol the dialer proposed so far, in order."""
        return tuple(self._proposals)

    def _process(self) -> None:
        try:
            super()._process()
        except ProtocolError as exc:
            if not self._na_sent:
                raise
            # A lazy dialer sends its application bytes right after the proposal we refused.
            raise NegotiationFailed(
                f"no common protocol (then unparseable bytes: {exc})",
                protocols=self.proposals,
            ) from exc

    def _handle(self, payload: bytes) -> None:
        if self._state is State.AWAIT_HEADER:
            self._expect_header(payload)
            self._outgoing += _HEADER
            self._state = State.AWAIT_PROPOSAL
            return
        text = decode_text(payload)
        if text == LS:
            self._reject()
            listing = self._listing
            self._outgoing += encode_message(NA) if listing is None else encode_ls_response(listing)
            return
        if not is_protocol_id(text):
            raise MultistreamError(f"invalid protocol id {text[:100]!r}")
        self._proposals.append(text)
        if self._accepts(text):
            self._outgoing += encode_message(text)
            self._state = State.DONE
            return
        self._reject()
        self._na_sent = True
        self._outgoing += encode_message(NA)

    def _reject(self) -> None:
        self._rejections += 1
        if self._rejections > self._max_rejections:
            raise NegotiationFailed(
                f"the dialer made {self._rejections} requests without selecting a protocol",
                protocols=self.proposals,
            )

    def _on_eof(self) -> None:
        raise NegotiationFailed(
            "the dialer closed the stream before selecting a protocol", protocols=self.proposals
        )
