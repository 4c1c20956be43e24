"""Ingest throughput against raw sentence-transformers encode, retrieval latency and peak memory.

    .venv/bin/python benchmarks/ingest.py [--corpus PATH] [--queries N] [--compare-pooled]

Both throughputs are measured in the same run, on the same chunks, with the same loaded model (targets: the vector +
BM25 ingest, `graph.extractor=none`, >= 0.85 x raw encode; the default ingest, which also builds the knowledge graph
with spaCy, >= 0.5 x, issue 35; the extractor alone: benchmarks/graph_load.py). Both build the sentence index, each
sentence encoded alone (the default); --compare-pooled adds the default ingest with the sentence vectors pooled from
the chunk pass instead (`embedder.sentence_vectors=pooled`), in the same run.
Retrieval latency covers dense search + BM25 + reciprocal rank fusion, excluding the query encoder (query vectors are
computed first).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from kgsolver.connectors.corpus_readers import read_corpus
from kgsolver.connectors.embedders import load_embedder
from kgsolver.evals.datasets import KILT_CORPUS, KILT_QUESTIONS, dataset_path, read_jsonl
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.chunking import TokenChunker
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.retrieval import BM25Retriever, DenseRetriever, reciprocal_rank_fusion


def raw_encode_rate(embedder, corpus: Path, config: KGSolverConfig) -> tuple[float, int]:
    chunker = TokenChunker(embedder.tokenizer, config.chunking.chunk_tokens, config.chunking.overlap_tokens)
    texts = [c.indexed_text() for c in chunker.chunk(read_corpus(corpus))]
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=config.embedder.batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started), len(texts)


def ingest_rate(embedder, corpus: Path, config: KGSolverConfig, kb_dir: Path) -> tuple[float, int]:
    started = time.perf_counter()
    report = ingest(corpus, kb_dir, config, embedder=embedder, show_progress=False)
    return report.documents_read / (time.perf_counter() - started), report.chunks_added


def retrieval_latency(kb_dir: Path, embedder, n_queries: int, config: KGSolverConfig) -> list[float]:
    kb = KnowledgeBase.open(kb_dir)
    questions = [r["input"] for r in read_jsonl(dataset_path(KILT_QUESTIONS))]
    queries = (questions * (n_queries // len(questions) + 1))[:n_queries]
    vectors = embedder.encode(queries)
    dense, bm25 = DenseRetriever(kb=kb, embedder=embedder), BM25Retriever(kb=kb)
    r = config.retrieval
    timings = []
    for query, vector in zip(queries, vectors, strict=True):
        started = time.perf_counter()
        hits = [dense.search_vectors(vector[np.newaxis, :], r.candidates)[0], bm25.scored_ids([query], r.candidates)[0]]
        reciprocal_rank_fusion(hits, r.rrf_k, r.top_k)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--compare-pooled", action="store_true")
    args = parser.parse_args()
    corpus = args.corpus or dataset_path(KILT_CORPUS)
    config = KGSolverConfig()
    vectors_only = config.model_copy(deep=True)
    vectors_only.graph.extractor = "none"
    embedder = load_embedder()
    embedder.encode(["warm up the model"] * 8)
    raw, n_chunks = raw_encode_rate(embedder, corpus, config)
    with tempfile.TemporaryDirectory() as tmp:
        ingested, _ = ingest_rate(embedder, corpus, vectors_only, Path(tmp) / "kb")
        timings = retrieval_latency(Path(tmp) / "kb", embedder, args.queries, config)
        with_graph, _ = ingest_rate(embedder, corpus, config, Path(tmp) / "kb-graph")
        if args.compare_pooled:
            pooled = config.model_copy(deep=True)
            pooled.embedder.sentence_vectors = "pooled"
            pooled_rate, _ = ingest_rate(embedder, corpus, pooled, Path(tmp) / "kb-pooled")
    passages = sum(1 for _ in read_corpus(corpus))
    raw_passages = raw * passages / n_chunks  # raw encode rate in passages/s, for a like-for-like ratio
    p95 = statistics.quantiles(timings, n=20)[18]
    print(f"corpus: {corpus.name}: {passages} passages, {n_chunks} chunks")
    print(f"raw sentence-transformers encode: {raw_passages:8.1f} passages/s")
    print(f"kgsolver ingest, vectors + BM25:  {ingested:8.1f} passages/s")
    print(f"ratio ingest / raw encode:        {ingested / raw_passages:8.3f}  (target >= 0.85)")
    print(f"kgsolver ingest + spaCy KG:       {with_graph:8.1f} passages/s  (default extractor; ratio "
          f"{with_graph / raw_passages:.3f}, target >= 0.5)")
    if args.compare_pooled:
        print(f"  the same, sentences pooled:     {pooled_rate:8.1f} passages/s  (ratio "
              f"{pooled_rate / raw_passages:.3f})")
    print(f"retrieval latency over {len(timings)} queries (dense + BM25 + RRF, query encoder excluded): "
          f"p50 {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
