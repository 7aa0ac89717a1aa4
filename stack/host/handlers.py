"""The node's stream handlers by protocol id: :class:`HandlerTable`.

A protocol is served over limited (relayed) connections only when it was registered with
``allow_limited`` (by default the :data:`~p2pstack.host.connection.LIMITED_OK_PROTOCOLS`).
"""

from __future__ import annotations

from p2pstack.errors import InvalidConfigError
from p2pstack.host.connection import LIMITED_OK_PROTOCOLS
from p2pstack.host.context import StreamHandler


class HandlerTable:
    """Protocol id -> handler, and which of them limited connections may negotiate."""

    def __init__(self) -> None:
        self._handlers: dict[str, StreamHandler] = {}
        self._limited_ok: set[str] = set()

    def set(self, protocol: str, handler: StreamHandler, *, allow_limited: bool | None) -> None:
        """Serve ``protocol`` with ``handler`` (replacing one); ``allow_limited=None``: only
        when it is one of the ``LIMITED_OK_PROTOCOLS``.

        Raises:
            InvalidConfigError: ``protocol`` does not start with ``/``.
        """
        if not protocol.startswith("/"):
            raise InvalidConfigError(f"protocol ids start with '/': {protocol!r}")
        self._handlers[protocol] = handler
        if allow_limited is None:
            allow_limited = protocol in LIMITED_OK_PROTOCOLS
        if allow_limited:
            self._limited_ok.add(protocol)
        else:
            self._limited_ok.discard(protocol)

    def remove(self, protocol: str) -> None:
        """Stop serving ``protocol`` (no-op when it was not served)."""
        self._handlers.pop(protocol, None)
        self._limited_ok.discard(protocol)

    @property
    def protocols(self) -> list[str]:
        """The protocol ids served, sorted."""
        return sorted(self._handlers)

    def for_connection(self, *, limited: bool) -> dict[str, StreamHandler]:
        """The handlers a connection may negotiate (fewer when ``limited``); the full table
        is returned as it is (callers only read it)."""
        if limited:
            return {p: h for p, h in self._handlers.items() if p in self._limited_ok}
        return self._handlers
