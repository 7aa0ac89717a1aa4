"""The relay ``Status`` codes (shared by hop and stop messages)."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Status codes of circuit relay v2 (wire values)."""

    UNUSED = 0
    OK = 100
    RESERVATION_REFUSED = 200
    RESOURCE_LIMIT_EXCEEDED = 201
    PERMISSION_DENIED = 202
    CONNECTION_FAILED = 203
    NO_RESERVATION = 204
    MALFORMED_MESSAGE = 400
    UNEXPECTED_MESSAGE = 401

    @classmethod
    def name_of(cls, value: int) -> str:
        """The member name of ``value``, or the number as text when it is unknown."""
        try:
            return cls(value).name
        except ValueError:
            return str(value)
