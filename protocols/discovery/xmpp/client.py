"""The XMPP client adapter: slixmpp hosted in trio through trio-asyncio.

slixmpp (asyncio) does the XMPP work: STARTTLS with certificate verification, SASL (SCRAM
preferred), resource binding, the roster and presence. This module hides it behind a small
trio interface: :meth:`XmppClient.run` keeps a session up (reconnecting with exponential
backoff, a fresh slixmpp client per attempt) and reports what happens as plain
:data:`XmppEvent` values to a synchronous handler that runs in the trio thread.

Pitfalls handled here (see the test-bed notes): the slixmpp client is built inside
``trio_asyncio.open_loop()``; slixmpp's own connect retries are cancelled in favour of ours;
``disconnect()``'s own future is awaited (not ``disconnected``); SCRAM over plaintext is only
enabled when plaintext is explicitly allowed.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from xml.etree import ElementTree as ET

import trio

from p2pstack.errors import InvalidConfigError, StackError
from p2pstack.protocols.discovery.xmpp.jid import Jid, JidError

if TYPE_CHECKING:
    import slixmpp

logger: Final = logging.getLogger("p2pstack.discovery.xmpp.client")

AVAILABLE_TYPES: Final = frozenset({"available", "chat", "away", "xa", "dnd"})
DEFAULT_PORT: Final = 5222


class XmppError(StackError):
    """The XMPP client failed."""


class XmppAuthError(XmppError):
    """The server refused our credentials (not retried)."""


@dataclass(frozen=True, slots=True)
class SessionStarted:
    jid: Jid
    """Our bound full JID."""


@dataclass(frozen=True, slots=True)
class SessionEnded:
    reason: str


@dataclass(frozen=True, slots=True)
class RosterChanged:
    items: dict[str, str]
    """Bare JID -> subscription (none / to / from / both), the whole roster."""


@dataclass(frozen=True, slots=True)
class PresenceAvailable:
    jid: Jid
    children: tuple[ET.Element, ...]


@dataclass(frozen=True, slots=True)
class PresenceUnavailable:
    jid: Jid


XmppEvent = SessionStarted | SessionEnded | RosterChanged | PresenceAvailable | PresenceUnavailable


def parse_server(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:port`` for IPv6) -> (host, port). Raises InvalidConfigError."""
    host, port = text, DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = _parse_port(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, _, rest = text.partition(":")
        port = _parse_port(rest)
    if not host:
        raise InvalidConfigError(f"no host in server {text!r}")
    return host, port


def _parse_port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidConfigError(f"invalid port {text!r}")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class XmppConfig:
    """How to log in. ``password`` is kept out of ``repr``."""

    jid: str
    """Bare JID, or full JID to request that resource."""
    password: str = field(repr=False)
    server: tuple[str, int] | None = None
    """Host and port to connect to; default: the JID's domain on 5222 (no SRV lookup)."""
    ca_file: Path | None = None
    """CA certificates to verify the server with; default: the system's."""
    allow_plaintext: bool = False
    """Use an unencrypted stream (local tests only: no STARTTLS); otherwise STARTTLS with
    certificate verification is required."""
    contacts: tuple[str, ...] = ()
    """Bare JIDs we subscribe to and whose subscription requests we approve."""
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    connect_timeout: float = 20.0

    def __post_init__(self) -> None:
        try:
            jid = Jid.parse(self.jid)
            contacts = tuple(Jid.parse(c).bare for c in self.contacts)
        except JidError as exc:
            raise InvalidConfigError(str(exc)) from exc
        if not jid.local:
            raise InvalidConfigError(f"JID {self.jid!r} has no localpart")
        object.__setattr__(self, "contacts", contacts)
        if not self.password:
            raise InvalidConfigError("an XMPP password is required")
        if not 0 < self.reconnect_min <= self.reconnect_max:
            raise InvalidConfigError("need 0 < reconnect_min <= reconnect_max")
        if self.connect_timeout <= 0:
            raise InvalidConfigError("connect_timeout must be positive")

    @property
    def parsed_jid(self) -> Jid:
        return Jid.parse(self.jid)


class XmppClient:
    """One XMPP account, kept online by :meth:`run`; events go to ``handler``.

    ``presence`` is the list of child elements sent with every available presence; change it
    with :meth:`set_presence`, which re-sends it when connected.
    """

    def __init__(self, config: XmppConfig, handler: Callable[[XmppEvent], None]) -> None:
        self.config = config
        self._handler = handler
        self._presence: tuple[ET.Element, ...] = ()
        self._xmpp: slixmpp.ClientXMPP | None = None
        self._online = False
        self.sessions = 0
        """How many sessions have started so far."""

    @property
    def online(self) -> bool:
        return self._online

    # ----------------------------------------------------------- outgoing stanzas
    def set_presence(self, children: Iterable[ET.Element]) -> None:
        """Use ``children`` in our available presence from now on; send it if online."""
        self._presence = tuple(children)
        self._send_presence()

    def send_directed_presence(self, to: str, children: Iterable[ET.Element] = ()) -> None:
        """Send an available presence to ``to`` only (used by tests to play a stranger)."""
        self._send_presence(to=to, children=tuple(children))

    def subscribe(self, jid: str) -> None:
        """Ask for ``jid``'s presence."""
        if self._xmpp is not None and self._online:
            self._xmpp.send_presence_subscription(pto=Jid.parse(jid).bare)

    def add_roster_item(self, jid: str) -> None:
        """Put ``jid`` in our roster without any subscription."""
        if self._xmpp is not None and self._online:
            import slixmpp

            self._xmpp.update_roster(slixmpp.JID(Jid.parse(jid).bare), subscription="none")

    def drop_connection(self) -> None:
        """Abort the TCP connection now (as if the network failed); :meth:`run` reconnects."""
        if self._xmpp is not None:
            self._xmpp.abort()

    def _send_presence(
        self, to: str | None = None, children: tuple[ET.Element, ...] | None = None
    ) -> None:
        xmpp = self._xmpp
        if xmpp is None or not self._online:
            return
        stanza = xmpp.make_presence(pto=to) if to else xmpp.make_presence()
        for child in self._presence if children is None else children:
            stanza.xml.append(_copy(child))
        stanza.send()

    # ------------------------------------------------------------------- running
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Stay connected until cancelled (started immediately, online or not).

        Raises:
            XmppAuthError: the server refused our credentials.
        """
        import trio_asyncio

        fatal: XmppAuthError | None = None
        async with trio_asyncio.open_loop():
            task_status.started()
            delay = self.config.reconnect_min
            while True:
                try:
                    had_session = await self._one_session()
                except XmppAuthError as exc:
                    fatal = exc
                    break
                if had_session:
                    delay = self.config.reconnect_min
                wait = delay * random.uniform(0.8, 1.2)
                logger.info("XMPP: reconnecting in %.1f s", wait)
                await trio.sleep(wait)
                delay = min(delay * 2, self.config.reconnect_max)
        assert fatal is not None
        raise fatal

    def _new_client(self, outcome: trio.MemorySendChannel[tuple[str, Any]]) -> slixmpp.ClientXMPP:
        import slixmpp

        cfg = self.config
        plugin_config: dict[str, Any] = {}
        if cfg.allow_plaintext:
            plugin_config["feature_mechanisms"] = {"unencrypted_scram": True}
        xmpp = slixmpp.ClientXMPP(cfg.jid, cfg.password, plugin_config=plugin_config)
        xmpp.enable_direct_tls = False
        # Plaintext is an explicit local-test mode (no STARTTLS attempted); otherwise STARTTLS
        # with certificate verification is the only way in.
        xmpp.enable_starttls = not cfg.allow_plaintext
        xmpp.enable_plaintext = cfg.allow_plaintext
        if cfg.ca_file is not None:
            xmpp.ca_certs = Path(cfg.ca_file)
        xmpp.auto_authorize = None
        xmpp.auto_subscribe = False
        xmpp.register_plugin("xep_0030")
        xmpp.register_plugin("xep_0199")
        self._add_disco(xmpp)

        def report(kind: str, value: Any = None) -> None:
            with contextlib.suppress(
                trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError
            ):
                outcome.send_nowait((kind, value))

        async def on_session_start(_: Any) -> None:
            try:
                await xmpp.get_roster()
            except Exception as exc:  # slixmpp raises IqError / IqTimeout
                logger.warning("XMPP: roster request failed: %s", exc)
            report("session_start")

        xmpp.add_event_handler("session_start", on_session_start)
        xmpp.add_event_handler("failed_all_auth", lambda _: report("auth_failed"))
        xmpp.add_event_handler("connection_failed", lambda e: report("connection_failed", e))
        xmpp.add_event_handler("disconnected", lambda e: report("disconnected", e))
        xmpp.add_event_handler("stream_error", lambda e: report("stream_error", e))
        xmpp.add_event_handler("presence", self._on_presence)
        xmpp.add_event_handler("roster_update", lambda _: self._emit_roster())
        xmpp.add_event_handler("changed_subscription", lambda _: self._emit_roster())
        xmpp.add_event_handler("roster_subscription_request", self._on_subscription_request)
        return xmpp

    @staticmethod
    def _add_disco(xmpp: slixmpp.ClientXMPP) -> None:
        from p2pstack.protocols.discovery.xmpp.presence import (
            CAPS_NODE,
            FEATURES,
            IDENTITY,
            caps_ver,
        )

        disco = xmpp.plugin["xep_0030"]
        ver = caps_ver([IDENTITY], FEATURES, "sha256")
        for node in (None, f"{CAPS_NODE}#{ver}"):
            disco.add_identity(category=IDENTITY[0], itype=IDENTITY[1], name=IDENTITY[3], node=node)
            for feature in FEATURES:
                disco.add_feature(feature, node=node)

    async def _one_session(self) -> bool:
        """Connect, serve one session until it ends; True if a session was established."""
        from trio_asyncio import aio_as_trio

        send, receive = trio.open_memory_channel[tuple[str, Any]](64)
        xmpp = self._new_client(send)
        host, port = self.config.server or (self.config.parsed_jid.domain, DEFAULT_PORT)
        self._xmpp = xmpp
        established = False
        try:
            xmpp.connect(host, port)
            with trio.move_on_after(self.config.connect_timeout) as scope:
                kind, value = await receive.receive()
                while kind == "stream_error":
                    kind, value = await receive.receive()
            if scope.cancelled_caught:
                logger.warning(
                    "XMPP: no session with %s:%d after %.0f s",
                    host,
                    port,
                    self.config.connect_timeout,
                )
                return False
            if kind == "auth_failed":
                raise XmppAuthError(f"the XMPP server refused the credentials of {self.config.jid}")
            if kind != "session_start":
                logger.warning("XMPP: connecting to %s:%d failed: %s", host, port, value)
                return False
            established = True
            bound = Jid.parse(str(xmpp.boundjid.full))
            self._online = True
            self.sessions += 1
            logger.info("XMPP: session started as %s", bound)
            self._handler(SessionStarted(bound))
            self._emit_roster()
            self._subscribe_contacts()
            self._send_presence()
            while True:
                kind, value = await receive.receive()
                if kind in ("disconnected", "connection_failed"):
                    break
            logger.info("XMPP: session ended: %s", value)
            return True
        finally:
            self._online = False
            self._xmpp = None
            xmpp.cancel_connection_attempt()
            with trio.CancelScope(shield=True):
                with trio.move_on_after(2):
                    await aio_as_trio(xmpp.disconnect(wait=0.5))
                xmpp.abort()
                with trio.move_on_after(2):
                    await aio_as_trio(_cancel_pending_tasks)()
            if established:
                self._handler(SessionEnded("disconnected"))

    # ------------------------------------------------------------ incoming events
    def _emit_roster(self) -> None:
        xmpp = self._xmpp
        if xmpp is None or not self._online:
            return
        roster = xmpp.client_roster
        items: dict[str, str] = {}
        for jid in roster:
            try:
                bare = Jid.parse(str(jid)).bare
            except JidError:
                continue
            items[bare] = str(roster[jid]["subscription"] or "none")
        items.pop(Jid.parse(str(xmpp.boundjid.bare)).bare, None)
        self._handler(RosterChanged(items))

    def _subscribe_contacts(self) -> None:
        xmpp = self._xmpp
        assert xmpp is not None
        roster = xmpp.client_roster
        for bare in self.config.contacts:
            item = roster[bare] if roster.has_jid(bare) else None
            if item is None or (
                item["subscription"] not in ("to", "both") and not item["pending_out"]
            ):
                logger.info("XMPP: subscribing to %s", bare)
                xmpp.send_presence_subscription(pto=bare)

    def _on_subscription_request(self, presence: Any) -> None:
        xmpp = self._xmpp
        if xmpp is None:
            return
        try:
            bare = Jid.parse(str(presence["from"])).bare
        except JidError:
            return
        if bare in self.config.contacts:
            logger.info("XMPP: approving the subscription request of %s", bare)
            xmpp.send_presence(pto=bare, ptype="subscribed")
            item = xmpp.client_roster[bare]
            if item["subscription"] not in ("to", "both") and not item["pending_out"]:
                xmpp.send_presence_subscription(pto=bare)
        else:
            logger.info("XMPP: ignoring the subscription request of %s (not a contact)", bare)

    def _on_presence(self, presence: Any) -> None:
        xmpp = self._xmpp
        if xmpp is None:
            return
        try:
            sender = Jid.parse(str(presence["from"]))
        except JidError:
            logger.debug("XMPP: presence with an invalid from")
            return
        if str(sender) == str(Jid.parse(str(xmpp.boundjid.full))):
            return
        kind = str(presence["type"])
        if kind in AVAILABLE_TYPES:
            self._handler(PresenceAvailable(sender, tuple(presence.xml)))
        elif kind in ("unavailable", "error"):
            self._handler(PresenceUnavailable(sender))


async def _cancel_pending_tasks() -> None:
    """Cancel and reap every other asyncio task (slixmpp's filters, handlers, timers)."""
    import asyncio

    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=1.5)


def _copy(element: ET.Element) -> ET.Element:
    copy = ET.Element(element.tag, dict(element.attrib))
    copy.text, copy.tail = element.text, None
    for child in element:
        copy.append(_copy(child))
    return copy


__all__ = [
    "PresenceAvailable",
    "PresenceUnavailable",
    "RosterChanged",
    "SessionEnded",
    "SessionStarted",
    "XmppAuthError",
    "XmppClient",
    "XmppConfig",
    "XmppError",
    "XmppEvent",
    "parse_server",
]
