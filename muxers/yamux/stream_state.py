"""The life of one Yamux stream: one state enum and one transition table.

Everything that changes a stream's state goes through :data:`TRANSITIONS`, which maps
``(state, input)`` to ``(new state, actions)``; :func:`transition` looks it up and raises
:class:`~p2pstack.muxers.yamux.errors.YamuxProtocolError` for a pair the table does not
hold (``remote=True`` for the peer's inputs, ``remote=False`` for ours). The core
(:class:`~p2pstack.muxers.yamux.core.YamuxCore`) feeds the inputs and carries out the
actions; this module knows nothing about frames, windows or roles.

Opening is not a state: a stream is ``OPEN`` from its SYN on (both sides may send at once).
Whether the peer has answered our SYN, and whether an inbound stream has been accepted, are
the core's backlogs, not the stream's life.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Final

from p2pstack.muxers.yamux.errors import YamuxProtocolError


class StreamState(IntEnum):
    """Where a stream is in its life."""

    OPEN = 0
    """Both directions open."""
    HALF_CLOSED_LOCAL = 1
    """We sent FIN; the peer may still send."""
    HALF_CLOSED_REMOTE = 2
    """The peer sent FIN; we may still send."""
    CLOSING = 3
    """The application closed the stream after our FIN; waiting for the peer's FIN (at most
    ``stream_close_timeout``). Data from the peer is answered with RST."""
    CLOSED = 4
    """Both sides sent FIN (final)."""
    RESET_LOCAL = 5
    """We reset the stream (final)."""
    RESET_REMOTE = 6
    """The peer reset the stream (final)."""


class StreamInput(IntEnum):
    """What can happen to a stream: the application's calls, then the peer's frames."""

    SEND_DATA = 0
    SEND_FIN = 1
    CLOSE = 2
    """The application closes both directions gracefully (FIN, unread data dropped)."""
    SEND_RST = 3
    """The application (or the close timeout) aborts the stream."""
    RECV_DATA = 4
    """A Data frame with payload (its FIN/RST flags are separate inputs, after it)."""
    RECV_FIN = 5
    RECV_RST = 6


class Action(IntFlag):
    """What the core does on a transition (combined as flags)."""

    NONE = 0
    QUEUE_FIN = 0x01
    """Queue WindowUpdate|FIN."""
    QUEUE_RST = 0x02
    """Queue WindowUpdate|RST."""
    DISCARD = 0x04
    """Drop the bytes received and not read."""
    DROP_DATA = 0x08
    """Do not buffer the payload of the frame being received."""
    EMIT_ENDED = 0x10
    """Report :class:`~.events.StreamEndedByPeer`."""
    EMIT_RESET = 0x20
    """Report :class:`~.events.StreamResetByPeer`."""
    LINGER = 0x40
    """Release the receive window's memory and start the close timeout."""
    FORGET = 0x80
    """Stop tracking the stream: its id and ``max_streams`` slot are free."""


_S = StreamState
_I = StreamInput
_A = Action

#: States in which the core no longer tracks the stream.
FINAL_STATES: Final = frozenset({_S.CLOSED, _S.RESET_LOCAL, _S.RESET_REMOTE})
#: States in which the peer may still send data (window credit is due).
RECEIVING_STATES: Final = frozenset({_S.OPEN, _S.HALF_CLOSED_LOCAL})
#: States of a reset stream.
RESET_STATES: Final = frozenset({_S.RESET_LOCAL, _S.RESET_REMOTE})
#: States after our FIN (sending is over).
FIN_SENT_STATES: Final = frozenset({_S.HALF_CLOSED_LOCAL, _S.CLOSING, _S.CLOSED})
#: States after the peer's FIN (end of data for the reader).
FIN_RECEIVED_STATES: Final = frozenset({_S.HALF_CLOSED_REMOTE, _S.CLOSED})

_LIVE = (_S.OPEN, _S.HALF_CLOSED_LOCAL, _S.HALF_CLOSED_REMOTE, _S.CLOSING)

