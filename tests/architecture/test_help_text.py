"""Every public field of the node and its configuration is documented where ``help()`` shows
it: in the class docstring (attribute docstrings are invisible to ``help()`` and ``pydoc``)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import pydoc
import re
import textwrap

import pytest

from p2pstack.host.admission import AdmissionLimits
from p2pstack.host.config import NodeConfig
from p2pstack.host.limits import ConnectionLimits, ProtocolLimit, Watermarks
from p2pstack.host.node import Node
from p2pstack.host.resources import MemoryLimits

CONFIG_CLASSES = [
    NodeConfig,
    ConnectionLimits,
    ProtocolLimit,
    Watermarks,
    AdmissionLimits,
    MemoryLimits,
]


def documented(cls: type, name: str) -> bool:
    """Whether ``help(cls)`` shows an entry for ``name`` (a line of the class docstring that
    starts with it, as in an ``Attributes:`` section)."""
    text = pydoc.plain(pydoc.render_doc(cls))
    doc = inspect.getdoc(cls) or ""
    entry = re.search(rf"^\s*{re.escape(name)}(, \w+)*:\s+\S", doc, re.MULTILINE)
    return entry is not None and entry.group(0).strip() in text


def node_attributes() -> list[str]:
    """The public attributes ``Node.__init__`` assigns (``self.x = ...``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Node.__init__)))
    return sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and not node.attr.startswith("_")
        }
    )


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=lambda c: c.__name__)
def test_every_config_field_is_in_help(cls: type) -> None:
    fields = [f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]
    assert fields
    missing = [name for name in fields if not documented(cls, name)]
    assert not missing, f"help({cls.__name__}) does not document {missing}"


def test_every_node_attribute_is_in_help() -> None:
    names = node_attributes()
    assert {"peer_id", "peerstore", "events", "config"} <= set(names)
    missing = [name for name in names if not documented(Node, name)]
    assert not missing, f"help(Node) does not document {missing}"


def test_an_undocumented_field_is_noticed() -> None:
    @dataclasses.dataclass
    class Sample:
        """Attributes:
        shown: documented.
        """

        shown: int = 0
        hidden: int = 0
        """An attribute docstring: help() does not show it."""

    assert documented(Sample, "shown")
    assert not documented(Sample, "hidden")
