"""The stream transition table: every (state, input) pair, as h2 tests its state machines."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from p2pstack.errors import ProtocolError
from p2pstack.muxers.yamux.errors import YamuxProtocolError
from p2pstack.muxers.yamux.stream_state import (
    FINAL_STATES,
    TRANSITIONS,
    Action,
    StreamInput,
    StreamState,
    transition,
)

LIVE = [s for s in StreamState if s not in FINAL_STATES]
REMOTE = [StreamInput.RECV_DATA, StreamInput.RECV_FIN, StreamInput.RECV_RST]
LOCAL = [i for i in StreamInput if i not in REMOTE]


@given(st.sampled_from(StreamState), st.sampled_from(StreamInput))
def test_every_pair_transitions_or_raises_a_protocol_error(
    state: StreamState, event: StreamInput
) -> None:
    if (state, event) not in TRANSITIONS:
        with pytest.raises(YamuxProtocolError) as info:
            transition(7, state, event)
        assert isinstance(info.value, ProtocolError)
        assert info.value.remote is (event in REMOTE)
        assert "stream 7" in str(info.value)
        return
    new, actions = transition(7, state, event)
    assert isinstance(new, StreamState)
    assert isinstance(actions, Action)
    if state in FINAL_STATES:  # nothing brings a finished stream back
        assert new is state
        assert not actions & ~Action.DISCARD


@pytest.mark.parametrize("state", LIVE)
@pytest.mark.parametrize("event", REMOTE)
def test_a_live_stream_accepts_every_frame_of_the_peer(
    state: StreamState, event: StreamInput
) -> None:
    assert (state, event) in TRANSITIONS


@pytest.mark.parametrize("state", list(StreamState))
@pytest.mark.parametrize("event", [StreamInput.SEND_FIN, StreamInput.CLOSE, StreamInput.SEND_RST])
def test_closing_calls_of_the_application_never_fail(
    state: StreamState, event: StreamInput
) -> None:
    assert (state, event) in TRANSITIONS


def test_only_streams_we_did_not_finish_can_send() -> None:
    senders = {state for state in StreamState if (state, StreamInput.SEND_DATA) in TRANSITIONS}
    assert senders == {StreamState.OPEN, StreamState.HALF_CLOSED_REMOTE}
    with pytest.raises(YamuxProtocolError) as info:
        transition(1, StreamState.HALF_CLOSED_LOCAL, StreamInput.SEND_DATA)
    assert info.value.remote is False


@pytest.mark.parametrize(("key", "entry"), list(TRANSITIONS.items()))
def test_a_stream_is_forgotten_exactly_when_its_life_ends(
    key: tuple[StreamState, StreamInput], entry: tuple[StreamState, Action]
) -> None:
    (state, _), (new, actions) = key, entry
    ends = state not in FINAL_STATES and new in FINAL_STATES
    assert bool(actions & Action.FORGET) is ends
    # A reset sends RST or reports the peer's, a close ends with both FINs.
    if ends and new is StreamState.RESET_LOCAL:
        assert actions & Action.QUEUE_RST
    if ends and new is StreamState.RESET_REMOTE:
        assert actions & Action.EMIT_RESET


def test_fin_then_close_lingers_and_the_peers_fin_ends_it() -> None:
    state = StreamState.OPEN
    path = [
        (StreamInput.SEND_FIN, StreamState.HALF_CLOSED_LOCAL, Action.QUEUE_FIN),
        (StreamInput.RECV_DATA, StreamState.HALF_CLOSED_LOCAL, Action.NONE),
        (StreamInput.CLOSE, StreamState.CLOSING, Action.DISCARD | Action.LINGER),
        (StreamInput.RECV_FIN, StreamState.CLOSED, Action.EMIT_ENDED | Action.FORGET),
    ]
    for event, expected, actions in path:
        state, got = transition(1, state, event)
        assert (state, got) == (expected, actions)
