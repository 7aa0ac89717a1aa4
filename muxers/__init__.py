"""p2pstack muxers."""
