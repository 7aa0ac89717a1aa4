"""Generated protobuf modules for libp2p keys (``crypto.proto``)."""
