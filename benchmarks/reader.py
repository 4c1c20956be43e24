"""Reader benchmark (issue 16): HotpotQA dev distractor 200 over its pooled paragraphs (the `hotpotqa` eval suite's
questions, knowledge base and scoring), one mode, a slice of the questions, with the answer-form step off ("plain")
and on ("form": `answer_form.enabled`, pipeline/answer_form.py), or the gold passages given to the same answer step
("oracle", the suite's oracle condition). EM with Wilson 95% intervals, F1, seconds per question, split by the
detected answer kind and the HotpotQA type, and the answers the step changed.

The answer-form step changes no prompt, only what is done with the reply, so the "form" condition run after "plain"
with the same response cache (--cache) makes no new LLM call: seconds per question are the plain run's, uncached when
--cache names a fresh file (cache_hits says). The conditions may run in separate invocations writing per-question rows
(--rows); --from-rows summarises rows already written without running anything.

    .venv/bin/python benchmarks/reader.py --start 0 --limit 100 --cache .kgsolver/reader.sqlite --rows .kgsolver/q1-100.jsonl \
        --out benchmarks/results/reader_qwen05_naive_q1-100.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import IO

from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.metrics import mean
from kgsolver.evals.report import ci95
from kgsolver.evals.runner import build_suite_kb, default_kb
from kgsolver.evals.suites.hotpotqa import HotpotQASuite
from kgsolver.pipeline.answer_form import detect_form
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.solver import Solver

# condition -> (the suite's condition, answer_form.enabled): "oracle" gives the gold passages to the same answer step.
CONDITIONS = {"plain": ("rag", False), "form": ("rag", True), "oracle": ("oracle", False)}


def summary(rows: list[dict]) -> dict:
    ems = [r["em"] for r in rows]
    return {"n": len(rows), "em": round(mean(ems), 3), "em_ci95": ci95(ems), "f1": round(mean(r["f1"] for r in rows), 3),
            "s_per_q": round(mean(r["seconds"] for r in rows), 2), "llm_calls_per_q": round(mean(r["calls"] for r in rows), 2),
            "cache_hits": sum(r["cache_hits"] for r in rows)}


def report(rows: list[dict]) -> dict:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        for group in ("all", f"type:{row['type']}", f"kind:{row['kind']}"):
            groups[(group, row["condition"])].append(row)
    by_id: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        by_id[row["id"]][row["condition"]] = row
    paired = [(r["plain"], r["form"]) for r in by_id.values() if {"plain", "form"} <= r.keys()]
    changed = [(p, f) for p, f in paired if p["prediction"] != f["prediction"]]
    return {
        "groups": {f"{group} / {condition}": summary(rs) for (group, condition), rs in sorted(groups.items())},
        "form_changed": {"paired_questions": len(paired), "answers": len(changed),
                         "em_gained": sum(f["em"] > p["em"] for p, f in changed),
                         "em_lost": sum(f["em"] < p["em"] for p, f in changed),
                         "examples": [{"kind": p["kind"], "plain": p["prediction"], "form": f["prediction"],
                                       "gold": p["gold"]} for p, f in changed[:15]]},
    }


def table(result: dict) -> str:
    lines = ["| group / condition | n | EM | 95% CI | F1 | s/q | cache hits |", "|---|---|---|---|---|---|---|"]
    for name, s in result["groups"].items():
        lines.append(f"| {name} | {s['n']} | {s['em']} | {s['em_ci95'][0]}-{s['em_ci95'][1]} | {s['f1']} | "
                     f"{s['s_per_q']} | {s['cache_hits']} |")
    return "\n".join(lines)


def run(args: argparse.Namespace, log: IO[str]) -> list[dict]:
    config = KGSolverConfig()
    if args.llm:
        config.llm.name = args.llm
    if args.cache:
        config.llm_cache_path = args.cache
    suite, data_dir = HotpotQASuite(), datasets_dir()
    kb = args.kb or default_kb(suite.name, config)
    build_suite_kb(suite, kb, data_dir, config)
    items = suite.items(data_dir, None)
    by_condition = {c: [i for i in items if i.condition == c][args.start: args.start + args.limit]
                    for c in {"rag", "oracle"}}
    solvers: dict[str, Solver] = {}
    for condition in args.conditions.split(","):
        settings = config.model_copy(deep=True)
        settings.answer_form.enabled = CONDITIONS[condition][1]
        first = next(iter(solvers.values()), None)  # one model in memory, one response cache
        solvers[condition] = Solver(kb, settings, embedder=first.embedder if first else None,
                                    gateway=first.gateway if first else None)
    rows = []
    for n in range(len(by_condition["rag"])):
        for condition, solver in solvers.items():
            item = by_condition[CONDITIONS[condition][0]][n]
            started = time.perf_counter()
            out = suite.evaluate(item, solver, args.mode)
            rows.append({"id": item.qid, "type": item.group, "kind": detect_form(item.question).kind,
                         "gold": item.gold["answer"], "condition": condition, "llm": config.llm.name,
                         "prediction": out["prediction"], "em": out["metrics"]["em"], "f1": out["metrics"]["f1"],
                         "seconds": round(time.perf_counter() - started, 3), "calls": out["usage"]["llm_calls"],
                         "cache_hits": out["usage"]["cache_hits"]})
            log.write(json.dumps(rows[-1], ensure_ascii=False) + "\n")
            log.flush()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=None, help="the hotpotqa suite's knowledge base (default: its "
                        "folder in the cache)")
    parser.add_argument("--start", type=int, default=0, help="first question (0-based) of the slice")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--mode", default="naive")
    parser.add_argument("--llm", default=None)
    parser.add_argument("--conditions", default="plain,form", help=f"comma-separated, of {', '.join(CONDITIONS)}")
    parser.add_argument("--cache", type=Path, default=None, help="LLM response cache file (fresh: uncached timings)")
    parser.add_argument("--rows", type=Path, default=None, help="per-question rows (jsonl), appended to")
    parser.add_argument("--from-rows", type=Path, nargs="*", default=None,
                        help="only summarise these rows files (the questions of the --start/--limit slice)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.from_rows is None:
        if args.rows is None:
            parser.error("--rows is needed to run")
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        with args.rows.open("a", encoding="utf-8") as log:
            run(args, log)
        sources = [args.rows]
    else:
        sources = args.from_rows
    rows = [json.loads(line) for path in sources for line in path.read_text(encoding="utf-8").splitlines() if line]
    if args.from_rows is not None:  # the rows of the --start/--limit slice only (two runs compared on the same questions)
        wanted = {i.qid for i in HotpotQASuite().items(datasets_dir(), None)[args.start: args.start + args.limit]}
        rows = [r for r in rows if r["id"] in wanted]
    result = {"llm": sorted({r["llm"] for r in rows}), "mode": args.mode, "start": args.start,
              "questions": len({r["id"] for r in rows}),
              **report(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
    print(json.dumps(result["form_changed"], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
