"""Preference policies: which knowledge wins when user-stated facts, retrieved context and the model's parametric
knowledge disagree. One policy per module behind `PreferencePolicy`; `get_policy(name)` is the registry."""

from kgsolver.connectors.registry import lazy_exports

# Imported on first use (PEP 562): a caller that wants one policy does not load every policy.
_EXPORTS = {
    "AdaptivePolicy": "adaptive", "Candidates": "base", "ContextOnlyPolicy": "context_only",
    "GroundedCandidate": "base", "HierarchicalPolicy": "hierarchical", "POLICIES": "registry",
    "PolicyOutcome": "base", "PreferenceInputs": "base", "PreferencePolicy": "base",
    "TaggedPolicy": "tagged", "answers_conflict": "base",
    "decide_hierarchical": "hierarchical", "get_policy": "registry",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
