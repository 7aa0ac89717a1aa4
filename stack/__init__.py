"""p2pstack: a libp2p-compatible peer-to-peer networking stack for trio."""
