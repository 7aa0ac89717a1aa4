"""Resource accounting: the resource manager, its scopes, memory limits and budgets."""

from .budget import UNLIMITED, MemoryBudget, Unlimited
from .limits import GiB, KiB, MemoryLimits, MiB, default_system_memory
from .manager import ConnectionScope, LimitRefused, ResourceManager, StreamScope
from .scope import ResourceScope, ScopeLimit

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
