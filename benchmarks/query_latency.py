"""Non-LLM time per question of each answering mode, against raw hybrid retrieval measured in the same run.

    .venv/bin/python benchmarks/query_latency.py [--kb .kgsolver/kilt-mini-kb] [--questions 200] [--out FILE.json]

The knowledge base is the KILT mini corpus (2,920 Wikipedia paragraphs; ingested once into --kb). The questions are
the KILT HotpotQA mini set. Every mode runs with an LLM budget of 0, so what is timed is retrieval, tools, filters
and the answer step's bookkeeping, never the LLM.

- baseline: raw hybrid retrieval as a user would write it: one query encode (sentence-transformers), a faiss search,
  a BM25 search, reciprocal rank fusion;
- each mode: `Solver.ask(question, mode=..., budget=0 calls)`, one warm-up question first (models and graph loaded).
Targets (issue 15): naive p50 <= 3x the baseline's p50, agent <= 10x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from kgsolver.connectors.embedders import load_embedder
from kgsolver.connectors.llms.gateway import Budget
from kgsolver.evals.datasets import KILT_CORPUS, KILT_QUESTIONS, dataset_path, read_jsonl
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.retrieval import reciprocal_rank_fusion
from kgsolver.pipeline.solver import Solver

TARGETS = {"naive": 3.0, "agent": 10.0}


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
            "n": len(ordered)}


def raw_hybrid(kb: KnowledgeBase, embedder, questions: list[str], config: KGSolverConfig) -> list[float]:
    r, out = config.retrieval, []
    for question in questions:
        started = time.perf_counter()
        vector = embedder.encode([question])
        _, ids = kb.dense.search(vector, r.candidates)
        _, bm25_ids = kb.bm25.search([question], r.candidates)
        rankings = [[(int(i), 0.0) for i in ids[0] if i >= 0], [(int(i), 0.0) for i in bm25_ids[0] if i >= 0]]
        reciprocal_rank_fusion(rankings, r.rrf_k, r.top_k)
        out.append(time.perf_counter() - started)
    return out


def mode_times(solver: Solver, mode: str, questions: list[str]) -> list[float]:
    solver.ask(questions[-1] + "?", mode=mode, budget=Budget(max_llm_calls=0))  # warm-up, not one of the timed
    solver.vectors.memo.clear()  # each mode encodes its questions itself, as a fresh process would
    out = []
    for question in questions:
        started = time.perf_counter()
        solver.ask(question, mode=mode, budget=Budget(max_llm_calls=0))
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, default=Path(".kgsolver/kilt-mini-kb"))
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--modes", default="naive,pike,ksl,agent")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = KGSolverConfig()
    if not KnowledgeBase.exists(args.kb):
        ingest(dataset_path(KILT_CORPUS), args.kb, config)
    questions = [r["input"] for r in read_jsonl(dataset_path(KILT_QUESTIONS))][: args.questions]
    embedder = load_embedder()
    solver = Solver(args.kb, config, embedder=embedder)
    raw_hybrid(solver.kb, embedder, questions[-5:], config)  # warm-up
    report = {"baseline": percentiles(raw_hybrid(solver.kb, embedder, questions, config)), "modes": {}}
    base = report["baseline"]["p50_ms"]
    print(f"raw hybrid retrieval: p50 {base:.1f} ms, p95 {report['baseline']['p95_ms']:.1f} ms")
    for mode in args.modes.split(","):
        stats = percentiles(mode_times(solver, mode, questions))
        stats["ratio_p50"] = stats["p50_ms"] / base
        stats["target"] = TARGETS.get(mode)
        report["modes"][mode] = stats
        verdict = "" if mode not in TARGETS else f" (target <= {TARGETS[mode]:.0f}x: " \
            f"{'met' if stats['ratio_p50'] <= TARGETS[mode] else 'MISSED'})"
        print(f"{mode:6s} p50 {stats['p50_ms']:7.1f} ms  p95 {stats['p95_ms']:7.1f} ms  "
              f"{stats['ratio_p50']:5.1f}x raw{verdict}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
