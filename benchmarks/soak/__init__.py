"""The soak run (``scripts/soak``): a node and a relay under honest load and attacks for a
long time, sampled for memory, fds and latency. Loopback only; it stops by itself."""
