"""Multi-hop retrieval benchmark: HotpotQA dev distractor (200), retrieving over the pooled paragraphs of all 200
questions. Per mode (naive, pike, ksl, agent; same LLM): supporting-title recall@2/5/10, answer EM/F1 (HotpotQA
definitions, evals/metrics.py), LLM calls and seconds per question, split by question type.

The questions, the pooled corpus, its knowledge base and the per-question scoring are the `hotpotqa` eval suite's
(evals/suites/hotpotqa.py, evals/runner.py::build_suite_kb): by default the knowledge base is that suite's own, in the
cache folder, shared with `kgsolver eval hotpotqa`. Two passes in one run: `--limit` questions with the LLM (the full
modes), and `--retrieval-limit` questions with an LLM budget of 0 (each mode's LLM-free retrieval only,
`Solver.gather`: no answer step; EM/F1 are then 0 by construction and not reported). Summaries go to `--out`;
per-question rows only where `--rows` names a file.

    .venv/bin/python benchmarks/multihop_retrieval.py --limit 10 --retrieval-limit 200
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import IO

from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.metrics import mean, title_recall_at_k
from kgsolver.evals.runner import build_suite_kb, default_kb
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.hotpotqa import HotpotQASuite
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.solver import Solver

KS = (2, 5, 10)
MODES = ("naive", "pike", "ksl", "agent")


def run_one(suite: HotpotQASuite, solver: Solver, item: WorkItem, mode: str) -> dict:
    started = time.perf_counter()
    out = suite.evaluate(item, solver, mode)
    metrics = out["metrics"]
    row = {"id": item.qid, "type": item.group, "mode": mode, "prediction": out["prediction"], "em": metrics["em"],
           "f1": metrics["f1"], "calls": out["usage"]["llm_calls"], "seconds": time.perf_counter() - started,
           "ranked": out["ranked_titles"][:10]}
    row.update({f"r@{k}": metrics[f"recall@{k}"] for k in KS})
    return row


def gather_one(solver: Solver, item: WorkItem, mode: str) -> dict:
    """The LLM-free pass: the mode's evidence only (`Solver.gather`, no answer step), scored as `run_one` scores a
    result that abstained (its ranked titles are then the evidence's)."""
    started = time.perf_counter()
    ranked = [d.metadata.get("title", "") for d in solver.gather(item.question, mode).listed]
    gold = set(item.gold["titles"])
    row = {"id": item.qid, "type": item.group, "mode": mode, "prediction": "", "em": 0.0, "f1": 0.0, "calls": 0,
           "seconds": time.perf_counter() - started, "ranked": ranked[:10]}
    row.update({f"r@{k}": title_recall_at_k(ranked, gold, k) for k in KS})
    return row


def summarise(rows: list[dict], with_answers: bool) -> list[dict]:
    groups = defaultdict(list)
    for r in rows:
        groups[(r["mode"], r["type"])].append(r)
        groups[(r["mode"], "all")].append(r)
    out = []
    for (mode, qtype), rs in sorted(groups.items(), key=lambda kv: (MODES.index(kv[0][0]), kv[0][1])):
        line = {"mode": mode, "type": qtype, "n": len(rs), **{f"r@{k}": round(mean(r[f"r@{k}"] for r in rs), 3)
                                                              for k in KS}}
        if with_answers:
            line.update(em=round(mean(r["em"] for r in rs), 3), f1=round(mean(r["f1"] for r in rs), 3))
        line.update(calls=round(mean(r["calls"] for r in rs), 2), seconds=round(mean(r["seconds"] for r in rs), 2))
        out.append(line)
    return out


def table(lines: list[dict], title: str) -> str:
    cols = [c for c in lines[0] if c != "mode"] if lines else []
    head = f"\n{title}\n| mode | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 1)
    return head + "".join(f"\n| {line['mode']} | " + " | ".join(str(line[c]) for c in cols) + " |" for line in lines)


def run_pass(suite: HotpotQASuite, solver: Solver, items: list[WorkItem], modes: list[str],
             log: IO[str] | None, *, answer: bool = True) -> list[dict]:
    rows = []
    for item in items:
        for mode in modes:
            rows.append(run_one(suite, solver, item, mode) if answer else gather_one(solver, item, mode))
            if log is not None:
                log.write(json.dumps(rows[-1]) + "\n")
                log.flush()
    return rows


def _passes(args: argparse.Namespace, suite: HotpotQASuite, config: KGSolverConfig, items: list[WorkItem],
            log: IO[str] | None) -> dict:
    report = {"llm": config.llm.name, "types": args.types, "skip": args.skip, "limit": args.limit,
              "retrieval_limit": args.retrieval_limit}
    modes = args.modes.split(",")

    def span(n: int) -> str:
        return f"{args.types} questions {args.skip + 1}-{args.skip + len(items[:n])}"

    if args.retrieval_limit:
        llm_free = config.model_copy(deep=True)
        llm_free.budget.max_llm_calls = 0
        rows = run_pass(suite, Solver(args.kb, llm_free), items[: args.retrieval_limit], modes, log, answer=False)
        report["retrieval_only"] = summarise(rows, with_answers=False)
        print(table(report["retrieval_only"], f"LLM-free retrieval, {span(args.retrieval_limit)}"), flush=True)
    if args.limit:
        rows = run_pass(suite, Solver(args.kb, config), items[: args.limit], modes, log)
        report["with_llm"] = summarise(rows, with_answers=True)
        print(table(report["with_llm"], f"Full modes with {config.llm.name}, {span(args.limit)}"), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=None, help="the hotpotqa suite's knowledge base (default: its "
                        "folder in the cache); a knowledge base the suite did not build is refused")
    parser.add_argument("--limit", type=int, default=10, help="questions answered with the LLM (0 = skip)")
    parser.add_argument("--retrieval-limit", type=int, default=50, help="questions in the LLM-free pass (0 = skip)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N questions of the type (held out)")
    parser.add_argument("--types", default="bridge", help="bridge | comparison | all")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--llm", default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/multihop_retrieval.json"))
    parser.add_argument("--rows", type=Path, default=None, help="also write every question's row here (jsonl)")
    args = parser.parse_args()
    config = KGSolverConfig()
    if args.llm:
        config.llm.name = args.llm
    config.retrieval.top_k = 10  # naive's evidence list is as long as the others' (recall@10)
    suite, data_dir = HotpotQASuite(recall_ks=KS), datasets_dir()
    args.kb = args.kb or default_kb(suite.name, config)
    build_suite_kb(suite, args.kb, data_dir, config)
    items = [i for i in suite.items(data_dir, None) if args.types == "all" or i.group == args.types][args.skip:]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log = args.rows.open("w", encoding="utf-8") if args.rows else None
    try:
        report = _passes(args, suite, config, items, log)
    finally:
        if log is not None:
            log.close()
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
