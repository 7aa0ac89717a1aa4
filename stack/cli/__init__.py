"""The ``p2pstack`` command line."""
