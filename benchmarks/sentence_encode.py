"""Ways to encode the sentence index, against the default, on the same sentences in one run (issue 35).

The sentences are those ingest encodes for the first N passages of a corpus: each distinct titled sentence of the
chunks. Each way is timed on all of them and compared with the default's vectors (each sentence alone,
sentence-transformers on torch, float32, longest first in blocks, batch `embedder.batch_size`):
- batch sizes: the same vectors, other padding and matrix shapes;
- input order as split, not longest first (what sorting by length saves in padding);
- a cap on the sentence's word pieces (the model reads 256): long sentences lose their tails;
- llama.cpp over the f32 GGUF the query path uses (connectors/embedder_gguf.py);
- torch dynamic int8 quantisation of the linear layers.
Printed: seconds, x the default's, and the cosine to the default's vectors (mean, 1st percentile, min).

    .venv/bin/python benchmarks/sentence_encode.py [--corpus PATH] [--limit 400] [--out F.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kgsolver.connectors.corpus_readers import read_corpus
from kgsolver.connectors.embedders import embed_with_progress, load_embedder, load_query_embedder
from kgsolver.connectors.text import split_sentences
from kgsolver.evals.datasets import KILT_CORPUS, dataset_path
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.chunking import TokenChunker
from kgsolver.pipeline.kb.sentence_index import titled_sentence


def sentences_of(corpus: Path, limit: int, embedder, config: KGSolverConfig) -> list[str]:
    chunker = TokenChunker(embedder.tokenizer, config.chunking.chunk_tokens, config.chunking.overlap_tokens)
    chunks = list(chunker.chunk(itertools.islice(read_corpus(corpus), limit)))
    return list(dict.fromkeys(titled_sentence(c.title, s) for c in chunks for s in split_sentences(c.text)))


def ways(embedder, config: KGSolverConfig) -> dict[str, Callable[[list[str]], np.ndarray]]:
    def batch(size: int) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: embedder.encode(texts, batch_size=size)  # one encode call: sentence-transformers sorts

    def capped(tokens: int) -> Callable[[list[str]], np.ndarray]:
        def run(texts: list[str]) -> np.ndarray:
            full, embedder.model.max_seq_length = embedder.model.max_seq_length, tokens
            try:
                return embed_with_progress(embedder, texts, show=False)
            finally:
                embedder.model.max_seq_length = full
        return run

    def unsorted(texts: list[str]) -> np.ndarray:
        size = config.embedder.batch_size
        return np.concatenate([embedder.encode(texts[i : i + size]) for i in range(0, len(texts), size)])

    def int8(texts: list[str]) -> np.ndarray:
        import torch

        full = embedder.model
        embedder.model = torch.ao.quantization.quantize_dynamic(full, {torch.nn.Linear}, dtype=torch.qint8)
        try:
            return embed_with_progress(embedder, texts, show=False)
        finally:
            embedder.model = full

    gguf = load_query_embedder(runtime="gguf", cache_dir=config.cache_dir, n_threads=2)
    return {"batch 16": batch(16), "batch 32": batch(32), "batch 128": batch(128), "in split order": unsorted,
            "cap 128 word pieces": capped(128), "cap 64 word pieces": capped(64),
            "llama.cpp f32 GGUF, 2 threads": lambda texts: embed_with_progress(gguf, texts, show=False),
            "torch int8 dynamic": int8}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=KILT_CORPUS, help="a JSONL corpus: a path under the shared datasets "
                        "folder (default: the KILT mini corpus), or an absolute path")
    parser.add_argument("--limit", type=int, default=400, help="its first N passages")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = KGSolverConfig()
    embedder = load_embedder()
    embedder.encode(["warm up the model"] * 8)
    texts = sentences_of(dataset_path(args.corpus), args.limit, embedder, config)
    started = time.perf_counter()
    default = embed_with_progress(embedder, texts, show=False)
    base_s = time.perf_counter() - started
    rows = [{"way": f"default (batch {config.embedder.batch_size}, longest first)", "seconds": base_s,
             "cosine mean": 1.0, "cosine p1": 1.0, "cosine min": 1.0}]
    for name, encode in ways(embedder, config).items():
        started = time.perf_counter()
        vectors = encode(texts)
        seconds = time.perf_counter() - started
        cosine = (vectors * default).sum(axis=1)
        rows.append({"way": name, "seconds": seconds, "cosine mean": float(cosine.mean()),
                     "cosine p1": float(np.percentile(cosine, 1)), "cosine min": float(cosine.min())})
    tokens = sum(len(ids) for ids in embedder.tokenizer(texts)["input_ids"])
    print(f"{len(texts)} distinct titled sentences, {tokens} word pieces")
    print(f"{'way':<34}{'s':>7}{'x default':>11}{'cos mean':>10}{'cos p1':>9}{'cos min':>9}")
    for r in rows:
        print(f"{r['way']:<34}{r['seconds']:>7.1f}{r['seconds'] / base_s:>11.2f}{r['cosine mean']:>10.4f}"
              f"{r['cosine p1']:>9.4f}{r['cosine min']:>9.4f}")
    if args.out:
        args.out.write_text(json.dumps({"sentences": len(texts), "word_pieces": tokens, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
