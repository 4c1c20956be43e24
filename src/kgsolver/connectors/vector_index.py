"""Dense vector index on faiss: inner product over normalised vectors, addressed by stable int64 chunk ids.

`FaissIndex.build` chooses the index by size (`IndexSpec`, connectors/index_spec.py, the configuration's
`vector_index`): exact Flat below `flat_below` vectors; above it IVF (trained k-means lists, `ivf_nprobe` of them
searched) or HNSW (a graph, `hnsw_ef_search` candidates), each storing full vectors or SQ8/PQ codes to save memory.
Search parameters are stored in the index file and, where a spec is given at load, set from it, so a config change
needs no rebuild.

faiss-gpu is used for search when installed and a GPU is present, for Flat and IVF; faiss has no GPU HNSW, so an HNSW
index always searches on the CPU. The persisted index is always the CPU form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from kgsolver.connectors.index_spec import IndexSpec

# faiss's own type hints declare the base Index only; the subclass attributes used here (hnsw, id_map, the direct map,
# HNSW search parameters) exist at run time on the SWIG objects, so those objects are typed Any.
_faiss: Any = faiss

_ADD_BATCH = 65_536  # rows converted to contiguous float32 at a time, so a memory-mapped input is never copied whole
_LIVE = faiss.IDSelectorRange(0, 2**62)  # every id but -1, the mark a removed HNSW entry carries


def gpu_count() -> int:
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


def _training_sample(vectors: np.ndarray, spec: IndexSpec) -> np.ndarray:
    """Fixed-seed rows to train on: `ivf_train_per_list` per IVF list, and at least the 39 per centroid that faiss
    asks of PQ's 256 centroids per sub-quantizer."""
    n = len(vectors)
    size = min(n, max(spec.ivf_train_per_list * spec.ivf_lists(n), 39 * 256))
    rows = np.sort(np.random.default_rng(0).choice(n, size, replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


class FaissIndex:
    def __init__(self, dimensions: int, index: faiss.Index | None = None) -> None:
        self.dimensions = dimensions
        self.index: Any = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimensions))
        self._search_index: faiss.Index | None = None  # GPU copy, built lazily
        self._removed = int((self._id_map() == -1).sum()) if self.kind == "hnsw" else 0

    def __len__(self) -> int:
        return int(self.index.ntotal) - self._removed

    @property
    def kind(self) -> str:
        """flat, ivf or hnsw: which index `build` chose (or `load` found)."""
        inner = _faiss.downcast_index(self.index.index) if isinstance(self.index, faiss.IndexIDMap) else self.index
        if isinstance(inner, faiss.IndexHNSW):
            return "hnsw"
        return "ivf" if isinstance(inner, faiss.IndexIVF) else "flat"

    @classmethod
    def build(cls, vectors: np.ndarray, spec: IndexSpec | None = None) -> FaissIndex:
        """An index over these vectors, addressed by their row numbers 0..n-1 (a segment's local ids), of the kind
        the spec gives for this many; a trained kind (IVF, SQ8, PQ) trains on a fixed-seed sample of the rows."""
        spec = spec or IndexSpec()
        n, dimensions = vectors.shape
        if n < spec.flat_below:
            index = cls(dimensions)
        else:
            inner = faiss.index_factory(dimensions, spec.factory(dimensions, n), faiss.METRIC_INNER_PRODUCT)
            if spec.kind == "hnsw":
                _faiss.downcast_index(inner).hnsw.efConstruction = spec.hnsw_ef_construction
            if not inner.is_trained:
                inner.train(_training_sample(vectors, spec))
            # IVF keeps its own ids and removes by them; HNSW can neither, so it sits in an id map
            index = cls(dimensions, inner if spec.kind == "ivf" else faiss.IndexIDMap2(inner))
        index.apply(spec)
        for start in range(0, n, _ADD_BATCH):
            rows = np.arange(start, min(n, start + _ADD_BATCH), dtype=np.int64)
            index.add(rows, vectors[start:start + _ADD_BATCH])
        return index

    def apply(self, spec: IndexSpec) -> None:
        """Set the search parameters of this index's kind from the spec (stored with the index by `save`)."""
        if self.kind == "ivf":
            faiss.extract_index_ivf(self.index).nprobe = spec.ivf_nprobe
        elif self.kind == "hnsw":
            _faiss.downcast_index(self.index.index).hnsw.efSearch = spec.hnsw_ef_search
        self._search_index = None

    def search_parameters(self) -> dict[str, int]:
        """The search parameters in force, e.g. {"nprobe": 16} (empty for Flat, which has none)."""
        if self.kind == "ivf":
            return {"nprobe": int(faiss.extract_index_ivf(self.index).nprobe)}
        if self.kind == "hnsw":
            return {"efSearch": int(_faiss.downcast_index(self.index.index).hnsw.efSearch)}
        return {}

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
            self._search_index = None

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        self._search_index = None
        if self.kind != "hnsw":
            return int(self.index.remove_ids(faiss.IDSelectorArray(ids.astype(np.int64))))
        # faiss cannot take a node out of an HNSW graph: the entry's id becomes -1, which search filters out
        id_map = self._id_map()
        gone = np.isin(id_map, ids.astype(np.int64)) & (id_map != -1)
        id_map[gone] = -1
        self.index.construct_rev_map()
        self._removed += int(gone.sum())
        return int(gone.sum())

    def _id_map(self) -> np.ndarray:
        """The id map's entries as a writable view (an IndexIDMap's row -> id)."""
        return faiss.rev_swig_ptr(self.index.id_map.data(), self.index.id_map.size())

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these ids (what ingest encoded; decoded from SQ8/PQ codes, so approximate there),
        shape (len(ids), dimensions)."""
        if not ids:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self.index)
            if ivf.direct_map.type == _faiss.DirectMap.NoMap:  # id -> list position, built on first use only
                ivf.set_direct_map_type(_faiss.DirectMap.Hashtable)
        return np.stack([self.index.reconstruct(int(i)) for i in ids])

    def _searcher(self) -> faiss.Index:
        if self._search_index is None:
            self._search_index = self.index
            if gpu_count() > 0 and self.kind != "hnsw":
                self._search_index = faiss.index_cpu_to_all_gpus(self.index)
        return self._search_index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of shape (n_queries, k'); ids of -1 mark empty slots."""
        k = min(k, len(self))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if k == 0:
            n = len(queries)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        if self._removed:
            params = _faiss.SearchParametersHNSW()
            params.efSearch, params.sel = self.search_parameters()["efSearch"], _LIVE
            return self._searcher().search(queries, k, params=params)
        return self._searcher().search(queries, k)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, dimensions: int, spec: IndexSpec | None = None) -> FaissIndex:
        """The index saved at path, with the spec's search parameters where a spec is given (else the saved ones)."""
        index = faiss.read_index(str(path))
        if index.d != dimensions:
            raise ValueError(f"{path}: index has {index.d} dimensions, the manifest says {dimensions}")
        loaded = cls(dimensions, index)
        if spec is not None:
            loaded.apply(spec)
        return loaded
