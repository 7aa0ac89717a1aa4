"""AutoNAT errors: what a peer's bytes or a server's answer can go wrong with."""

from __future__ import annotations

from p2pstack.errors import DecodeError, ProtocolError


class AutoNATError(ProtocolError):
    """An AutoNAT exchange broke the protocol (a bad message order, an unknown nonce...)."""


class AutoNATDecodeError(AutoNATError, DecodeError):
    """An AutoNAT message is not a well-formed protobuf or lacks a required field."""
