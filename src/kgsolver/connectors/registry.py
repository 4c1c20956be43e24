"""The one registry idiom: named factories, listed by `names()`, built by `get(name)` with an error that lists them.
Modes, preference policies, filters, graph stores, graph extractors, LLM backends, pinned models and eval suites all
use it; `lazy` is the factory of an entry whose module is imported only when it is built, and `lazy_exports` the same
for a package's exports (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from kgsolver.connectors.errors import KGSolverError

T = TypeVar("T")


class UnknownName(KGSolverError, ValueError):
    """A name no registry entry has; the message lists the names that exist."""


def lazy(module: str, name: str, *args: Any) -> Callable[..., Any]:
    """A factory that imports `module` when first called and returns `module.name(*args, *its own arguments)`: so
    that listing or validating names does not import what they name (a mode, a suite, a policy)."""

    def build(*more: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, *more, **kwargs)

    return build


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A package's module-level `__getattr__` (PEP 562): name -> getattr(import package.<exports[name]>, name), so
    that importing one settings module does not import the whole package (`kgsolver --help` stays fast)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__


class Registry(Generic[T]):
    """Factories take whatever their kind needs (a store its path, a filter its settings); a factory, not an instance,
    is registered, so a backend's heavy imports happen only when it is built."""

    def __init__(self, kind: str, factories: dict[str, Callable[..., T]]):
        self.kind = kind
        self._factories = dict(factories)

    @classmethod
    def of(cls, kind: str, values: Mapping[str, T]) -> Registry[T]:
        """Entries that are values, not factories: a pinned model's record, or a name itself (settings that validate
        a name without importing what it names)."""
        return cls(kind, {name: (lambda value=value: value) for name, value in values.items()})

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
