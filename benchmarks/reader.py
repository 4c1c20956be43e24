"""Reader benchmark (issue 16): HotpotQA dev distractor 200 over its pooled paragraphs (the `hotpotqa` eval suite's
questions, knowledge base and scoring), one mode, a slice of the questions, with the answer-form step off ("plain")
and on ("form": `answer_form.enabled`, pipeline/answer/answer_form.py), or the gold passages given to the same answer
step ("oracle", the suite's oracle condition). EM with Wilson 95% intervals, F1, seconds per question, split by the
detected answer kind and the HotpotQA type, and the answers the step changed.

The answer-form step changes no prompt, only what is done with the reply, so the "form" condition run after "plain"
with the same response cache (--cache) makes no new LLM call: seconds per question are the plain run's, uncached when
--cache names a fresh file (cache_hits says). The conditions may run in separate invocations writing per-question rows
(--rows); --from-rows summarises rows already written without running anything.

    .venv/bin/python benchmarks/reader.py --start 0 --limit 100 --cache .kgsolver/reader.sqlite \
        --rows .kgsolver/q1-100.jsonl --out benchmarks/results/reader_qwen05_naive_q1-100.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import IO

from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.metrics import mean
from kgsolver.evals.report import ci95
from kgsolver.evals.runner import build_suite_kb, default_kb
from kgsolver.evals.suites.hotpotqa import HotpotQASuite
from kgsolver.pipeline.answer.answer_form import detect_form
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.solver import Solver

# condition -> (the suite's condition, answer_form.enabled): "oracle" gives the gold passages to the same answer step.
CONDITIONS = {"plain": ("rag", False), "form": ("rag", True), "oracle": ("oracle", False),
              "oracle_form": ("oracle", True)}
# Each condition compared (paired) with the one it differs from by the answer-form step alone.
FORM_BASE = {"form": "plain", "oracle_form": "oracle"}


def summary(rows: list[dict]) -> dict:
    ems = [r["em"] for r in rows]
    return {"n": len(rows), "em": round(mean(ems), 3), "em_ci95": ci95(ems),
            "f1": round(mean(r["f1"] for r in rows), 3), "s_per_q": round(mean(r["seconds"] for r in rows), 2),
            "s_median": round(statistics.median(r["seconds"] for r in rows), 2),
            "llm_calls_per_q": round(mean(r["calls"] for r in rows), 2),
            "cache_hits": sum(r["cache_hits"] for r in rows),
            "prompt_tokens_per_q": round(mean(r.get("prompt_tokens", 0) for r in rows), 1)}


def paired(by_id: dict[str, dict[str, dict]], base: str, other: str) -> dict:
    """`other` against `base` on the questions both answered: the discordant pairs (right in one only) decide."""
    pairs = [(r[base], r[other]) for r in by_id.values() if {base, other} <= r.keys()]
    changed = [(b, o) for b, o in pairs if b["prediction"] != o["prediction"]]
    return {"paired_questions": len(pairs), "answers_changed": len(changed),
            "base_em": round(mean([b["em"] for b, _ in pairs]), 3) if pairs else None,
            "other_em": round(mean([o["em"] for _, o in pairs]), 3) if pairs else None,
            "other_only_right": sum(o["em"] > b["em"] for b, o in pairs),
            # seconds: each question's time against its own base time, the question the same, the load alike
            "seconds_ratio_median": round(statistics.median(o["seconds"] / b["seconds"] for b, o in pairs), 3)
            if pairs else None,
            "base_only_right": sum(o["em"] < b["em"] for b, o in pairs),
            "examples": [{"kind": b["kind"], base: b["prediction"], other: o["prediction"], "gold": b["gold"]}
                         for b, o in changed[:20]]}


def report(rows: list[dict], base: str | None = None) -> dict:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        for group in ("all", f"type:{row['type']}", f"kind:{row['kind']}"):
            groups[(group, row["condition"])].append(row)
    by_id: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        by_id[row["id"]][row["condition"]] = row
    conditions = sorted({r["condition"] for r in rows})
    # Each variant ("oracle+fewshot") against the condition it varies ("oracle"); "form" against "plain".
    bases = {c: c.split("+")[0] if "+" in c else FORM_BASE.get(c) for c in conditions}
    if base is not None:  # every condition against the one named (variants of one base: "form+hop" vs "form+rank")
        bases = {c: base for c in conditions if c != base}
    return {
        "groups": {f"{group} / {condition}": summary(rs) for (group, condition), rs in sorted(groups.items())},
        "paired": {f"{c} vs {b}": paired(by_id, b, c) for c, b in bases.items() if b in conditions},
    }


def table(result: dict) -> str:
    lines = ["| group / condition | n | EM | 95% CI | F1 | s/q | cache hits |", "|---|---|---|---|---|---|---|"]
    for name, s in result["groups"].items():
        lines.append(f"| {name} | {s['n']} | {s['em']} | {s['em_ci95'][0]}-{s['em_ci95'][1]} | {s['f1']} | "
                     f"{s['s_per_q']} | {s['cache_hits']} |")
    return "\n".join(lines)


def apply_settings(config: KGSolverConfig, assignments: list[str]) -> None:
    """--set block.field=value (e.g. answer_form.few_shot=true), validated by the config's own types."""
    for assignment in assignments:
        path, _, value = assignment.partition("=")
        *blocks, name = path.split(".")
        target = config
        for block in blocks:
            target = getattr(target, block)
        if not _ or name not in type(target).model_fields:
            raise SystemExit(f"--set {assignment!r}: expected block.field=value naming a config field")
        setattr(target, name, type(target).model_validate({**target.model_dump(), name: value}).__dict__[name])


