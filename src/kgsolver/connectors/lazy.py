"""Lazy package exports (PEP 562): a package lists what it exports and from which submodule, and each is imported on
first use, so that importing one settings module does not import the whole package (`kgsolver --help` stays fast)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """The package's module-level `__getattr__`: name -> getattr(import package.<exports[name]>, name)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
