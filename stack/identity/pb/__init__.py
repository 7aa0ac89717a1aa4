"""Generated protobuf modules: libp2p keys (``crypto.proto``), signed envelopes
(``envelope.proto``) and peer records (``peer_record.proto``)."""
