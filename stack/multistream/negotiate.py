"""Trio adapters running the multistream-select machines over a stream.

Each function returns (or keeps) a :class:`~p2pstack.bufstream.BufferedStream` around the stream
it was given, holding any bytes that arrived after the final negotiation message, so the next
layer loses nothing. A stream that already is a ``BufferedStream`` is reused, not re-wrapped.

Errors (besides trio's own ``BrokenResourceError``/``ClosedResourceError`` from the stream):

- :class:`~p2pstack.errors.NegotiationTimeout` (a ``NegotiationFailed``): ``timeout`` elapsed.
- :class:`~p2pstack.errors.NegotiationFailed`: no common protocol, or the peer closed the stream
  between messages (the listener's way of giving up).
- :class:`~p2pstack.errors.ProtocolError` subclasses: the peer sent garbage; ``UnexpectedEOF``
  when the stream ended inside a message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Final

import trio

from p2pstack.bufstream import BufferedStream
from p2pstack.errors import MultistreamError, NegotiationFailed, NegotiationTimeout, ProtocolError
from p2pstack.multistream.core import (
    MAX_REJECTIONS,
    Machine,
    MultistreamDialer,
    MultistreamListener,
    MultistreamLister,
)

logger = logging.getLogger("p2pstack.multistream")

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a whole negotiation may take by default."""


def as_buffered(stream: trio.abc.Stream) -> BufferedStream:
    """``stream`` itself if it is a :class:`BufferedStream`, else a new wrapper around it."""
    return stream if isinstance(stream, BufferedStream) else BufferedStream(stream)


@contextlib.contextmanager
def negotiation_deadline(timeout: float | None, what: str) -> Iterator[None]:
    """Turn ``timeout`` expiring inside the block into :class:`NegotiationTimeout`."""
    if timeout is None:
        yield
        return
    try:
        with trio.fail_after(timeout):
            yield
    except trio.TooSlowError:
        raise NegotiationTimeout(f"multistream-select {what} timed out after {timeout} s") from None


async def run_machine(machine: Machine, stream: BufferedStream) -> None:
    """Exchange bytes between ``machine`` and ``stream`` until the machine is done.

    Sends what the machine queues, feeds it what arrives (end of stream as ``None``) and puts
    the trailing data back into ``stream``'s buffer. When the machine fails, what it queued
    before failing is still sent (best effort), then the error propagates.
    """
    outgoing = machine.data_to_send()
    if outgoing:
        await stream.send_all(outgoing)
    while not machine.done:
        data = await stream.receive_some()
        try:
            machine.receive_data(data if data else None)
        except (NegotiationFailed, ProtocolError):
            # Answers queued before the failure (a listener's "na" to a lazy dialer whose
            # application bytes then failed to parse) still tell the peer what happened.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                outgoing = machine.data_to_send()
                if outgoing:
                    await stream.send_all(outgoing)
            raise
        outgoing = machine.data_to_send()
        if outgoing:
            await stream.send_all(outgoing)
    if machine.trailing_data:
        stream.unread(machine.trailing_data)


async def select_protocol(
    stream: trio.abc.Stream,
    protocols: Sequence[str],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (maps to NegotiationTimeout)
    header_exchanged: bool = False,
) -> tuple[str, BufferedStream]:
    """Negotiate as the dialer: propose ``protocols`` in order until one is accepted.

    Sends the header and the first proposal in one write and waits for the full answer
    (use :class:`~p2pstack.multistream.lazy.LazyNegotiatedStream` to skip the round trip).

    Args:
        stream: the stream to negotiate on.
        protocols: candidates, most preferred first.
        timeout: seconds for the whole negotiation; ``None`` for no limit.
        header_exchanged: True after :func:`list_protocols` on the same (buffered) stream.

    Returns:
        ``(selected protocol, buffered stream)``.

    Raises:
        InvalidConfigError: empty ``protocols`` or an invalid id.
        NegotiationFailed, NegotiationTimeout, ProtocolError: see the module docstring.
    """
    dialer = MultistreamDialer(protocols, header_exchanged=header_exchanged)
    buffered = as_buffered(stream)
    try:
        with negotiation_deadline(timeout, "dial"):
            await run_machine(dialer, buffered)
    except (NegotiationFailed, ProtocolError) as exc:
        logger.debug("multistream dial of %s failed: %s", list(protocols), exc)
        raise
    selected = dialer.selected
    assert selected is not None
    logger.debug("multistream selected %s (dialer)", selected)
    return selected, buffered


async def handle_protocol(
    stream: trio.abc.Stream,
    supported: Collection[str] | Callable[[str], bool],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (maps to NegotiationTimeout)
    max_rejections: int = MAX_REJECTIONS,
) -> tuple[str, BufferedStream]:
    """Negotiate as the listener: accept the first proposal in ``supported``.

    Bytes a lazy dialer pipelined after its proposal stay in the returned stream's buffer.

    Args:
        stream: the stream to negotiate on.
        supported: protocol ids we accept (also the ``ls`` answer), or a predicate.
        timeout: seconds for the whole negotiation; ``None`` for no limit.
        max_rejections: how many ``na``/``ls`` answers before giving up.

    Returns:
        ``(selected protocol, buffered stream)``.

    Raises:
        InvalidConfigError: an invalid id in ``supported``.
        NegotiationFailed, NegotiationTimeout, ProtocolError: see the module docstring; the
            dialer closing the stream is always ``NegotiationFailed``.
    """
    listener = MultistreamListener(supported, max_rejections=max_rejections)
    buffered = as_buffered(stream)
    try:
        with negotiation_deadline(timeout, "listen"):
            await run_machine(listener, buffered)
    except (NegotiationFailed, ProtocolError) as exc:
        logger.debug("multistream listen failed after %s: %s", listener.proposals, exc)
        raise
    selected = listener.selected
    assert selected is not None
    logger.debug("multistream selected %s (listener)", selected)
    return selected, buffered


async def list_protocols(
    stream: trio.abc.Stream,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (maps to NegotiationTimeout)
    header_exchanged: bool = False,
) -> list[str]:
    """Ask the listener for its protocols with ``ls``.

    To select a protocol afterwards, pass a :class:`BufferedStream` here and then call
    ``select_protocol(same_stream, ..., header_exchanged=True)``.

    Raises:
        NegotiationFailed: the listener answered ``na`` (go does not implement ``ls``).
        MultistreamError: the listener sent bytes after its answer and ``stream`` was not a
            ``BufferedStream`` that could keep them.
        NegotiationTimeout, ProtocolError: see the module docstring.
    """
    lister = MultistreamLister(header_exchanged=header_exchanged)
    buffered = as_buffered(stream)
    with negotiation_deadline(timeout, "ls"):
        await run_machine(lister, buffered)
    if buffered is not stream and buffered.buffered:
        raise MultistreamError("unexpected bytes after the ls answer")
    return lister.protocols
