"""Ray ingest against the local engine on real passages (issue 17): MedQuAD and the KILT mini corpus, interleaved.

    .venv/bin/python benchmarks/ray_ingest.py [--limit N] [--workers 1,2] [--cpus-per-worker C]

One run ingests the same corpus into a fresh knowledge base with: the local engine, pinned to C threads (torch
threads and spaCy processes); then Ray with each worker count W on a local cluster of W x C CPUs (Ray Data actor
pools, chunk -> embed -> spaCy extraction, threads pinned per actor). A "worker" is C CPUs: on one machine that is
the nearest thing to a node. Targets: Ray 1 worker >= 0.85x local; 2 workers >= 1.6x 1 worker. Ray's CPUs are
logical (Ray does not bind actors to cores), so a machine busy with other work distorts the ratios: the load
average before and after each run is recorded beside it. Writes benchmarks/results/ray_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from kgsolver.evals.datasets import medquad_kilt_corpus
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.ingest import ingest, local_engine
from kgsolver.pipeline.kb.ingest_ray import RayEngine

RESULTS = Path(__file__).parent / "results" / "ray_ingest.json"


def timed_ingest(corpus: Path, kb: Path, config: KGSolverConfig, engine) -> dict:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    report = ingest(corpus, kb, config, show_progress=False, engine=engine)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "passages": report.documents_read, "chunks": report.chunks_added,
            "passages_per_s": round(report.documents_read / seconds, 2),
            "entities": report.graph.entities if report.graph else 0,
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def run_local(corpus: Path, scratch: Path, cpus: int) -> dict:
    config = KGSolverConfig()
    config.graph.spacy_processes = cpus
    torch.set_num_threads(cpus)
    return {"engine": "local", "cpus": cpus, **timed_ingest(corpus, scratch / "local", config, local_engine)}


def run_ray(corpus: Path, scratch: Path, workers: int, cpus: int, base: KGSolverConfig) -> dict:
    import ray

    ray.init(num_cpus=workers * cpus, include_dashboard=False, log_to_driver=False)
    try:
        config = base.model_copy(deep=True)
        # Actors per stage: left at 0, the plan gives one per two cluster CPUs, so "2 workers" on 2 CPUs was 1 actor.
        config.ray.workers = workers
        row = timed_ingest(corpus, scratch / f"ray-{workers}", config, RayEngine(config.ray))
    finally:
        ray.shutdown()
    return {"engine": "ray", "workers": workers, "cpus": workers * cpus, **row}


def summary(args: argparse.Namespace, runs: list[dict]) -> dict:
    rate = {("local" if r["engine"] == "local" else r["workers"]): r["passages_per_s"] for r in runs}
    ratios = {"ray_1_over_local": round(rate[1] / rate["local"], 3) if 1 in rate and "local" in rate else None}
    for workers in rate:
        if workers not in ("local", 1) and 1 in rate:
            ratios[f"ray_{workers}_over_ray_1"] = round(rate[workers] / rate[1], 3)
    return {"limit": args.limit, "cpus_per_worker": args.cpus_per_worker, "machine_cpus": os.cpu_count(),
            "batch_documents": args.batch_documents, "batch_chunks": args.batch_chunks,
            "runs": runs, "ratios": ratios, "targets": {"ray_1_over_local": 0.85, "ray_2_over_ray_1": 1.6},
            "command": "benchmarks/ray_ingest.py " + " ".join(
                f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in vars(args).items()
                if v not in (None, False) and k not in ("out", "corpus"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N passages (default: all, about 19k)")
    parser.add_argument("--corpus", type=Path, help="a prepared corpus file instead of the scale corpus (a machine "
                        "without the shared datasets)")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts, comma-separated, run in this order")
    parser.add_argument("--cpus-per-worker", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--skip-local", action="store_true", help="Ray runs only (the local engine is the slowest)")
    parser.add_argument("--batch-documents", type=int, help="config.ray.batch_documents (more batches than actors)")
    parser.add_argument("--batch-chunks", type=int, help="config.ray.batch_chunks")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    base = KGSolverConfig()
    if args.batch_documents:
        base.ray.batch_documents = args.batch_documents
    if args.batch_chunks:
        base.ray.batch_chunks = args.batch_chunks
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []

    def record(row: dict) -> None:  # after every run, so that a run cut short keeps what finished
        runs.append(row)
        print(json.dumps(row), flush=True)
        args.out.write_text(json.dumps(summary(args, runs), indent=2) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="ray-ingest-") as scratch_dir:
        scratch = Path(scratch_dir)
        corpus = args.corpus or medquad_kilt_corpus(scratch / "corpus.jsonl", args.limit)
        if not args.skip_local:
            record(run_local(corpus, scratch, args.cpus_per_worker))
        for workers in (int(n) for n in args.workers.split(",")):
            record(run_ray(corpus, scratch, workers, args.cpus_per_worker, base))
    print(json.dumps(summary(args, runs)["ratios"]))

if __name__ == "__main__":
    main()
