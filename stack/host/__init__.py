"""The host: the node, its connections, dials, upgrades, policies and resource accounting.

Built on the foundations (errors, identity, multiaddr, multistream, :mod:`p2pstack.abc`); it
imports no transport, muxer or protocol (the defaults are picked in :mod:`p2pstack.compose`).
"""