def run(args: argparse.Namespace, log: IO[str]) -> list[dict]:
    config = KGSolverConfig()
    apply_settings(config, args.set)
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
    conditions = args.conditions.split(",")
    variants = [("", condition, []) for condition in conditions] + [
        (name, conditions[0], assignments.split(",")) for name, _, assignments in
        (variant.partition(":") for variant in args.variant)]
    for name, condition, assignments in variants:
        settings = config.model_copy(deep=True)
        settings.answer_form.enabled = CONDITIONS[condition][1]
        apply_settings(settings, assignments)
        first = next(iter(solvers.values()), None)  # one model in memory (one context per process), one embedder
        same_llm = first is not None and first.config.llm == settings.llm
        solvers[condition + (f"+{name}" if name else "")] = Solver(
            kb, settings, embedder=first.embedder if first else None, gateway=first.gateway if same_llm else None)
    rows = []
    for n in range(len(by_condition["rag"])):
        for condition, solver in solvers.items():  # interleaved: each question under every condition in turn
            item = by_condition[CONDITIONS[condition.split("+")[0]][0]][n]
            started = time.perf_counter()
            out = suite.evaluate(item, solver, args.mode)
            rows.append({"id": item.qid, "type": item.group, "kind": detect_form(item.question).kind,
                         "gold": item.gold["answer"], "condition": condition + (f"+{args.tag}" if args.tag else ""),
                         "settings": args.set, "mode": args.mode, "llm": config.llm.name,
                         "prediction": out["prediction"], "em": out["metrics"]["em"], "f1": out["metrics"]["f1"],
                         "seconds": round(time.perf_counter() - started, 3), "calls": out["usage"]["llm_calls"],
                         "cache_hits": out["usage"]["cache_hits"], "prompt_tokens": out["usage"]["prompt_tokens"],
                         "completion_tokens": out["usage"]["completion_tokens"]})
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
    parser.add_argument("--set", action="append", default=[], metavar="BLOCK.FIELD=VALUE",
                        help="a config setting for every condition of the run (repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:BLOCK.FIELD=VALUE[,...]",
                        help="one more condition: the first of --conditions with these settings, named COND+NAME and "
                        "paired with COND; run interleaved with it, question by question (repeatable)")
    parser.add_argument("--tag", default="", help="the variant's name, added to the conditions' names (oracle+TAG)")
    parser.add_argument("--cache", type=Path, default=None, help="LLM response cache file (fresh: uncached timings)")
    parser.add_argument("--rows", type=Path, default=None, help="per-question rows (jsonl), appended to")
    parser.add_argument("--from-rows", type=Path, nargs="*", default=None,
                        help="only summarise these rows files (the questions of the --start/--limit slice)")
    parser.add_argument("--base", default=None, help="pair every condition with this one (say form+rank) instead of "
                        "the condition each varies")
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
    # the rows of the --start/--limit slice only (two runs compared on the same questions)
    if args.from_rows is not None:
        wanted = {i.qid for i in HotpotQASuite().items(datasets_dir(), None)[args.start: args.start + args.limit]}
        rows = [r for r in rows if r["id"] in wanted]
    result = {"llm": sorted({r["llm"] for r in rows}), "mode": args.mode, "start": args.start,
              "questions": len({r["id"] for r in rows}),
              **report(rows, args.base)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
    print(json.dumps({k: {f: v for f, v in p.items() if f != "examples"} for k, p in result["paired"].items()},
                     indent=2))


if __name__ == "__main__":
    main()
