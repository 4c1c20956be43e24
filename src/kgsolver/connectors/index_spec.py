"""How a segment's vectors are indexed: the `vector_index` block of KGSolverConfig (KGSOLVER_VECTOR_INDEX__KIND=hnsw,
...), declared once here and read by `connectors/vector_index.py::FaissIndex`. Kept apart from faiss so that reading
the configuration does not import it. Figures: benchmarks/scale.py, docs/RESULTS.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class IndexSpec(BaseModel):
    """Which faiss index a segment of this many vectors gets."""

    model_config = ConfigDict(frozen=True)

    flat_below: int = Field(50_000, ge=1, description="exact Flat search below this many vectors: fast enough there "
                            "(~1 ms/query batched at 20k) and nothing to train")
    kind: Literal["ivf", "hnsw"] = Field("ivf", description="above flat_below: IVF (built in 280 s at 1M on a loaded "
                                         "2-core machine) or HNSW (graph build 35 s at 200k, IVF-SQ8 22 s; no GPU form "
                                         "in faiss); both reach recall@10 >= 0.95")
    encoding: Literal["flat", "sq8", "pq"] = Field("sq8", description="stored codes: sq8 is 4x smaller than full "
                                                   "floats (1M: ~0.4 GB resident) at recall@10 0.98; pq is smaller "
                                                   "still but loses recall, and its training takes minutes here")
    ivf_lists_per_sqrt_n: float = Field(4.0, gt=0, description="IVF lists = this * sqrt(n), the usual rule: 4,000 "
                                        "lists of ~250 vectors at 1M")
    ivf_train_per_list: int = Field(40, ge=1, description="k-means training rows per list (faiss warns below 39)")
    ivf_nprobe: int = Field(16, ge=1, description="lists searched per query, the recall/speed knob: recall@10 0.98 "
                            "at 1M (0.25 ms/query single-threaded, Flat 150 ms)")
    hnsw_m: int = Field(32, ge=4, description="graph neighbours per node")
    hnsw_ef_construction: int = Field(80, ge=8, description="candidates while building the graph")
    hnsw_ef_search: int = Field(128, ge=1, description="candidates per query: 64 gave recall@10 0.96 at 200k, 128 0.99")
    pq_bytes: int = Field(48, ge=1, description="PQ code bytes per vector (must divide the dimensions; 8 per byte "
                          "at 384)")

    def ivf_lists(self, n: int) -> int:
        """Lists for n vectors: ~c·sqrt(n), but never fewer than `ivf_train_per_list` vectors to train each one."""
        root: float = n ** 0.5  # typeshed types int ** float as Any (a negative base would give a complex)
        return max(1, min(round(self.ivf_lists_per_sqrt_n * root), n // self.ivf_train_per_list))

    def factory(self, dimensions: int, n: int) -> str:
        """The faiss index_factory string for n vectors of this many dimensions."""
        if self.encoding == "pq" and dimensions % self.pq_bytes:
            raise ValueError(f"IndexSpec.pq_bytes: {self.pq_bytes} does not divide the {dimensions} dimensions")
        codes = {"flat": "Flat", "sq8": "SQ8", "pq": f"PQ{self.pq_bytes}"}[self.encoding]
        if self.kind == "ivf":
            return f"IVF{self.ivf_lists(n)},{codes}"
        return f"HNSW{self.hnsw_m}" + ("" if self.encoding == "flat" else f",{codes}")
