"""The outside world: LLM backends, embedders, vector and keyword indexes, graph stores, corpus readers.

Here, what every layer shares (a package's `__init__` holds what its modules share):
- the errors a user can act on, each naming what must be fixed (`KGSolverError` and its kinds);
- the one registry idiom: named factories, listed by `names()`, built by `get(name)` with an error that lists them.
  Modes, preference policies, filters, graph stores, graph extractors, LLM backends, pinned models and eval suites
  all use it; `lazy` is the factory of an entry whose module is imported only when it is built, and `lazy_exports`
  the same for a package's exports (PEP 562).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar


def malformed_json(path: str | os.PathLike[str], lineno: int, exc: json.JSONDecodeError) -> str:
    """The message for a JSON-lines file whose line `lineno` does not parse (`exc`, a json.JSONDecodeError):
    "data.jsonl:3: malformed JSON at column 40 (Invalid control character)"."""
    # The column from the offset: json counts the line's own trailing newline as the start of a second line, so its
    # colno says "column 1" for a record cut short. Its messages end in " at" when they mean the position.
    return f"{path}:{lineno}: malformed JSON at column {exc.pos + 1} ({exc.msg.removesuffix(' at')})"


class KGSolverError(Exception):
    """Base class: every error a user can act on."""


class CorpusFormatError(KGSolverError):
    """A corpus file is malformed; the message names the file and line."""


class MissingModelError(KGSolverError):
    """A model package is not installed; the message gives the pip command that installs it."""


class ModelIntegrityError(KGSolverError):
    """An assembled or packaged model file does not have the size or sha256 it must have."""


class LLMStepFailed(KGSolverError):
    """One LLM step gave no usable reply (the budget ran out, or the reply did not parse); its caller falls back
    (pipeline/answer/__init__.py::llm_step records the failure on the trace)."""


class BudgetExceeded(LLMStepFailed):
    """A per-question budget (LLM calls, tokens, seconds) would be exceeded."""


class StructuredOutputError(LLMStepFailed):
    """The LLM did not return JSON matching the requested schema, even after one retry."""


class KnowledgeBaseError(KGSolverError):
    """A knowledge base directory is missing, incompatible or damaged."""


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
