"""The one registry idiom: named factories, listed by `names()`, built by `get(name)` with an error that lists them.
Modes, preference policies, filters, graph stores, graph extractors, LLM backends and eval suites all use it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kgsolver.connectors.errors import KGSolverError

T = TypeVar("T")


class UnknownName(KGSolverError, ValueError):
    """A name no registry entry has; the message lists the names that exist."""


class Registry(Generic[T]):
    """Factories take whatever their kind needs (a store its path, a filter its settings); a factory, not an instance,
    is registered, so a backend's heavy imports happen only when it is built."""

    def __init__(self, kind: str, factories: dict[str, Callable[..., T]]):
        self.kind = kind
        self._factories = dict(factories)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def check(self, name: str) -> str:
        """`name` itself, or the error that lists the registered names (for configuration validators)."""
        if name not in self._factories:
            raise UnknownName(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}")
        return name

    def get(self, name: str, *args: Any, **kwargs: Any) -> T:
        return self._factories[self.check(name)](*args, **kwargs)
