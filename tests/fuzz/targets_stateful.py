"""Fuzz targets of the stateful (sans-IO) decoders, fed in pieces: multistream-select, Noise
(handshake states, handshake payloads, transport frames), Yamux, request-response framing."""

from __future__ import annotations

import contextlib

from noise.connection import Keypair, NoiseConnection

from p2pstack.errors import StackError
from p2pstack.multistream.core import (
    Machine,
    MultistreamDialer,
    MultistreamListener,
    MultistreamLister,
)
from p2pstack.multistream.messages import decode_ls_response, parse_message
from p2pstack.muxers.yamux.core import YamuxCore
from p2pstack.muxers.yamux.events import InboundStreamOpened
from p2pstack.muxers.yamux.stream_record import StreamRecord
from p2pstack.protocols.request_response.framing import FrameDecoder
from p2pstack.role import Role
from p2pstack.security.noise.cipher import FrameDecryptor
from p2pstack.security.noise.framing import MAX_MESSAGE_LEN, encode_frame, split_frame
from p2pstack.security.noise.handshake import PROTOCOL_NAME, NoiseHandshake
from p2pstack.security.noise.payload import decode_payload

from .registry import chunks, decodes, target
from .targets_codecs import ALICE, BOB

# ------------------------------------------------------------------ multistream-select
_OURS = ("/ipfs/ping/1.0.0", "/echo/1.0.0")


def _feed_machine(machine: Machine, pieces: list[bytes]) -> None:
    try:
        for piece in pieces:
            machine.receive_data(piece)
            machine.data_to_send()
            if machine.done:
                return
        machine.receive_data(None)
    except StackError:
        return


@target("multistream")
def multistream(data: bytes) -> None:
    pieces = chunks(data)
    _feed_machine(MultistreamListener(_OURS), pieces)
    _feed_machine(MultistreamDialer(_OURS), pieces)
    _feed_machine(MultistreamDialer(_OURS, header_exchanged=True), pieces)
    _feed_machine(MultistreamLister(), pieces)
    body = data[1:]
    decodes(parse_message, body)
    decodes(decode_ls_response, body)


# ------------------------------------------------------------------------------ Noise
_PEER_STATIC = bytes(range(1, 33))


def _noise_peer(initiator: bool) -> NoiseConnection:
    conn = NoiseConnection.from_name(PROTOCOL_NAME)
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_keypair_from_private_bytes(Keypair.STATIC, _PEER_STATIC)
    conn.start_handshake()
    return conn


def _feed_handshake(ours: NoiseHandshake, pieces: list[bytes]) -> None:
    try:
        for piece in pieces:
            ours.receive_data(piece)
            ours.data_to_send()
    except StackError:
        return


@target("noise_responder")
def noise_responder(data: bytes) -> None:
    """Raw hostile bytes as the initiator's handshake messages."""
    _feed_handshake(NoiseHandshake(BOB, role=Role.RESPONDER), chunks(data))


@target("noise_initiator")
def noise_initiator(data: bytes) -> None:
    """Raw hostile bytes as the responder's handshake messages."""
    _feed_handshake(
        NoiseHandshake(ALICE, role=Role.INITIATOR, expected_peer=BOB.peer_id), chunks(data)
    )


def _frame_body(data: bytes) -> bytes:
    return split_frame(data)[0]  # type: ignore[index]


@target("noise_msg2_payload")
def noise_msg2_payload(data: bytes) -> None:
    """A real responder whose (encrypted, well-formed) msg2 carries the input as payload."""
    ours = NoiseHandshake(ALICE, role=Role.INITIATOR)
    peer = _noise_peer(initiator=False)
    peer.read_message(_frame_body(ours.data_to_send()))
    message = bytes(peer.write_message(data[: MAX_MESSAGE_LEN - 96]))
    _feed_handshake(ours, [encode_frame(message)])


@target("noise_msg3_payload")
def noise_msg3_payload(data: bytes) -> None:
    """A real initiator whose (encrypted, well-formed) msg3 carries the input as payload."""
    ours = NoiseHandshake(BOB, role=Role.RESPONDER)
    peer = _noise_peer(initiator=True)
    ours.receive_data(encode_frame(bytes(peer.write_message(b""))))
    peer.read_message(_frame_body(ours.data_to_send()))
    message = bytes(peer.write_message(data[: MAX_MESSAGE_LEN - 64]))
    _feed_handshake(ours, [encode_frame(message)])


@target("noise_payload")
def noise_payload(data: bytes) -> None:
    decodes(decode_payload, data)


@target("noise_transport")
def noise_transport(data: bytes) -> None:
    decryptor = FrameDecryptor(bytes(32))
    try:
        for piece in chunks(data):
            decryptor.feed(piece)
    except StackError:
        return


# ------------------------------------------------------------------------------ Yamux
@target("yamux")
def yamux(data: bytes) -> None:
    """Frames from a peer into a core that acts like an application: accepts, reads, writes."""
    control = data[0] if data else 0
    core = YamuxCore(role=Role.INITIATOR if control & 1 else Role.RESPONDER)
    streams: list[StreamRecord] = []
    with contextlib.suppress(StackError):
        streams.append(core.open_stream())
    now = 0.0
    for piece in chunks(data):
        now += 0.5
        try:
            core.receive_data(piece, now)
        except StackError:
            return
        for event in core.next_events():
            if isinstance(event, InboundStreamOpened):
                accepted = core.accept_stream(now)
                if accepted is not None:
                    streams.append(accepted)
        for stream in streams:
            try:
                core.read(stream, 1 << 20, now)
                core.send_data(stream, memoryview(b"x" * 100))
            except StackError:
                pass
        core.handle_timer(now)
        core.data_to_send()
    core.receive_eof()
    core.next_events()


# ------------------------------------------------------------------- request-response
@target("rr_framing")
def rr_framing(data: bytes) -> None:
    control = data[0] if data else 0
    decoder = FrameDecoder(64, accept_rejection=bool(control & 1))
    try:
        for piece in [*chunks(data), None]:
            decoder.receive_data(piece)
            decoder.wanted()
    except StackError:
        return
