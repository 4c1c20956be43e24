"""Which gold passages survive the filter chain (issue 16): HotpotQA dev distractor 200 over its pooled paragraphs
(the `hotpotqa` suite's questions and knowledge base), `naive` retrieval, then the answer step's filters, no LLM call.

For each question: the supporting passages among the passages handed to the answer step (before the filters), among
those the filters keep (what the reader sees), and which filter removed each gold passage it lost; and the same for
the supporting sentences (the brevity filter cuts sentences, not passages). A reader cannot
answer from a passage a filter dropped, so a filter rule is judged here first, on the retrieval side, before any LLM
run. Optional --set applies config settings (block.field=value) to try a rule on one slice and confirm on another.

    .venv/bin/python benchmarks/filter_recall.py --start 0 --limit 100 \
        --out benchmarks/results/filter_recall_q1-100.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from reader import apply_settings  # benchmarks/ is the script's own folder on sys.path

from kgsolver.connectors.text import normal
from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, datasets_dir, read_jsonl
from kgsolver.evals.metrics import mean
from kgsolver.evals.report import ci95
from kgsolver.evals.runner import build_suite_kb, default_kb
from kgsolver.evals.suites.hotpotqa import HotpotQASuite
from kgsolver.pipeline.answer.filters import build_filter_chain, doc_ref
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.solver import Solver


def supporting_sentences(record: dict) -> list[str]:
    """The record's supporting sentences (HotpotQA `supporting_facts`: title, sentence number), normalised."""
    paragraphs = dict((title, sentences) for title, sentences in record["context"])
    return [normal(paragraphs[t][n]) for t, n in record["supporting_facts"]
            if t in paragraphs and n < len(paragraphs[t]) and normal(paragraphs[t][n])]


def question_row(solver: Solver, config: KGSolverConfig, item, record: dict) -> dict:
    docs = solver.retriever().invoke(item.question)
    gold = set(item.gold["titles"])
    chain = build_filter_chain(config.filters, solver.vectors, session=None)
    result = chain.run(item.question, docs)
    removed_by = {r.ref: report.filter for report in result.reports for r in report.removed if r.kind == "document"}
    offered = {d.metadata["title"] for d in docs} & gold
    kept = {d.metadata["title"] for d in result.documents} & gold
    lost = {d.metadata["title"]: removed_by.get(doc_ref(d), "?") for d in docs
            if d.metadata["title"] in gold and d.metadata["title"] not in kept}
    sentences = supporting_sentences(record)
    offered_text = normal(" ".join(d.page_content for d in docs))
    kept_text = normal(" ".join(d.page_content for d in result.documents))
    return {"id": item.qid, "type": item.group, "gold": len(gold), "offered": len(offered), "kept": len(kept),
            "sentences": len(sentences), "sentences_offered": sum(s in offered_text for s in sentences),
            "sentences_kept": sum(s in kept_text for s in sentences),
            "lost": lost, "passages_offered": len(docs), "passages_kept": len(result.documents)}


def summary(rows: list[dict]) -> dict:
    both_offered = [float(r["offered"] == r["gold"]) for r in rows]
    both_kept = [float(r["kept"] == r["gold"]) for r in rows]
    return {"n": len(rows),
            "gold_recall_offered": round(mean(r["offered"] / r["gold"] for r in rows), 3),
            "gold_recall_kept": round(mean(r["kept"] / r["gold"] for r in rows), 3),
            "all_gold_offered": round(mean(both_offered), 3), "all_gold_offered_ci95": ci95(both_offered),
            "all_gold_kept": round(mean(both_kept), 3), "all_gold_kept_ci95": ci95(both_kept),
            "support_sentences_offered": round(mean(r["sentences_offered"] / r["sentences"] for r in rows), 3),
            "support_sentences_kept": round(mean(r["sentences_kept"] / r["sentences"] for r in rows), 3),
            "gold_lost_by": dict(Counter(f for r in rows for f in r["lost"].values())),
            "passages_kept_per_q": round(mean(r["passages_kept"] for r in rows), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--set", action="append", default=[], metavar="BLOCK.FIELD=VALUE")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=Path, default=None, help="also write each question's row here (jsonl)")
    args = parser.parse_args()
    config = KGSolverConfig()
    apply_settings(config, args.set)
    suite, data_dir = HotpotQASuite(), datasets_dir()
    kb = default_kb(suite.name, config)
    build_suite_kb(suite, kb, data_dir, config)
    solver = Solver(kb, config)
    items = [i for i in suite.items(data_dir, None) if i.condition == "rag"][args.start: args.start + args.limit]
    records = {r["_id"]: r for r in read_jsonl(dataset_path(HOTPOTQA_200, data_dir))}
    rows = [question_row(solver, config, item, records[item.qid]) for item in items]
    result = {"settings": args.set, "start": args.start,
              "groups": {group: summary([r for r in rows if group in ("all", r["type"])])
                         for group in ("all", "bridge", "comparison")},
              }
    if args.rows:  # per-question rows stay outside git (benchmarks/results holds summaries)
        args.rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result["groups"], indent=2))


if __name__ == "__main__":
    main()
