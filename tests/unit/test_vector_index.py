"""The faiss index is chosen by size from the configuration (issue 17): Flat below `flat_below`, IVF or HNSW above it
with the configured codes; the approximate kinds keep recall@10 against Flat >= 0.95 with the default settings; the
search parameters survive a save and load, and a spec at load overrides them; removed ids never come back."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from kgsolver.connectors.vector_index import FaissIndex, IndexSpec
from kgsolver.pipeline.config import KGSolverConfig

DIMENSIONS = 384


def clustered_unit_vectors(n: int, seed: int = 0, per_cluster: int = 200, dimensions: int = DIMENSIONS) -> np.ndarray:
    """Normalised points around random centres (a mixture of gaussians): structured like text embeddings, unlike
    uniform noise, on which no approximate index has neighbours worth finding."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, n // per_cluster), dimensions), dtype=np.float32)
    points = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, dimensions), dtype=np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    """20k vectors and 200 queries drawn from the same mixture."""
    points = clustered_unit_vectors(20_200)
    return points[:20_000], points[20_000:]


def default_spec(**changes) -> IndexSpec:
    """The configured defaults, with the Flat threshold lowered so that 20k vectors get the approximate kind."""
    return IndexSpec(**{"flat_below": 10_000, **changes})


def recall_at_10(index: FaissIndex, exact: FaissIndex, queries: np.ndarray) -> float:
    _, found = index.search(queries, 10)
    _, truth = exact.search(queries, 10)
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def test_the_configuration_is_the_spec(monkeypatch):
    monkeypatch.setenv("KGSOLVER_VECTOR_INDEX__KIND", "hnsw")
    monkeypatch.setenv("KGSOLVER_VECTOR_INDEX__HNSW_EF_SEARCH", "33")
    assert KGSolverConfig().vector_index == IndexSpec(kind="hnsw", hnsw_ef_search=33)
    with pytest.raises(ValueError, match="kind"):
        IndexSpec(kind="lsh")
    with pytest.raises(ValueError, match="pq_bytes"):
        FaissIndex.build(clustered_unit_vectors(200), IndexSpec(flat_below=100, encoding="pq", pq_bytes=50))


@pytest.mark.parametrize(("kind", "encoding", "inner"), [
    ("ivf", "flat", faiss.IndexIVFFlat), ("ivf", "sq8", faiss.IndexIVFScalarQuantizer), ("ivf", "pq", faiss.IndexIVFPQ),
    ("hnsw", "flat", faiss.IndexHNSWFlat), ("hnsw", "sq8", faiss.IndexHNSWSQ), ("hnsw", "pq", faiss.IndexHNSWPQ)])
def test_each_kind_is_chosen_at_its_size(kind, encoding, inner):
    # 32 dimensions: PQ's 256-centroid k-means per code byte takes minutes at 384 on this 2-core machine
    spec = IndexSpec(flat_below=12_000, kind=kind, encoding=encoding, pq_bytes=4)
    vectors = clustered_unit_vectors(12_000, dimensions=32)
    below = FaissIndex.build(vectors[:11_999], spec)
    assert below.kind == "flat" and len(below) == 11_999
    at = FaissIndex.build(vectors, spec)
    chosen = faiss.downcast_index(at.index.index) if kind == "hnsw" else at.index
    assert at.kind == kind and isinstance(chosen, inner) and len(at) == 12_000
    if kind == "ivf":
        # 4·sqrt(n) = 438 lists would leave under 40 training rows for each; 12,000 / 40 = 300 do not
        assert at.index.nlist == 300 and spec.ivf_lists(1_000_000) == 4_000
    _, ids = at.search(vectors[:20], 10)
    assert all(row in found for row, found in enumerate(ids.tolist()))  # rows are addressed by their numbers


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_recall_at_10_against_flat_with_the_default_settings(corpus, kind):
    vectors, queries = corpus
    index = FaissIndex.build(vectors, default_spec(kind=kind))
    assert index.kind == kind
    assert recall_at_10(index, FaissIndex.build(vectors), queries) >= 0.95


@pytest.mark.parametrize(("kind", "name", "field"), [("ivf", "nprobe", "ivf_nprobe"),
                                                      ("hnsw", "efSearch", "hnsw_ef_search")])
def test_save_and_load_keep_the_search_parameters(corpus, tmp_path, kind, name, field):
    vectors, queries = corpus
    index = FaissIndex.build(vectors[:12_000], default_spec(kind=kind, **{field: 7}))
    assert index.search_parameters() == {name: 7}
    index.save(tmp_path / "dense.faiss")
    loaded = FaissIndex.load(tmp_path / "dense.faiss", DIMENSIONS)
    assert loaded.kind == kind and loaded.search_parameters() == {name: 7}
    assert np.array_equal(loaded.search(queries, 10)[1], index.search(queries, 10)[1])
    respecified = FaissIndex.load(tmp_path / "dense.faiss", DIMENSIONS, default_spec(kind=kind, **{field: 9}))
    assert respecified.search_parameters() == {name: 9}


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_removed_ids_never_come_back(corpus, tmp_path, kind):
    vectors = corpus[0][:12_000]
    spec = default_spec(kind="ivf" if kind == "flat" else kind, flat_below=20_000 if kind == "flat" else 10_000)
    index = FaissIndex.build(vectors, spec)
    assert index.kind == kind
    gone = np.arange(0, 200, 2)
    assert index.remove(gone) == 100 and index.remove(gone) == 0
    assert len(index) == 11_900
    index.save(tmp_path / "dense.faiss")
    loaded = FaissIndex.load(tmp_path / "dense.faiss", DIMENSIONS, spec)
    for searched in (index, loaded):
        _, ids = searched.search(vectors[:200], 10)  # each removed vector's nearest neighbour was itself
        assert not set(ids.ravel().tolist()) & set(gone.tolist())
        assert ids[1::2, 0].tolist() == list(range(1, 200, 2))
    assert len(loaded) == 11_900
    kept = [1, 3, 11_999]
    assert np.allclose(loaded.vectors(kept), vectors[kept], atol=0.02)  # SQ8 codes decode to within 1/255 of range
    index.add(np.array([20_000]), vectors[:1])
    assert len(index) == 11_901 and index.search(vectors[:1], 1)[1][0, 0] == 20_000
