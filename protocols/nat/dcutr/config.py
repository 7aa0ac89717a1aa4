"""DCUtR configuration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from p2pstack.errors import InvalidConfigError
from p2pstack.protocols.nat.dcutr.messages import MAX_ADDR_LEN, MAX_ADDRS

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext
    from p2pstack.multiaddr import Multiaddr


@dataclass(frozen=True, kw_only=True, slots=True)
class DCUtRConfig:
    """Options of :func:`p2pstack.protocols.nat.dcutr.dcutr`; the defaults follow go-libp2p.

    - ``max_attempts`` (3): CONNECT/SYNC rounds on one stream before giving up (the spec's
      "retry twice").
    - ``stream_timeout`` (15 s): the whole exchange on one stream, every round included;
      ``message_timeout`` (5 s): waiting for one message of the peer.
    - ``dial_timeout`` (5 s): one simultaneous-open dial (every address of the peer raced).
    - ``max_addrs`` (32) / ``max_addr_len`` (256 bytes): addresses kept from a CONNECT (the
      rest are dropped and counted); a message is at most 4096 bytes (the spec's limit).
    - ``allow_private_addrs`` (False): also send and dial private/loopback addresses (tests
      on one machine); by default only public IP addresses are punched.
    - ``addrs`` (None): a function giving the addresses we send in CONNECT; by default the
      addresses peers observed (identify) and the announced ones, public TCP only.
    - ``auto`` (True): start the exchange on every limited connection we accepted.
    - ``direct_first`` (True): before the exchange, dial the peer's public addresses
      directly (the spec's unilateral upgrade: a peer that is reachable needs no punch);
      bounded by ``dial_timeout``. The addresses are the peer store's after identify ran on
      the relayed connection (waited for up to ``message_timeout``).
    - ``max_concurrent`` (8): exchanges running at once (one per peer at most).
    """

    max_attempts: int = 3
    stream_timeout: float = 15.0
    message_timeout: float = 5.0
    dial_timeout: float = 5.0
    max_addrs: int = MAX_ADDRS
    max_addr_len: int = MAX_ADDR_LEN
    allow_private_addrs: bool = False
    addrs: Callable[[NodeContext], Sequence[Multiaddr]] | None = None
    auto: bool = True
    direct_first: bool = True
    max_concurrent: int = 8

    def __post_init__(self) -> None:
        for name in ("max_attempts", "max_addrs", "max_addr_len", "max_concurrent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1024:
                raise InvalidConfigError(f"DCUtRConfig.{name} must be an int in [1, 1024]")
        for name in ("stream_timeout", "message_timeout", "dial_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidConfigError(f"DCUtRConfig.{name} must be a positive number")
        if self.addrs is not None and not callable(self.addrs):
            raise InvalidConfigError("DCUtRConfig.addrs must be a function of the node")
