"""Nothing reaches into another object's ``_private`` names across files.

Every module of p2pstack is parsed (not imported) and checked for:

(a) ``from x import _name``: a private name imported from another module;
(b) ``expr._name`` where ``expr`` is not ``self``, ``cls`` or ``super()``: a private attribute
    of another object (dunder names such as ``__class__`` are fine).

A class that needs something of another object asks for it through a documented method or
property (package-internal ones say so in their docstring).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import p2pstack

ROOT = Path(p2pstack.__file__).parent

GENERATED_SUFFIX = "_pb2.py"
"""protoc's modules are generated code (they use protobuf's private descriptor API)."""
THIRD_PARTY_INTERNALS = {
    ("transports/quic/core.py", "tls._peer_certificate"),
    ("transports/quic/core.py", "tls._peer_certificate_chain"),
    ("transports/quic/core.py", "self.tls._request_client_certificate"),
}
"""aioquic's TLS context has no public API for mutual TLS (libp2p authenticates both ends):
these accesses, in the one subclass that wraps aioquic, are the exceptions."""


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_own(expr: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: the object's own names."""
    if isinstance(expr, ast.Name):
        return expr.id in ("self", "cls")
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "super"
        and not expr.args
    )


def violations(source: str, where: str) -> list[str]:
    """Every private-name access of ``source`` that the rule forbids, as ``where:line: text``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _is_private(alias.name):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            if _is_own(node.value):
                continue
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def modules() -> list[tuple[str, Path]]:
    out = []
    for folder, _dirs, files in os.walk(ROOT, followlinks=True):
        for name in files:
            if name.endswith(".py") and not name.endswith(GENERATED_SUFFIX):
                path = Path(folder, name)
                out.append((path.relative_to(ROOT).as_posix(), path))
    return sorted(out)


def test_the_checker_catches_both_kinds() -> None:
    source = (
        "from p2pstack.x import _helper, public\n"
        "class A:\n"
        "    def f(self, other):\n"
        "        self._mine = other._theirs\n"
        "        super()._base()\n"
        "        return cls._x, other.__class__, self._node._nursery\n"
    )
    assert violations(source, "m.py") == [
        "m.py:1: from p2pstack.x import _helper",
        "m.py:4: other._theirs",
        "m.py:6: self._node._nursery",
    ]


def test_the_walk_sees_every_layer() -> None:
    names = {name for name, _ in modules()}
    for expected in (
        "host/node.py",
        "host/connmgr.py",
        "muxers/yamux/stream.py",
        "protocols/relay/hop.py",
        "transports/memory.py",
        "identity/keys.py",
    ):
        assert expected in names


def test_no_module_reaches_into_private_names() -> None:
    found = [
        v
        for name, path in modules()
        for v in violations(path.read_text(), name)
        if (name, v.split(": ", 1)[1]) not in THIRD_PARTY_INTERNALS
    ]
    assert not found, "private names used across objects:\n" + "\n".join(found)
