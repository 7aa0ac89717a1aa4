"""No two public classes of p2pstack share a name: a name says what a class is, once.

Every public module (no path part starting with ``_``) is imported and the public classes it
defines (not those it re-exports) are collected by name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import p2pstack

GENERATED_SUFFIX = "_pb2"
"""protoc's modules: their message classes are the wire schema, wrapped by hand-written types
of the same meaning (``relay.pb.circuit_pb2.Peer`` under ``relay.messages.Peer``)."""


def public_modules() -> list[str]:
    names = [p2pstack.__name__]
    for info in pkgutil.walk_packages(p2pstack.__path__, prefix="p2pstack."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or parts[-1].endswith(GENERATED_SUFFIX):
            continue
        names.append(info.name)
    return sorted(names)


def public_classes() -> dict[str, list[str]]:
    """Class name -> the modules defining a public class of that name."""
    found: dict[str, list[str]] = defaultdict(list)
    for name in public_modules():
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or not inspect.isclass(obj):
                continue
            if obj.__module__ == name and obj.__qualname__ == attr:
                found[attr].append(name)
    return found


def test_the_walk_sees_the_whole_package() -> None:
    modules = public_modules()
    for expected in (
        "p2pstack.host.node",
        "p2pstack.multistream.core",
        "p2pstack.muxers.yamux.session",
        "p2pstack.protocols.request_response.firewall",
        "p2pstack.transports.tcp",
    ):
        assert expected in modules
    assert "Connection" in public_classes()


def test_no_two_public_classes_share_a_name() -> None:
    shared = {}
    for name, where in public_classes().items():
        if len(where) > 1:
            shared[name] = where
    assert not shared, "public classes sharing a name:\n" + "\n".join(
        f"  {name}: {', '.join(where)}" for name, where in sorted(shared.items())
    )