#: ``(state, input) -> (new state, actions)``; a missing pair is a protocol error.
TRANSITIONS: Final[dict[tuple[StreamState, StreamInput], tuple[StreamState, Action]]] = {
    # sending data
    (_S.OPEN, _I.SEND_DATA): (_S.OPEN, _A.NONE),
    (_S.HALF_CLOSED_REMOTE, _I.SEND_DATA): (_S.HALF_CLOSED_REMOTE, _A.NONE),
    # half-close (a repeated FIN, or one after the end, does nothing)
    (_S.OPEN, _I.SEND_FIN): (_S.HALF_CLOSED_LOCAL, _A.QUEUE_FIN),
    (_S.HALF_CLOSED_REMOTE, _I.SEND_FIN): (_S.CLOSED, _A.QUEUE_FIN | _A.FORGET),
    (_S.HALF_CLOSED_LOCAL, _I.SEND_FIN): (_S.HALF_CLOSED_LOCAL, _A.NONE),
    (_S.CLOSING, _I.SEND_FIN): (_S.CLOSING, _A.NONE),
    # graceful close by the application (the core resets instead when the peer could block)
    (_S.OPEN, _I.CLOSE): (_S.CLOSING, _A.DISCARD | _A.QUEUE_FIN | _A.LINGER),
    (_S.HALF_CLOSED_LOCAL, _I.CLOSE): (_S.CLOSING, _A.DISCARD | _A.LINGER),
    (_S.HALF_CLOSED_REMOTE, _I.CLOSE): (_S.CLOSED, _A.DISCARD | _A.QUEUE_FIN | _A.FORGET),
    (_S.CLOSING, _I.CLOSE): (_S.CLOSING, _A.NONE),
    # the peer's data; after our close it is answered with RST
    (_S.OPEN, _I.RECV_DATA): (_S.OPEN, _A.NONE),
    (_S.HALF_CLOSED_LOCAL, _I.RECV_DATA): (_S.HALF_CLOSED_LOCAL, _A.NONE),
    (_S.HALF_CLOSED_REMOTE, _I.RECV_DATA): (_S.HALF_CLOSED_REMOTE, _A.DROP_DATA),
    (_S.CLOSING, _I.RECV_DATA): (_S.RESET_LOCAL, _A.DROP_DATA | _A.QUEUE_RST | _A.FORGET),
    # the peer's FIN (a repeated one is ignored)
    (_S.OPEN, _I.RECV_FIN): (_S.HALF_CLOSED_REMOTE, _A.EMIT_ENDED),
    (_S.HALF_CLOSED_LOCAL, _I.RECV_FIN): (_S.CLOSED, _A.EMIT_ENDED | _A.FORGET),
    (_S.CLOSING, _I.RECV_FIN): (_S.CLOSED, _A.EMIT_ENDED | _A.FORGET),
    (_S.HALF_CLOSED_REMOTE, _I.RECV_FIN): (_S.HALF_CLOSED_REMOTE, _A.NONE),
}
for _state in _LIVE:
    TRANSITIONS[_state, _I.SEND_RST] = (_S.RESET_LOCAL, _A.DISCARD | _A.QUEUE_RST | _A.FORGET)
    TRANSITIONS[_state, _I.RECV_RST] = (_S.RESET_REMOTE, _A.DISCARD | _A.EMIT_RESET | _A.FORGET)
for _state in FINAL_STATES:
    # The application may still close, reset or half-close a finished stream: no effect.
    TRANSITIONS[_state, _I.SEND_FIN] = (_state, _A.NONE)
    TRANSITIONS[_state, _I.CLOSE] = (_state, _A.DISCARD)
    TRANSITIONS[_state, _I.SEND_RST] = (_state, _A.DISCARD)
# (The peer cannot reach a final state's stream: the core has forgotten its id.)

_REMOTE_INPUTS: Final = frozenset({_I.RECV_DATA, _I.RECV_FIN, _I.RECV_RST})


ACTION_BITS: Final[dict[tuple[StreamState, StreamInput], tuple[StreamState, int]]] = {
    key: (state, int(actions)) for key, (state, actions) in TRANSITIONS.items()
}
""":data:`TRANSITIONS` with the actions as plain ints: the per-frame path tests bits without
building ``Action`` members (an ``IntFlag`` ``&`` costs a few hundred nanoseconds)."""


def transition(
    stream_id: int, state: StreamState, event: StreamInput
) -> tuple[StreamState, Action]:
    """Look up ``(state, event)`` in :data:`TRANSITIONS`.

    Raises:
        YamuxProtocolError: the pair is not in the table (``remote`` tells whose input).
    """
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise YamuxProtocolError(
            f"stream {stream_id}: {event.name} is invalid in state {state.name}",
            remote=event in _REMOTE_INPUTS,
        ) from None
