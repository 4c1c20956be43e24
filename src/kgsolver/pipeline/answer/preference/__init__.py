"""Preference policies: which knowledge wins when user-stated facts, retrieved context and the model's parametric
knowledge disagree. One policy per module behind `PreferencePolicy`; the registry is here: `get_policy(name)` returns
the shared instance of a policy, whose module is imported only then."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from kgsolver.connectors.registry import Registry, lazy, lazy_exports
from kgsolver.pipeline.config import policy_key

if TYPE_CHECKING:
    from kgsolver.pipeline.answer.preference.base import PreferencePolicy

# Imported on first use (PEP 562): a caller that wants one policy does not load every policy.
_EXPORTS = {
    "AdaptivePolicy": "adaptive", "Candidates": "base", "ContextOnlyPolicy": "context_only",
    "GroundedCandidate": "base", "HierarchicalPolicy": "hierarchical", "PolicyOutcome": "base",
    "PreferenceInputs": "base", "PreferencePolicy": "base", "TaggedPolicy": "tagged", "answers_conflict": "base",
    "decide_hierarchical": "hierarchical",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted([*_EXPORTS, "POLICIES", "get_policy"])


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
