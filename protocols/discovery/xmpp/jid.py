"""Jabber ids: parsing and the comparisons the P2P checks need.

Bare JIDs compare case-insensitively (localpart and domain lower-cased, a simplification of
nodeprep/nameprep that is exact for ASCII); resources compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2pstack.errors import DecodeError

MAX_PART = 1023


class JidError(DecodeError):
    """A string is not a valid JID (or not a full JID where one is required)."""


@dataclass(frozen=True, slots=True, order=True)
class Jid:
    """A parsed JID: ``local@domain/resource`` (local and resource optional)."""

    local: str
    domain: str
    resource: str = ""

    @classmethod
    def parse(cls, text: str) -> Jid:
        """Parse ``text``; localpart and domain are lower-cased. Raises :class:`JidError`."""
        if not isinstance(text, str) or not text:
            raise JidError("empty JID")
        bare, slash, resource = text.partition("/")
        if slash and not resource:
            raise JidError(f"empty resource in JID {text!r}")
        local, at, domain = bare.rpartition("@")
        if at and not local:
            raise JidError(f"empty localpart in JID {text!r}")
        if not domain or any(c in domain for c in " @\"&'/:<>") or domain.endswith("."):
            raise JidError(f"invalid domain in JID {text!r}")
        if any(c in local for c in " \"&'/:<>@"):
            raise JidError(f"invalid localpart in JID {text!r}")
        try:
            sizes = [len(part.encode()) for part in (local, domain, resource)]
        except UnicodeEncodeError:  # lone surrogates: not Unicode text
            raise JidError(f"JID {text[:64]!r} is not valid Unicode") from None
        if max(sizes) > MAX_PART:
            raise JidError(f"JID part too long in {text[:64]!r}...")
        if any(ord(c) < 0x20 for c in text):
            raise JidError("control character in JID")
        return cls(local.lower(), domain.lower(), resource)

    @classmethod
    def parse_full(cls, text: str) -> Jid:
        """Parse a full JID (with a resource). Raises :class:`JidError`."""
        jid = cls.parse(text)
        if not jid.resource or not jid.local:
            raise JidError(f"{text!r} is not a full JID (local@domain/resource)")
        return jid

    @property
    def bare(self) -> str:
        """``local@domain`` (lower-cased)."""
        return f"{self.local}@{self.domain}" if self.local else self.domain

    @property
    def is_full(self) -> bool:
        return bool(self.resource)

    def __str__(self) -> str:
        return f"{self.bare}/{self.resource}" if self.resource else self.bare


def bare_of(text: str) -> str:
    """The normalised bare JID of ``text``. Raises :class:`JidError`."""
    return Jid.parse(text).bare
