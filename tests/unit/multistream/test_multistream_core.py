"""Sans-IO multistream machines back to back: whole, byte by byte, with trailing data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given, strategies as st

from p2pstack.errors import (
    InvalidConfigError,
    MessageTooLarge,
    MultistreamError,
    NegotiationFailed,
    ProtocolError,
    UnexpectedEOF,
)
from p2pstack.multistream import (
    MAX_REJECTIONS,
    Machine,
    MultistreamDialer,
    MultistreamListener,
    MultistreamLister,
    State,
)
from p2pstack.multistream.messages import encode_ls_response, encode_message

HEADER = encode_message("/multistream/1.0.0")
NA = encode_message("na")
NOISE_MSG1 = b"\x00\x20" + bytes(range(32))

Feed = Callable[[Machine, bytes], bytes]


def feed_whole(machine: Machine, data: bytes) -> bytes:
    """Feed everything at once; return the bytes the machine did not consume (none)."""
    machine.receive_data(data)
    return b""


def feed_bytewise(machine: Machine, data: bytes) -> bytes:
    """Feed one byte at a time until done; return the bytes left unfed."""
    for i in range(len(data)):
        if machine.done:
            return data[i:]
        machine.receive_data(data[i : i + 1])
    return b""


FEEDS = pytest.mark.parametrize("feed", [feed_whole, feed_bytewise], ids=["whole", "bytewise"])


def run_pair(
    dialer: Machine,
    listener: MultistreamListener,
    feed: Feed,
    *,
    dialer_app: bytes = b"",
    listener_app: bytes = b"",
) -> tuple[bytes, bytes]:
    """Shuttle bytes until both are done; return the app bytes each side ends up holding."""
    to_listener = dialer.data_to_send() + dialer_app
    to_dialer = b""
    listener_rest = dialer_rest = b""
    for _ in range(100):
        if to_listener and not listener.done:
            listener_rest = feed(listener, to_listener)
            to_listener = b""
            to_dialer += listener.data_to_send()
            if listener.done:
                to_dialer += listener_app
        if to_dialer and not dialer.done:
            dialer_rest = feed(dialer, to_dialer)
            to_dialer = b""
            to_listener += dialer.data_to_send()
        if dialer.done and listener.done:
            break
    assert dialer.done
    assert listener.done
    return listener.trailing_data + listener_rest, dialer.trailing_data + dialer_rest


@FEEDS
def test_first_choice_selected(feed: Feed) -> None:
    dialer, listener = MultistreamDialer(["/noise"]), MultistreamListener(["/tls/1.0.0", "/noise"])
    assert run_pair(dialer, listener, feed) == (b"", b"")
    assert dialer.selected == listener.selected == "/noise"
    assert dialer.tried == ("/noise",)
    assert dialer.state is listener.state is State.DONE


@FEEDS
def test_pipelined_application_data_is_handed_on(feed: Feed) -> None:
    dialer, listener = MultistreamDialer(["/noise"]), MultistreamListener({"/noise"})
    app = run_pair(dialer, listener, feed, dialer_app=NOISE_MSG1, listener_app=b"server first")
    assert app == (NOISE_MSG1, b"server first")


def test_lazy_flight_in_one_read_keeps_the_data() -> None:
    listener = MultistreamListener(["/yamux/1.0.0"])
    flight = HEADER + encode_message("/yamux/1.0.0") + b"\x00\x01\x00\x01" + b"\x00" * 8
    listener.receive_data(flight)
    assert listener.selected == "/yamux/1.0.0"
    assert listener.data_to_send() == HEADER + encode_message("/yamux/1.0.0")
    assert listener.trailing_data == b"\x00\x01\x00\x01" + b"\x00" * 8


def test_wire_bytes_of_each_side() -> None:
    dialer = MultistreamDialer(["/noise", "/tls/1.0.0"])
    assert dialer.data_to_send() == HEADER + encode_message("/noise")
    assert dialer.data_to_send() == b""
    listener = MultistreamListener(["/tls/1.0.0"])
    assert listener.data_to_send() == b""  # waits for the dialer's header (like rust)
    listener.receive_data(HEADER)
    assert listener.data_to_send() == HEADER
    listener.receive_data(encode_message("/noise"))
    assert listener.data_to_send() == NA
    dialer.receive_data(HEADER + NA)
    assert dialer.data_to_send() == encode_message("/tls/1.0.0")
    assert dialer.tried == ("/noise", "/tls/1.0.0")


@FEEDS
def test_na_then_success(feed: Feed) -> None:
    dialer, listener = MultistreamDialer(["/a", "/b", "/c"]), MultistreamListener(["/c", "/b"])
    assert run_pair(dialer, listener, feed, dialer_app=b"", listener_app=b"hi") == (b"", b"hi")
    assert dialer.selected == listener.selected == "/b"
    assert listener.proposals == ("/a", "/b")


@FEEDS
def test_no_common_protocol(feed: Feed) -> None:
    dialer, listener = MultistreamDialer(["/a", "/b"]), MultistreamListener(["/c"])
    with pytest.raises(NegotiationFailed) as info:
        run_pair(dialer, listener, feed)
    assert info.value.protocols == ("/a", "/b")
    assert dialer.state is State.FAILED
    with pytest.raises(NegotiationFailed) as again:  # sticky
        dialer.receive_data(b"")
    assert again.value is info.value
    # The dialer gives up by closing: end of stream is a negotiation failure for the listener.
    with pytest.raises(NegotiationFailed) as eof:
        listener.receive_data(None)
    assert eof.value.protocols == ("/a", "/b")


def test_predicate_listener() -> None:
    dialer = MultistreamDialer(["/echo/2", "/echo/1"])
    listener = MultistreamListener(lambda p: p.startswith("/echo/1"))
    run_pair(dialer, listener, feed_whole)
    assert listener.selected == "/echo/1"


@FEEDS
def test_ls_then_select(feed: Feed) -> None:
    listener = MultistreamListener(["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"])
    lister = MultistreamLister()
    assert lister.data_to_send() == HEADER + encode_message("ls")
    to_listener = HEADER + encode_message("ls")
    assert feed(listener, to_listener) == b""
    answer = listener.data_to_send()
    assert answer == HEADER + encode_ls_response(["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"])
    assert feed(lister, answer) == b""
    assert lister.done
    assert lister.protocols == ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"]
    dialer = MultistreamDialer(["/ipfs/ping/1.0.0"], header_exchanged=True)
    assert dialer.data_to_send() == encode_message("/ipfs/ping/1.0.0")
    listener_rest = feed(listener, encode_message("/ipfs/ping/1.0.0") + b"ping")
    dialer_rest = feed(dialer, listener.data_to_send())
    assert dialer.selected == listener.selected == "/ipfs/ping/1.0.0"
    assert dialer_rest == b""
    assert listener.trailing_data + listener_rest == b"ping"


def test_ls_with_predicate_answers_na() -> None:
    lister, listener = MultistreamLister(), MultistreamListener(lambda p: True)
    listener.receive_data(lister.data_to_send())
    with pytest.raises(NegotiationFailed, match="ls"):
        lister.receive_data(listener.data_to_send())


def test_listener_gives_up_after_max_rejections() -> None:
    listener = MultistreamListener(["/x"])
    listener.receive_data(HEADER)
    for i in range(MAX_REJECTIONS):
        listener.receive_data(encode_message(f"/p/{i}"))
    assert listener.data_to_send() == HEADER + NA * MAX_REJECTIONS
    with pytest.raises(NegotiationFailed, match="without selecting"):
        listener.receive_data(encode_message("/one/more"))
    listener2 = MultistreamListener(["/x"], max_rejections=2)
    listener2.receive_data(HEADER + encode_message("ls") * 2)
    with pytest.raises(NegotiationFailed):
        listener2.receive_data(encode_message("ls"))


def test_listener_after_na_treats_lazy_garbage_as_failure() -> None:
    listener = MultistreamListener(["/tls/1.0.0"])
    with pytest.raises(NegotiationFailed) as info:
        listener.receive_data(HEADER + encode_message("/noise") + NOISE_MSG1)
    assert isinstance(info.value.__cause__, ProtocolError)
    assert info.value.protocols == ("/noise",)
    oversized = MultistreamListener(["/tls/1.0.0"])
    with pytest.raises(NegotiationFailed):
        oversized.receive_data(HEADER + encode_message("/noise") + b"\xff\xff\x03")


def test_garbage_before_any_na_is_a_protocol_error() -> None:
    with pytest.raises(MultistreamError):
        MultistreamListener(["/a"]).receive_data(HEADER + NOISE_MSG1)
    with pytest.raises(MultistreamError, match="header"):
        MultistreamListener(["/a"]).receive_data(encode_message("/multistream/2.0.0"))
    with pytest.raises(MultistreamError):
        MultistreamListener(["/a"]).receive_data(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 3
        )
    with pytest.raises(MultistreamError, match="invalid protocol id"):
        MultistreamListener(["/a"]).receive_data(HEADER + encode_message("na"))
    with pytest.raises(MultistreamError, match="invalid protocol id"):
        MultistreamListener(["/a"]).receive_data(HEADER + b"\x04abc\n")


def test_dialer_rejects_unexpected_answers() -> None:
    with pytest.raises(MultistreamError, match="header"):
        MultistreamDialer(["/a"]).receive_data(encode_message("/a"))
    with pytest.raises(MultistreamError, match="answered '/b'"):
        MultistreamDialer(["/a"]).receive_data(HEADER + encode_message("/b"))
    with pytest.raises(MultistreamError, match="UTF-8"):
        MultistreamDialer(["/a"]).receive_data(HEADER + b"\x03\xff\xfe\n")


def test_oversized_message_rejected_before_its_body() -> None:
    for machine in (MultistreamDialer(["/a"]), MultistreamListener(["/a"]), MultistreamLister()):
        with pytest.raises(MessageTooLarge):
            machine.receive_data(b"\x81\x08")  # 1025, no body sent


def test_missing_newline() -> None:
    with pytest.raises(MultistreamError, match="newline"):
        MultistreamListener(["/a"]).receive_data(b"\x13/multistream/1.0.0x")
    with pytest.raises(MultistreamError, match="newline"):
        MultistreamDialer(["/a"]).receive_data(HEADER + b"\x02/a")


def test_end_of_stream() -> None:
    with pytest.raises(NegotiationFailed):
        MultistreamListener(["/a"]).receive_data(None)
    half = MultistreamListener(["/a"])
    half.receive_data(HEADER[:5])
    with pytest.raises(NegotiationFailed):
        half.receive_data(None)
    with pytest.raises(NegotiationFailed, match="closed"):
        MultistreamDialer(["/a"]).receive_data(None)
    dialer = MultistreamDialer(["/a"])
    dialer.receive_data(HEADER[:3])
    with pytest.raises(UnexpectedEOF):
        dialer.receive_data(None)
    with pytest.raises(NegotiationFailed, match="ls"):
        MultistreamLister().receive_data(None)
    lister = MultistreamLister()
    lister.receive_data(HEADER + b"\x05")
    with pytest.raises(UnexpectedEOF):
        lister.receive_data(None)


def test_empty_feed_is_not_end_of_stream() -> None:
    dialer = MultistreamDialer(["/a"])
    dialer.receive_data(b"")
    assert dialer.state is State.AWAIT_HEADER


def test_use_after_done_is_a_local_error() -> None:
    dialer, listener = MultistreamDialer(["/a"]), MultistreamListener(["/a"])
    run_pair(dialer, listener, feed_whole)
    with pytest.raises(MultistreamError) as info:
        dialer.receive_data(b"more")
    assert info.value.remote is False


@pytest.mark.parametrize("protocols", [[], "/a", ["a"], ["/a", "/b\n"], ["/" + "x" * 2000]])
def test_dialer_rejects_bad_configuration(protocols: list[str]) -> None:
    with pytest.raises(InvalidConfigError):
        MultistreamDialer(protocols)


@pytest.mark.parametrize("supported", ["/a", ["/a", "b"], {""}])
def test_listener_rejects_bad_configuration(supported: list[str]) -> None:
    with pytest.raises(InvalidConfigError):
        MultistreamListener(supported)


# --- hypothesis: any bytes, any chunking -> progress or one of our typed errors -----------

OURS = (ProtocolError, NegotiationFailed)
_chunks = st.lists(st.binary(max_size=40), max_size=8)
_prefixes = st.sampled_from([b"", HEADER, HEADER + encode_message("/a"), HEADER + NA])


def _drive(machine: Machine, prefix: bytes, chunks: list[bytes], eof: bool) -> None:
    try:
        for chunk in [prefix, *chunks]:
            if machine.done:
                return
            machine.receive_data(chunk)
        if eof and not machine.done:
            machine.receive_data(None)
    except OURS:
        assert machine.state is State.FAILED
        with pytest.raises(OURS):
            machine.receive_data(b"x")


@given(_prefixes, _chunks, st.booleans())
@example(HEADER, [NOISE_MSG1], True)
def test_dialer_any_bytes(prefix: bytes, chunks: list[bytes], eof: bool) -> None:
    _drive(MultistreamDialer(["/a", "/b"]), prefix, chunks, eof)


@given(_prefixes, _chunks, st.booleans())
@example(HEADER, [encode_message("/x"), NOISE_MSG1], False)
def test_listener_any_bytes(prefix: bytes, chunks: list[bytes], eof: bool) -> None:
    _drive(MultistreamListener(["/a"], max_rejections=3), prefix, chunks, eof)


@given(_prefixes, _chunks, st.booleans())
def test_lister_any_bytes(prefix: bytes, chunks: list[bytes], eof: bool) -> None:
    _drive(MultistreamLister(), prefix, chunks, eof)


@given(st.binary(max_size=64), st.integers(1, 7))
def test_pair_with_any_trailing_bytes(app: bytes, step: int) -> None:
    def feed_chunked(machine: Machine, data: bytes) -> bytes:
        for i in range(0, len(data), step):
            if machine.done:
                return data[i:]
            machine.receive_data(data[i : i + step])
        return b""

    dialer, listener = MultistreamDialer(["/x", "/a"]), MultistreamListener(["/a"])
    assert run_pair(dialer, listener, feed_chunked, listener_app=app) == (b"", app)
