"""Preference policies: which knowledge wins when user-stated facts, retrieved context and the model's parametric
knowledge disagree. One policy per module behind `PreferencePolicy`; `get_policy(name)` is the registry."""

import importlib

# Imported on first use (PEP 562): reading PreferenceSettings for the configuration must not load every policy.
_EXPORTS = {
    "AdaptivePolicy": "adaptive", "Candidates": "base", "ContextOnlyPolicy": "context_only",
    "GroundedCandidate": "base", "HierarchicalPolicy": "hierarchical", "POLICIES": "registry",
    "PolicyOutcome": "base", "PreferenceInputs": "base", "PreferencePolicy": "base",
    "PreferenceSettings": "settings", "TaggedPolicy": "tagged", "answers_conflict": "base",
    "decide_hierarchical": "hierarchical", "get_policy": "registry",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = sorted(_EXPORTS)
