"""The knowledge-conflict table: rates per condition and system, and the edit rates on the questions a system reads
correctly (intact answered) and on the plausible substitutes, from a `kgsolver eval conflicts` run folder or a run
saved as JSON by the former script (benchmarks/results/conflicts40_*.json), re-scored with today's `matches`.

    .venv/bin/python -m kgsolver.evals.conflicts_table runs/conflicts40-qwen05
    .venv/bin/python -m kgsolver.evals.conflicts_table benchmarks/results/conflicts40_qwen15.json
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgsolver.evals.conflicts import CONDITIONS, DATA_FILE, SYSTEMS, is_followed

NAMES = {"intact": "intact (control): = gold answer", "counterfactual": "counterfactual: context adherence",
         "irrelevant": "irrelevant: = closed-book", "assumption": "assumption: follows --assume"}


def tabulate(records: list[dict[str, Any]], n: int, conditions: Sequence[str] = CONDITIONS,
             systems: Sequence[str] = SYSTEMS) -> dict[str, Any]:
    """The rate per (condition, system) over `records` (one per question, condition and system), and the
    `readable` edit rates."""
    rates = {}
    for key in ((c, s) for c in conditions for s in systems):
        oks = [r["ok"] for r in records if (r["condition"], r["system"]) == key]
        rates[key] = sum(oks) / len(oks) if oks else 0.0
    result = {"rates": rates, "records": records, "n": n, "conditions": tuple(conditions), "systems": tuple(systems)}
    result["readable"] = edit_rates(result, conditions, systems)
    return result


def edit_rates(result: dict[str, Any], conditions: Sequence[str] = CONDITIONS, systems: Sequence[str] = SYSTEMS,
               qids: set[str] | None = None, given_intact: bool = True) -> dict[tuple[str, str], tuple[float, int]]:
    """(edited condition, system) -> (rate, n) over the questions in `qids` (all when None), and, with
    `given_intact`, only those the system answers correctly from the intact passages."""
    ok = {(r["qid"], r["condition"], r["system"]): r["ok"] for r in result["records"]}
    asked = [q for q in dict.fromkeys(r["qid"] for r in result["records"]) if qids is None or q in qids]
    out = {}
    for edited in ("counterfactual", "assumption"):
        if edited not in conditions or (given_intact and "intact" not in conditions):
            continue
        for system in systems:
            kept = [ok[(q, edited, system)] for q in asked if not given_intact or ok[(q, "intact", system)]]
            out[(edited, system)] = (sum(kept) / len(kept) if kept else 0.0, len(kept))
    return out


def frozen(path: Path = DATA_FILE) -> dict[str, dict[str, Any]]:
    """The frozen rows by qid (the aliases and the verdict of each substitute)."""
    return {r["qid"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def _records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """A run folder's predictions.jsonl (one row per question and condition) or a saved JSON, as records."""
    if path.is_dir():
        rows = [json.loads(line) for line in (path / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        records = [r for row in rows for r in row.get("records", [])]
        return records, len({r["qid"] for r in records})
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved["records"], saved["n"]


def load_result(path: Path, data: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A run back in `tabulate`'s shape, each record re-scored with today's `matches` against the target and, for a
    frozen question, the aliases of its answer or substitute."""
    data = frozen() if data is None else data
    records, n = _records(Path(path))
    for r in records:
        row, targets = data.get(r["qid"], {}), [r["target"]] if r["target"] else []
        for name in ("answer", "substitute"):
            if r["condition"] != "irrelevant" and row.get(name) == r["target"]:
                targets += row[f"{name}_aliases"]
        r["ok"] = is_followed(r["condition"], r["answer"], targets)
    conditions = tuple(c for c in CONDITIONS if any(r["condition"] == c for r in records))
    systems = tuple(s for s in SYSTEMS if any(r["system"] == s for r in records))
    return tabulate(records, n, conditions, systems)


def read_audit(path: Path) -> set[str]:
    """The questions whose substitute a reader judged plausible: a TSV with the columns qid and verdict
    (plausible | implausible | alias), e.g. benchmarks/results/conflicts40_substitute_audit.tsv."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or not {"qid", "verdict"} <= set(rows[0]):
        raise ValueError(f"{path}: an audit needs the TSV columns qid and verdict")
    return {r["qid"] for r in rows if r["verdict"].strip() == "plausible"}


def format_table(result: dict[str, Any], conditions: Sequence[str] | None = None, systems: Sequence[str] | None = None,
                 plausible: set[str] | None = None) -> str:
    """The rates as a text table; the conditions and systems the result was computed for unless named."""
    conditions, systems = conditions or result["conditions"], systems or result["systems"]
    lines = [f"{'condition (n=' + str(result['n']) + ')':44}" + "".join(f"{s:>13}" for s in systems)]
    for c in conditions:
        lines.append(f"{NAMES[c]:44}" + "".join(f"{result['rates'][(c, s)]:>13.2f}" for s in systems))
    rows = [("intact answered", result.get("readable", {}))]
    if plausible is not None:
        rows += [("plausible substitute", edit_rates(result, conditions, systems, plausible, given_intact=False)),
                 ("plausible, intact answered", edit_rates(result, conditions, systems, plausible))]
    for label, table in rows:
        for edited in ("counterfactual", "assumption"):
            if (edited, systems[0]) in table:
                cells = "".join(f"{f'{rate:.2f} (n={n})':>13}" for rate, n in (table[(edited, s)] for s in systems))
                lines.append(f"{edited + ' | ' + label:44}" + cells)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a `kgsolver eval conflicts` run folder or a saved JSON run")
    parser.add_argument("--audit", type=Path, default=None,
                        help="a TSV (qid, verdict) judging each substitute (default: the frozen data's verdicts)")
    args = parser.parse_args(argv)
    data = frozen()
    plausible = read_audit(args.audit) if args.audit else {q for q, r in data.items() if r["verdict"] == "plausible"}
    print(format_table(load_result(args.run, data), plausible=plausible))


if __name__ == "__main__":
    main()
