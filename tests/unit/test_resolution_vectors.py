"""EntityResolver's embedding rule with name vectors computed elsewhere (the Ray engine's graph actors)."""

from __future__ import annotations

import numpy as np

from kgsolver.connectors.graph_stores.model import Entity, GraphBatch, Mention, normalize_name
from kgsolver.graphs.resolution import EntityResolver

# Two spellings of one thing and a fuzzy-similar different thing; unit vectors chosen so only the first pair is close.
VECTORS = {
    "Hearing loss": np.array([1.0, 0.0, 0.0], dtype=np.float32),
    "Hearing losses": np.array([0.999, 0.0447, 0.0], dtype=np.float32),
    "Hearing loss test": np.array([0.6, 0.8, 0.0], dtype=np.float32),
}


class CountingEmbedder:
    name, dimensions = "fake", 3

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts, *, batch_size=None):
        self.encoded.extend(texts)
        return np.stack([VECTORS[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def batch() -> GraphBatch:
    names = list(VECTORS)
    return GraphBatch([Entity("t:" + normalize_name(n), n, "CONCEPT") for n in names],
                      mentions=[Mention(1, "t:" + normalize_name(n)) for n in names])


def merges(resolver: EntityResolver) -> list[tuple[str, str]]:
    return [(m.drop, m.keep) for m in resolver.log]


def test_given_name_vectors_are_not_encoded_again_and_merge_the_same():
    alone = EntityResolver(CountingEmbedder())
    alone.resolve(batch())
    assert merges(alone) == [("t:hearing loss", "t:hearing losses")]

    embedder = CountingEmbedder()
    given = EntityResolver(embedder, name_vectors=dict(VECTORS))
    given.resolve(batch())
    assert embedder.encoded == []
    assert merges(given) == merges(alone)


def test_only_the_missing_names_are_encoded():
    embedder = CountingEmbedder()
    resolver = EntityResolver(embedder, name_vectors={"Hearing loss": VECTORS["Hearing loss"]})
    resolver.resolve(batch())
    assert sorted(embedder.encoded) == ["Hearing loss test", "Hearing losses"]
    assert merges(resolver) == [("t:hearing loss", "t:hearing losses")]
