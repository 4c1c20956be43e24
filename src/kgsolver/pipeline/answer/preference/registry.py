"""The preference-policy registry: `get_policy(name)` returns the shared instance of a policy."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from kgsolver.connectors.registry import Registry, lazy
from kgsolver.pipeline.config import policy_key

if TYPE_CHECKING:
    from kgsolver.pipeline.answer.preference.base import PreferencePolicy


def _shared(module: str, cls: str, *args: str) -> Callable[[], PreferencePolicy]:
    """One instance per process (the adaptive policy's retrieval counter lives on it), imported on first use so that
    validating the configuration's policy name does not load the policies."""
    return cache(lazy(f"kgsolver.pipeline.answer.preference.{module}", cls, *args))


POLICIES: Registry[PreferencePolicy] = Registry("preference policy", {
    "hierarchical": _shared("hierarchical", "HierarchicalPolicy"),
    "context_only": _shared("context_only", "ContextOnlyPolicy"),
    "documents_only": _shared("context_only", "ContextOnlyPolicy", "documents_only"),  # the same rule, the user's name
    "tagged": _shared("tagged", "TaggedPolicy"),
    "adaptive": _shared("adaptive", "AdaptivePolicy"),
})


def get_policy(name: str) -> PreferencePolicy:
    return POLICIES.get(policy_key(name))
