"""The default ingest against the work it cannot skip, in one run (issue 35).

Each step's own work is timed alone, in one process, on the same passages and chunks, in this order:
- the raw encode of the chunks: the baseline of benchmarks/ingest.py, the same function;
- the sentence index's encode: each distinct titled sentence of the chunks, encoded alone, longest first, as ingest
  does (the splitting timed apart);
- the graph extractor (spaCy with its configured worker processes), then entity resolution over its batch (most of
  it the encode of the entity names).
Their sum is the floor of an ingest that keeps today's results (chunk vectors, sentence vectors, graph): each of these
steps already keeps every core busy (encode: torch's threads, one a core; the extractor: one process a core), so
running one beside another shares the same cores and does not shorten the sum. Then the default ingest is timed
whole on the same passages, and the ratios to the raw encode are printed: the floor's is the best an ingest doing
this work can reach on these cores.

    .venv/bin/python benchmarks/ingest_floor.py [--corpus PATH] [--limit N] [--out F.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

from ingest import ingest_rate, raw_encode_rate  # benchmarks/ingest.py: the baseline and the ingest, as it times them

from kgsolver.connectors.corpus_readers import read_corpus
from kgsolver.connectors.embedders import embed_with_progress, load_embedder
from kgsolver.connectors.text import split_sentences
from kgsolver.evals.datasets import KILT_CORPUS, dataset_path
from kgsolver.graphs.resolution import EntityResolver
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.chunking import TokenChunker
from kgsolver.pipeline.kb.graph_build import make_extractor
from kgsolver.pipeline.kb.sentence_index import titled_sentence


def timed(step):
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def write_passages(corpus: Path, limit: int | None, out: Path) -> int:
    """The first `limit` passages as a JSONL corpus of their own, so the baseline and the ingest read the same ones;
    of passages sharing an id (MedQuAD has some) the first, as `--on-duplicate=skip` keeps."""
    seen: set[str] = set()
    with out.open("w", encoding="utf-8") as f:
        for d in itertools.islice(read_corpus(corpus), limit):
            if d.id not in seen:
                seen.add(d.id)
                f.write(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n")
    return len(seen)


def step_seconds(embedder, corpus: Path, config: KGSolverConfig) -> dict[str, float | int]:
    chunker = TokenChunker(embedder.tokenizer, config.chunking.chunk_tokens, config.chunking.overlap_tokens)
    chunks = list(chunker.chunk(read_corpus(corpus)))
    raw_rate, n_chunks = raw_encode_rate(embedder, corpus, config)
    split, split_s = timed(lambda: [split_sentences(c.text) for c in chunks])
    sentences = list(dict.fromkeys(titled_sentence(c.title, s) for c, ss in zip(chunks, split, strict=True)
                                   for s in ss))
    _, sentences_s = timed(lambda: embed_with_progress(embedder, sentences, show=False))
    extractor = make_extractor(config.graph)
    batch, extract_s = timed(lambda: extractor.extract([(i, c.title, c.text) for i, c in enumerate(chunks)]))
    resolver = EntityResolver(embedder, threshold=config.graph.resolution_threshold,
                              batch_size=config.graph.resolution_batch_size)
    _, resolve_s = timed(lambda: resolver.resolve(batch))
    return {"chunks": n_chunks, "sentences": len(sentences), "entities": len(batch.entities),
            "raw encode": n_chunks / raw_rate, "sentence split": split_s, "sentence encode": sentences_s,
            "graph extract": extract_s, "entity resolution": resolve_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=KILT_CORPUS, help="a JSONL corpus: a path under the shared datasets "
                        "folder (default: the KILT mini corpus), or an absolute path")
    parser.add_argument("--limit", type=int, default=None, help="its first N passages (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args()
    config = KGSolverConfig()
    embedder = load_embedder()
    embedder.encode(["warm up the model"] * 8)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "passages.jsonl"
        passages = write_passages(dataset_path(args.corpus), args.limit, corpus)
        steps = step_seconds(embedder, corpus, config)
        ingest_rate_, _ = ingest_rate(embedder, corpus, config, Path(tmp) / "kb")
    raw = float(steps["raw encode"])
    work = ["raw encode", "sentence split", "sentence encode", "graph extract", "entity resolution"]
    floor = sum(float(steps[k]) for k in work)
    ingest_s = passages / ingest_rate_
    print(f"{passages} passages, {steps['chunks']} chunks, {steps['sentences']} distinct titled sentences, "
          f"{steps['entities']} extracted entities; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'step (alone)':<22}{'s':>8}{'x raw':>8}")
    for k in work:
        print(f"{k:<22}{float(steps[k]):>8.1f}{float(steps[k]) / raw:>8.2f}")
    print(f"{'floor (sum)':<22}{floor:>8.1f}{floor / raw:>8.2f}   best ratio to raw encode: {raw / floor:.3f}")
    print(f"{'default ingest':<22}{ingest_s:>8.1f}{ingest_s / raw:>8.2f}   ratio to raw encode: {raw / ingest_s:.3f} "
          f"(target >= 0.5); the rest (BM25, stores, loads, commit): {ingest_s - floor:.1f} s")
    if args.out:
        args.out.write_text(json.dumps({"passages": passages, **steps, "floor": floor, "ingest": ingest_s,
                                        "corpus": args.corpus, "limit": args.limit}, indent=1))


if __name__ == "__main__":
    main()
