"""p2pstack protocols."""
