"""p2pstack transports."""
