"""Storage and index at scale (issue 17): synthetic normalised 384-d vectors and generated text, so that the encoder's
cost does not dominate.

    .venv/bin/python benchmarks/scale.py [--n 1000000] [--queries 1000] [--single 200] [--skip-kb] [--out FILE.json]

Vectors are a mixture of gaussians around n/200 random centres, normalised (clustered like text embeddings, so that
approximate search has real neighbours to find; on uniform noise no index does). Queries are held-out draws from the
same mixture. Text: 40 words per passage, half from its cluster's own 50-word vocabulary, half from a shared one.

1. Index: exact Flat against the ANN index `FaissIndex.build` chooses with the configured `IndexSpec`
   (built in the same run): build time, search ms/query p50/p95 batched (batches of 100 queries) and single-query,
   recall@10 of the ANN against Flat (target >= 0.95), and the ratios Flat/ANN.
2. Knowledge base (pipeline/kb/knowledge_base.py segments): append rate (chunks/s, batches of 100k chunks, one commit
   each), resident memory after `KnowledgeBase.open` in a fresh process (and after its first search), time and bytes
   written (sizes of new files) to add 1,000 documents (5 chunks each) and to delete 1,000, time to compact.
Scratch files go under .kgsolver/scale (git-ignored) and are removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from kgsolver.connectors.vector_index import FaissIndex
from kgsolver.pipeline.config import KBSettings, KGSolverConfig

DIMENSIONS = 384
PER_CLUSTER = 200
CHUNKS_PER_DOCUMENT = 5
WORDS = 40


def clustered_unit_vectors(n: int, centres: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n normalised draws from the mixture, their cluster numbers)."""
    labels = rng.integers(0, len(centres), n)
    points = centres[labels] + rng.standard_normal((n, DIMENSIONS), dtype=np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True), labels


