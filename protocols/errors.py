"""Errors of the built-in protocols."""

from __future__ import annotations

from p2pstack.errors import DecodeError, ProtocolError, StackError


class PingError(ProtocolError):
    """The peer answered a ping with different bytes."""


class PingTimeout(StackError):
    """No ping answer arrived in time."""


class IdentifyError(ProtocolError):
    """An identify message was malformed or did not match the authenticated peer."""


class IdentifyDecodeError(IdentifyError, DecodeError):
    """An identify message is not a well-formed protobuf (or a string field is not UTF-8)."""


class EchoError(ProtocolError):
    """The echo came back different from what was sent."""
