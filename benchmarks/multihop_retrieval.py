"""Multi-hop retrieval benchmark: HotpotQA dev distractor (200), retrieving over the pooled paragraphs of all 200
questions. Per mode (naive, pike, ksl, agent; same LLM): supporting-title recall@2/5/10, answer EM/F1 (HotpotQA
definitions, evals/metrics.py), LLM calls and seconds per question, split by question type.

Two passes in one run: `--limit` questions with the LLM (the full modes), and `--retrieval-limit` questions with an
LLM budget of 0 (each mode's LLM-free retrieval only; EM/F1 are then 0 by construction and not reported).

    .venv/bin/python benchmarks/multihop_retrieval.py --kb .kgsolver/hotpot200-kb --limit 10 --retrieval-limit 200
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from kgsolver.connectors.llms.gateway import Budget
from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, read_jsonl
from kgsolver.evals.metrics import exact_match, hotpot_f1, mean, title_recall_at_k
from kgsolver.evals.suites.common import write_corpus
from kgsolver.evals.suites.hotpotqa import pooled_paragraphs
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.ingest import ingest
from kgsolver.pipeline.knowledge_base import KnowledgeBase
from kgsolver.pipeline.solver import Solver

KS = (2, 5, 10)
MODES = ("naive", "pike", "ksl", "agent")


def ensure_kb(kb: Path, records: list[dict], config: KGSolverConfig) -> None:
    if not KnowledgeBase.exists(kb):
        corpus = write_corpus(pooled_paragraphs(records), kb.parent / f"{kb.name}-pool.jsonl")
        ingest(corpus, kb, config)


def run_one(solver: Solver, record: dict, mode: str, budget: Budget | None) -> dict:
    started = time.perf_counter()
    result = solver.ask(record["question"], mode=mode, budget=budget)
    prediction = "" if result.abstained else result.answer
    cited = [c.title for c in result.citations]
    ranked = cited + [e.title for e in result.evidence if e.title not in cited]  # as evals/suites/common.ask_open
    gold = {t for t, _ in record["supporting_facts"]}
    row = {"id": record["_id"], "type": record["type"], "mode": mode, "prediction": prediction,
           "em": exact_match(prediction, record["answer"]), "f1": hotpot_f1(prediction, record["answer"]),
           "calls": result.usage.llm_calls, "seconds": time.perf_counter() - started, "ranked": ranked[:10]}
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
    return head + "".join(f"\n| {l['mode']} | " + " | ".join(str(l[c]) for c in cols) + " |" for l in lines)


def run_pass(solver: Solver, records: list[dict], modes: list[str], budget: Budget | None, log) -> list[dict]:
    rows = []
    for record in records:
        for mode in modes:
            row = run_one(solver, record, mode, budget)
            rows.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=Path(".kgsolver/hotpot200-kb"))
    parser.add_argument("--limit", type=int, default=10, help="questions answered with the LLM (0 = skip)")
    parser.add_argument("--retrieval-limit", type=int, default=50, help="questions in the LLM-free pass (0 = skip)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N questions of the type (held out)")
    parser.add_argument("--types", default="bridge", help="bridge | comparison | all")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--llm", default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/multihop_retrieval.json"))
    args = parser.parse_args()
    config = KGSolverConfig()
    if args.llm:
        config.llm.name = args.llm
    config.retrieval.top_k = 10  # naive's evidence list is as long as the others' (recall@10)
    records = list(read_jsonl(dataset_path(HOTPOTQA_200)))
    ensure_kb(args.kb, records, config)
    chosen = [r for r in records if args.types == "all" or r["type"] == args.types][args.skip:]
    modes = args.modes.split(",")
    solver = Solver(args.kb, config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"llm": config.llm.name, "types": args.types, "skip": args.skip, "limit": args.limit,
              "retrieval_limit": args.retrieval_limit}

    def span(n: int) -> str:
        return f"{args.types} questions {args.skip + 1}-{args.skip + len(chosen[:n])}"

    with args.out.with_suffix(".rows.jsonl").open("w") as log:
        if args.retrieval_limit:
            rows = run_pass(solver, chosen[: args.retrieval_limit], modes, Budget(max_llm_calls=0), log)
            report["retrieval_only"] = summarise(rows, with_answers=False)
            print(table(report["retrieval_only"], f"LLM-free retrieval, {span(args.retrieval_limit)}"), flush=True)
        if args.limit:
            rows = run_pass(solver, chosen[: args.limit], modes, None, log)
            report["with_llm"] = summarise(rows, with_answers=True)
            print(table(report["with_llm"], f"Full modes with {config.llm.name}, {span(args.limit)}"), flush=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
