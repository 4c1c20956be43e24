"""The one registry idiom: named factories, listed by `names()`, built by `get(name)` with an error that lists them.
Modes, preference policies, filters, graph stores, graph extractors, LLM backends and eval suites all use it."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, factories: dict[str, Callable[[], T]]):
        self.kind = kind
        self._factories = dict(factories)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def get(self, name: str) -> T:
        if name not in self._factories:
            raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}")
        return self._factories[name]()
