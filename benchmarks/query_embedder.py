"""The query path's embedder without torch (issue 33): the packaged all-MiniLM-L6-v2 as an f32 GGUF run by llama.cpp
(`embedder.query_runtime=gguf`) against sentence-transformers on torch (ingest's embedder), measured in one run.

    .venv/bin/python benchmarks/query_embedder.py [--threads 2] [--out benchmarks/results/query_embedder.json]

- cold load: a fresh process imports, loads and encodes one question (median of --cold-runs), and whether torch was
  imported on the GGUF path;
- agreement: cosine of the two runtimes' vectors on 200 HotpotQA questions and 500 passages (400 KILT, 100 MedQuAD,
  seed 0; those past 254 word pieces apart), and the top-5/10 neighbours of 200 KILT questions over 2,000 KILT
  paragraphs encoded by torch, searched with each runtime's question vectors;
- speed: one question's median latency, and passages/s on 1,000 passages.
The load average is printed with each timed part: on 2 shared cores, llama.cpp's threads collapse under contention.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kgsolver.connectors.embedder_gguf import GGUFEmbedder
from kgsolver.connectors.embedder_gguf_convert import cached_gguf
from kgsolver.connectors.embedders import (
    DEFAULT_EMBEDDER_NAME,
    DEFAULT_EMBEDDER_SHA256,
    load_embedder,
    packaged_model_dir,
)
from kgsolver.evals.datasets import datasets_dir
from kgsolver.pipeline.config import KGSolverConfig

QUESTION = "Which Canadian rock band released a song called Counterparts?"
COLD = """
import sys, time; started = time.perf_counter()
from kgsolver.connectors.embedders import {loader}
embedder = {call}
embedder.encode([{question!r}])
print(time.perf_counter() - started, "torch" in sys.modules)
"""
Encode = Callable[[list[str]], np.ndarray]


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cold_load(runtime: str, cache_dir: Path, threads: int, runs: int) -> dict:
    call = (f"load_query_embedder(runtime='gguf', cache_dir={str(cache_dir)!r}, n_threads={threads})"
            if runtime == "gguf" else "load_embedder()")
    code = COLD.format(loader="load_query_embedder" if runtime == "gguf" else "load_embedder", call=call,
                       question=QUESTION)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    seconds, torch = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        value, imported = out.stdout.split()[-2:]
        seconds.append(float(value))
        torch.append(imported == "True")
    return {"seconds_median": round(statistics.median(seconds), 3), "runs": runs, "torch_imported": any(torch)}


def cosines(a: np.ndarray, b: np.ndarray) -> dict:
    c = np.sum(a * b, axis=1)
    return {"min": round(float(c.min()), 7), "mean": round(float(c.mean()), 7), "n": len(c)}


def overlap(reference: np.ndarray, other: np.ndarray, corpus: np.ndarray, k: int) -> float:
    top_ref = np.argsort(-(reference @ corpus.T), axis=1)[:, :k]
    top_other = np.argsort(-(other @ corpus.T), axis=1)[:, :k]
    return round(float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_other, strict=True)])), 4)


def latency_ms(encode: Encode, texts: list[str]) -> float:
    encode(texts[:5])  # warm-up
    times = []
    for text in texts:
        started = time.perf_counter()
        encode([text])
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def per_second(encode: Encode, texts: list[str]) -> float:
    encode(texts[:16])
    started = time.perf_counter()
    encode(texts)
    return round(len(texts) / (time.perf_counter() - started), 1)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data, cache_dir = datasets_dir(), KGSolverConfig().cache_dir
    started = time.perf_counter()
    gguf_file = cached_gguf(packaged_model_dir(), cache_dir / "embedders", name=DEFAULT_EMBEDDER_NAME,
                            expected_sha256=DEFAULT_EMBEDDER_SHA256)
    report: dict = {"threads": args.threads, "load_start": load(),
                    "gguf_ready_s": round(time.perf_counter() - started, 2),
                    "gguf_mb": round(gguf_file.stat().st_size / 2**20, 1),
                    "cold_load": {r: cold_load(r, cache_dir, args.threads, args.cold_runs) for r in ("gguf", "torch")}}
    ours = GGUFEmbedder(gguf_file, packaged_model_dir(), n_threads=args.threads, name=DEFAULT_EMBEDDER_NAME)
    import torch

    torch.set_num_threads(args.threads)
    theirs = load_embedder()
    questions = [r["question"] for r in jsonl(data / "hotpotqa/hotpotqa_dev_distractor_200.jsonl")][:200]
    kilt_questions = [r["input"] for r in jsonl(data / "kilt/hotpotqa-dev-kilt.mini.jsonl")][:200]
    kilt = [r["text"] for r in jsonl(data / "kilt/hotpotqa-dev-kilt.mini.corpus.jsonl")]
    rng = random.Random(0)
    medquad = [r["text"] for r in jsonl(data / "medcorpus/medquad_passages.jsonl")]
    varied = rng.sample(kilt, 400) + rng.sample(medquad, 100)
    long = [t for t in varied if ours.count_tokens(t) > 254]
    report["count_tokens_equal"] = all(ours.count_tokens(t) == theirs.count_tokens(t) for t in varied)
    report["cosine"] = {"questions": cosines(ours.encode(questions), theirs.encode(questions)),
                        "passages": cosines(ours.encode(varied), theirs.encode(varied)),
                        "passages_over_254_pieces": cosines(ours.encode(long), theirs.encode(long))}
    corpus = theirs.encode(kilt[:2000])
    reference, other = theirs.encode(kilt_questions), ours.encode(kilt_questions)
    report["neighbours"] = {"overlap@10": overlap(reference, other, corpus, 10),
                            "overlap@5": overlap(reference, other, corpus, 5)}
    report["latency_ms"] = {"load_before": load(), "gguf": latency_ms(ours.encode, questions),
                            "torch": latency_ms(theirs.encode, questions), "load_after": load()}
    report["passages_per_s"] = {"load_before": load(), "gguf": per_second(ours.encode, kilt[:1000]),
                                "torch": per_second(theirs.encode, kilt[:1000]), "load_after": load()}
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
