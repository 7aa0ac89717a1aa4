"""Peer discovery mechanisms (XMPP presence, mDNS on the local network, ...)."""
