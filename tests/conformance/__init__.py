"""Shared conformance suites: each runs unchanged over every implementation we ship.

``test_transport.py`` (TCP, WebSocket, WebSocket over TLS, memory, relay circuit),
``test_muxer.py`` (Yamux over memory streams and TCP) and ``test_security.py`` (Noise over
memory streams and TCP). The implementations are factories in ``transports.py``,
``muxers.py`` and ``security.py``: adding one there runs the whole suite over it.
"""
