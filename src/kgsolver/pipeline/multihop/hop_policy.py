"""How a KG-walk hop is chosen. Small local models pick the right hop only about half the time, so every choice is
also scored by embedding similarity to the question and the current sub-question, and a configurable policy combines
the two or falls back:

- `combine`: (1 - w) * embedding score (min-max scaled over the choices) + w * [LLM picked it];
- `llm`: the LLM's pick first, the others by embedding (the embedding ranking alone when the LLM gives no valid pick);
- `embedding`: no LLM call at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from kgsolver.connectors import Registry

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder

# A hop policy turns (min-max scaled embedding scores, one-hot LLM pick, LLM weight) into the final scores.
HopScorer = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _combined(scaled: np.ndarray, pick: np.ndarray, llm_weight: float) -> np.ndarray:
    return (1 - llm_weight) * scaled + llm_weight * pick


def _llm_first(scaled: np.ndarray, pick: np.ndarray, llm_weight: float) -> np.ndarray:
    return scaled + 2.0 * pick  # scaled scores lie in [0, 1]: the pick outranks every other choice


def _embedding_only(scaled: np.ndarray, pick: np.ndarray, llm_weight: float) -> np.ndarray:
    return scaled


HOP_POLICIES: Registry[np.ndarray] = Registry("hop policy", {
    "combine": _combined, "llm": _llm_first, "embedding": _embedding_only})


def embedding_scores(embedder: Embedder, choices: list[str], question: str,
                     sub_question: str | None = None) -> np.ndarray:
    """max(cos(choice, question), cos(choice, sub-question)) per choice."""
    if not choices:
        return np.zeros(0, dtype=np.float32)
    queries = [question] + ([sub_question] if sub_question and sub_question != question else [])
    vectors = embedder.encode(queries + choices)
    q, c = vectors[: len(queries)], vectors[len(queries):]
    scores: np.ndarray = (c @ q.T).max(axis=1)  # numpy types a product of untyped arrays as Any
    return scores


def combine(emb: np.ndarray, llm_pick: int | None, policy: str, llm_weight: float) -> np.ndarray:
    """Final score per choice; `llm_pick` is a 0-based index or None (no call, invalid reply, or 'stop')."""
    HOP_POLICIES.check(policy)
    emb = np.asarray(emb, dtype=np.float32)
    if not len(emb):
        return emb
    span = float(emb.max() - emb.min())
    scaled = (emb - emb.min()) / span if span > 1e-9 else np.ones_like(emb)
    pick = np.zeros_like(emb)
    if llm_pick is not None and 0 <= llm_pick < len(emb):
        pick[llm_pick] = 1.0
    return HOP_POLICIES.get(policy, scaled, pick, llm_weight)
