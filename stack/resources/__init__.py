"""Resource accounting: memory budgets and scopes."""

from .budget import UNLIMITED, MemoryBudget, Unlimited

__all__ = ["UNLIMITED", "MemoryBudget", "Unlimited"]
