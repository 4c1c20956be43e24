"""The preference-policy registry: `get_policy(name)` returns the shared instance of a policy."""

from __future__ import annotations

from kgsolver.pipeline.preference.adaptive import AdaptivePolicy
from kgsolver.pipeline.preference.base import PreferencePolicy
from kgsolver.pipeline.preference.context_only import ContextOnlyPolicy
from kgsolver.pipeline.preference.hierarchical import HierarchicalPolicy
from kgsolver.pipeline.preference.tagged import TaggedPolicy

POLICIES: dict[str, type] = {p.name: p for p in (HierarchicalPolicy, ContextOnlyPolicy, TaggedPolicy, AdaptivePolicy)}
_INSTANCES: dict[str, PreferencePolicy] = {}


def get_policy(name: str) -> PreferencePolicy:
    """The shared instance of a policy (the adaptive policy's retrieval counter lives on it)."""
    key = name.replace("-", "_")
    if key not in POLICIES:
        raise ValueError(f"unknown preference policy {name!r}; available: {', '.join(sorted(POLICIES))}")
    if key not in _INSTANCES:
        _INSTANCES[key] = POLICIES[key]()
    return _INSTANCES[key]
