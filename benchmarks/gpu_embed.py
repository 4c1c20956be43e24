"""The embedder's throughput on the CPU against a GPU, on the chunks ingest would embed (issue 17).

    python benchmarks/gpu_embed.py [--corpus FILE | --limit N] [--threads T] [--batch-sizes 64,256]

One run chunks the corpus once (the ingest chunker, the packaged MiniLM), then encodes the same chunk texts with the
same model folder on the CPU (torch at T threads) and, when CUDA is present, on the GPU at each batch size. Each
timing follows one warm-up batch, so model load and CUDA start-up are outside it. passages/s = passages in the
corpus / seconds to embed all their chunks. The largest absolute difference between the CPU and GPU vectors is
recorded, so a GPU figure is never one for different vectors. Writes benchmarks/results/gpu_embed.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from kgsolver.connectors.corpus_readers import read_corpus
from kgsolver.connectors.embedders import SentenceTransformerEmbedder
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.chunking import TokenChunker

RESULTS = Path(__file__).parent / "results" / "gpu_embed.json"


def chunk_texts(corpus: Path, config: KGSolverConfig, tokenizer) -> tuple[list[str], int]:
    documents = list(read_corpus(corpus))
    chunker = TokenChunker(tokenizer, config.chunking.chunk_tokens, config.chunking.overlap_tokens)
    return [c.indexed_text() for c in chunker.chunk(documents)], len(documents)


def timed_encode(embedder: SentenceTransformerEmbedder, texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    embedder.encode(texts[:batch_size], batch_size=batch_size)  # warm-up: kernels, allocator, thread pool
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=batch_size)  # returns numpy: the copy back is inside the timing
    return time.perf_counter() - started, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="a corpus file (default: the scale corpus, first --limit)")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    config = KGSolverConfig()
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="gpu-embed-") as scratch:
        corpus = args.corpus
        if corpus is None:
            from kgsolver.evals.datasets import medquad_kilt_corpus
            corpus = medquad_kilt_corpus(Path(scratch) / "corpus.jsonl", args.limit)
        cpu = SentenceTransformerEmbedder(device="cpu")
        texts, passages = chunk_texts(corpus, config, cpu.tokenizer)
    runs, reference = [], None
    for batch_size in sizes:
        seconds, vectors = timed_encode(cpu, texts, batch_size)
        reference = vectors if reference is None else reference
        runs.append({"device": "cpu", "threads": args.threads, "batch_size": batch_size, "seconds": round(seconds, 3),
                     "chunks_per_s": round(len(texts) / seconds, 1), "passages_per_s": round(passages / seconds, 1)})
        print(json.dumps(runs[-1]), flush=True)
    if torch.cuda.is_available():
        gpu = SentenceTransformerEmbedder(device="cuda")
        for batch_size in sizes:
            seconds, vectors = timed_encode(gpu, texts, batch_size)
            runs.append({"device": torch.cuda.get_device_name(0), "batch_size": batch_size,
                         "seconds": round(seconds, 3), "chunks_per_s": round(len(texts) / seconds, 1),
                         "passages_per_s": round(passages / seconds, 1),
                         "max_abs_diff_vs_cpu": float(np.abs(vectors - reference).max())})
            print(json.dumps(runs[-1]), flush=True)
    best_cpu = max(r["passages_per_s"] for r in runs if r["device"] == "cpu")
    gpu_rates = [r["passages_per_s"] for r in runs if r["device"] != "cpu"]
    result = {"passages": passages, "chunks": len(texts), "torch": torch.__version__, "runs": runs,
              "gpu_over_cpu": round(max(gpu_rates) / best_cpu, 2) if gpu_rates else None,
              "command": "benchmarks/gpu_embed.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k != "out")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"gpu_over_cpu": result["gpu_over_cpu"]}))


if __name__ == "__main__":
    main()
