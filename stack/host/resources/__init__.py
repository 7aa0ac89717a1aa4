"""Resource accounting: the resource manager, its scopes, memory limits and budgets."""

from p2pstack.abc.budget import UNLIMITED, MemoryBudget, Unlimited
from p2pstack.host.resources.limits import GiB, KiB, MemoryLimits, MiB, default_system_memory
from p2pstack.host.resources.manager import (
    ConnectionScope,
    LimitRefused,
    ResourceManager,
    StreamScope,
)
from p2pstack.host.resources.scope import ResourceScope, ScopeLimit

__all__ = [
    "UNLIMITED",
    "ConnectionScope",
    "GiB",
    "KiB",
    "LimitRefused",
    "MemoryBudget",
    "MemoryLimits",
    "MiB",
    "ResourceManager",
    "ResourceScope",
    "ScopeLimit",
    "StreamScope",
    "Unlimited",
    "default_system_memory",
]