def write_vectors(path: Path, n: int, centres: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n vectors into a memory-mapped .npy (1.5 GB at 1M: never twice in memory) and their cluster numbers."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIMENSIONS))
    labels = np.empty(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        out[start:stop], labels[start:stop] = clustered_unit_vectors(stop - start, centres, rng)
    out.flush()
    return out, labels


def passage_texts(labels: np.ndarray, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    own = rng.integers(0, 50, (len(labels), WORDS // 2)) + 50 * labels[:, None]
    shared = rng.integers(0, 5_000, (len(labels), WORDS // 2))
    return [" ".join([f"t{w}" for w in a] + [f"w{w}" for w in b]) for a, b in zip(own, shared, strict=True)]


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)  # p95 by nearest rank
    return {"p50_ms": round(1000 * statistics.median(ordered), 4),
            "p95_ms": round(1000 * ordered[math.ceil(0.95 * len(ordered)) - 1], 4), "n": len(ordered)}


def search_times(index: FaissIndex, queries: np.ndarray, single: int, threads: int) -> tuple[dict, dict, np.ndarray]:
    """(batched ms/query over batches of 50, single-query ms, the top-10 ids of every query), searching with this
    many faiss threads (0: the default)."""
    default = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or default)
    batched, found = [], []
    for start in range(0, len(queries), 50):
        batch = queries[start:start + 50]
        started = time.perf_counter()
        found.append(index.search(batch, 10)[1])
        batched.append((time.perf_counter() - started) / len(batch))
    one = []
    for query in queries[:single]:
        started = time.perf_counter()
        index.search(query[None, :], 10)
        one.append(time.perf_counter() - started)
    faiss.omp_set_num_threads(default)
    return percentiles(batched), percentiles(one), np.concatenate(found)


def index_figures(vectors: np.ndarray, queries: np.ndarray, single: int, config: KGSolverConfig,
                  threads: int) -> dict:
    spec = config.vector_index
    out = {"spec": spec.__dict__}
    ids = {}
    for name, build_spec in (("flat", None), ("ann", spec)):
        started = time.perf_counter()
        index = FaissIndex(DIMENSIONS) if build_spec is None else FaissIndex.build(vectors, build_spec)
        if build_spec is None:  # Flat at any size: the exact baseline
            for start in range(0, len(vectors), 65_536):
                stop = min(len(vectors), start + 65_536)
                index.add(np.arange(start, stop, dtype=np.int64), vectors[start:stop])
        built = time.perf_counter() - started
        batched, one, ids[name] = search_times(index, queries, single, threads)
        out[name] = {"kind": index.kind, "build_s": round(built, 2), "batched": batched, "single": one,
                     "search_parameters": index.search_parameters()}
        print(name, json.dumps(out[name]), flush=True)
        del index
    overlaps = [len(set(a) & set(b)) / 10 for a, b in zip(ids["ann"], ids["flat"], strict=True)]
    out["recall_at_10"] = round(float(np.mean(overlaps)), 4)
    out["recall_target_met"] = out["recall_at_10"] >= 0.95
    out["flat_over_ann"] = {f"{mode}_p50": round(out["flat"][mode]["p50_ms"] / out["ann"][mode]["p50_ms"], 2)
                            for mode in ("batched", "single")}
    return out


def make_chunks(first: int, texts: list[str]) -> list:
    """Chunks of rows first.., five to a document (doc ids d0000000, d0000001, ...)."""
    from kgsolver.connectors.chunk_store import Chunk

    out = []
    for row, text in enumerate(texts, start=first):
        doc, part = divmod(row, CHUNKS_PER_DOCUMENT)
        out.append(Chunk(f"d{doc:07d}#{part}", f"d{doc:07d}", f"Document {doc}", text,
                         part * 300, part * 300 + len(text)))
    return out


def files_of(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def timed_change(root: Path, change) -> dict:
    """Seconds a change (ending in its commit) took and the bytes of the files it wrote (new or rewritten)."""
    before = files_of(root)
    started = time.perf_counter()
    change()
    seconds = time.perf_counter() - started
    after = files_of(root)
    written = sum(size for name, (size, mtime) in after.items() if before.get(name, (None, None))[1] != mtime)
    return {"seconds": round(seconds, 3), "bytes_written": written, "files_written": sum(
        1 for name, (_, mtime) in after.items() if before.get(name, (None, None))[1] != mtime)}


OPEN_PROBE = """
import json, sys, time
import numpy as np
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
def rss_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
base = rss_mb()
started = time.perf_counter()
kb = KnowledgeBase.open(__import__("pathlib").Path(sys.argv[1]))
opened = time.perf_counter() - started
after_open = rss_mb()
queries = np.load(sys.argv[2])
started = time.perf_counter()
kb.dense.search(queries[:1], 10)
first = time.perf_counter() - started
times = []
for q in queries[1:]:
    started = time.perf_counter()
    kb.dense.search(q[None, :], 10)
    times.append(time.perf_counter() - started)
times.sort()
print(json.dumps({"python_and_imports_rss_mb": round(base, 1), "open_s": round(opened, 3),
                  "rss_after_open_mb": round(after_open, 1), "first_search_s": round(first, 3),
                  "rss_after_first_search_mb": round(rss_mb(), 1), "chunks": len(kb.dense),
                  "segments": len(kb.manifest["segments"]),
                  "dense_single_p50_ms": round(1000 * times[len(times) // 2], 3),
                  "dense_single_p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 3)}))
"""


def open_in_fresh_process(root: Path, queries: np.ndarray) -> dict:
    """Resident memory of a fresh process after `KnowledgeBase.open`, and after its first dense search (which loads
    every segment's faiss index), with single-query dense search times over the segments."""
    np.save(root.parent / "queries.npy", queries[:201])
    done = subprocess.run([sys.executable, "-c", OPEN_PROBE, str(root), str(root.parent / "queries.npy")],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def kb_figures(root: Path, vectors: np.ndarray, labels: np.ndarray, centres: np.ndarray, queries: np.ndarray,
               config: KGSolverConfig, settings: KBSettings, batch: int = 100_000) -> dict:
    from kgsolver.pipeline.kb.compact import compact
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.create(root, embedder={"name": "synthetic-384", "dimensions": DIMENSIONS},
                              chunking=config.chunking.model_dump())
    kb.index_spec, kb.settings = config.vector_index, settings
    n, seconds = len(vectors), []
    for start in range(0, n, batch):
        chunks = make_chunks(start, passage_texts(labels[start:start + batch], seed=start))
        started = time.perf_counter()
        kb.add_chunks(chunks, vectors[start:start + batch])
        kb.commit()
        seconds.append(time.perf_counter() - started)
        print(f"kb: {start + len(chunks)} chunks, batch {seconds[-1]:.1f} s", flush=True)
    kb.close()
    out = {"batch_chunks": batch, "append_chunks_per_s": round(n / sum(seconds), 1),
           "batch_seconds": [round(s, 1) for s in seconds], "open": open_in_fresh_process(root, queries)}
    print("kb open", json.dumps(out["open"]), flush=True)

    kb = KnowledgeBase.open(root)
    kb.index_spec, kb.settings = config.vector_index, settings
    new_vectors, new_labels = clustered_unit_vectors(CHUNKS_PER_DOCUMENT * 1000, centres, np.random.default_rng(3))
    added = make_chunks(n, passage_texts(new_labels, seed=n))

    def add() -> None:
        kb.add_chunks(added, new_vectors)
        kb.commit()

    out["add_1000_documents"] = timed_change(root, add)
    gone = {f"d{d:07d}" for d in range(0, n // CHUNKS_PER_DOCUMENT, max(1, n // CHUNKS_PER_DOCUMENT // 1000))[:1000]}

    def delete() -> None:
        kb.remove_documents(gone)
        kb.commit()

    out["delete_1000_documents"] = timed_change(root, delete)
    out["compact"] = timed_change(root, lambda: compact(kb))
    out["open_after_compact"] = open_in_fresh_process(root, queries)
    kb.close()
    print("kb", json.dumps({k: v for k, v in out.items() if k != "open"}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="passages")
    parser.add_argument("--queries", type=int, default=1000, help="held-out queries for recall and batched search")
    parser.add_argument("--single", type=int, default=200, help="of which searched one at a time")
    parser.add_argument("--skip-kb", action="store_true", help="the index figures only")
    parser.add_argument("--threads", type=int, default=0, help="faiss OpenMP threads for the timed searches (0 = "
                        "faiss's default; builds always use it); on a shared, loaded machine 1 is steadier: 2 threads "
                        "made one 50k Flat query 5x slower here")
    parser.add_argument("--scratch", type=Path, default=Path(".kgsolver/scale"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (vectors and KB)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    args = parser.parse_args()

    config = KGSolverConfig()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the fresh process that opens the KB and searches
    shutil.rmtree(args.scratch, ignore_errors=True)
    args.scratch.mkdir(parents=True)
    centres = np.random.default_rng(0).standard_normal((max(1, args.n // PER_CLUSTER), DIMENSIONS), dtype=np.float32)
    started = time.perf_counter()
    vectors, labels = write_vectors(args.scratch / "vectors.npy", args.n, centres, seed=1)
    queries, _ = clustered_unit_vectors(args.queries, centres, np.random.default_rng(2))
    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "n": args.n, "dimensions": DIMENSIONS,
              "clusters": len(centres), "queries": args.queries, "single_queries": args.single,
              "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
              "search_threads": args.threads or faiss.omp_get_max_threads(), "load_average_at_start": os.getloadavg(),
              "generate_vectors_s": round(time.perf_counter() - started, 1)}
    result["index"] = index_figures(vectors, queries, args.single, config, args.threads)
    if args.skip_kb:
        result["kb"] = "skipped (--skip-kb)"
    else:
        # no automatic compaction: the benchmark times the one it asks for
        result["kb"] = kb_figures(args.scratch / "kb", vectors, labels, centres, queries, config,
                                  KBSettings(auto_compact=False), batch=min(100_000, max(1, args.n // 10)))
    result["load_average_at_end"] = os.getloadavg()
    if not args.keep:
        shutil.rmtree(args.scratch, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
