"""Summaries of a run: `metrics.json`, `report.md` and, for KILT, `kilt_predictions.jsonl` in KILT's format.

A row that failed (`error`) scores 0 on every metric; a row whose condition is unavailable (e.g. no graph in the
knowledge base) is left out and the reason reported.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from kgsolver.evals.metrics import mean
from kgsolver.evals.runner import PREDICTIONS, load_done
from kgsolver.evals.suites import Suite
from kgsolver.pipeline.kb import write_json_atomic


def _metric_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    names = sorted({m for r in rows for m in r.get("metrics", {})})
    return {m: round(mean(r.get("metrics", {}).get(m, 0.0) for r in rows), 4) for m in names}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ci95(values: list[float]) -> list[float]:
    """95% interval of a mean: Wilson's score interval for 0/1 scores (accuracy, EM), the normal one otherwise (F1)."""
    n = len(values)
    if not n:
        return [0.0, 0.0]
    p, z = sum(values) / n, 1.96
    if all(v in (0.0, 1.0) for v in values):
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    else:
        sd = math.sqrt(sum((v - p) ** 2 for v in values) / max(1, n - 1))
        centre, half = p, z * sd / math.sqrt(n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def paired(rows: list[dict[str, Any]], headline: str) -> list[dict[str, Any]]:
    """For each pair of conditions, on the questions both answered: how many each got right that the other did not
    (a question counts as right when its headline score is 1). Shows whether retrieval or the KG changes answers."""
    right: dict[str, dict[str, bool]] = {}
    for r in rows:
        if not r.get("unavailable"):
            right.setdefault(r["condition"], {})[r["qid"]] = r.get("metrics", {}).get(headline, 0.0) == 1.0
    out = []
    names = sorted(right)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = sorted(set(right[a]) & set(right[b]))
            if common:
                out.append({"a": a, "b": b, "n": len(common),
                            "both": sum(right[a][q] and right[b][q] for q in common),
                            "only_a": sum(right[a][q] and not right[b][q] for q in common),
                            "only_b": sum(right[b][q] and not right[a][q] for q in common),
                            "neither": sum(not right[a][q] and not right[b][q] for q in common)})
    return out


def summarize(rows: list[dict[str, Any]], headline: str) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    for condition in sorted({r["condition"] for r in rows}):
        these = [r for r in rows if r["condition"] == condition]
        scored = [r for r in these if not r.get("unavailable")]
        entry: dict[str, Any] = {"n": len(scored), "errors": sum(1 for r in scored if r.get("error")),
                                 "metrics": _metric_means(scored), "groups": {}}
        if scored:
            entry["ci95"] = ci95([r.get("metrics", {}).get(headline, 0.0) for r in scored])
        if len(scored) < len(these):
            entry["unavailable"] = sorted({r["unavailable"] for r in these if r.get("unavailable")})
        for group in sorted({r["group"] for r in scored}):
            group_rows = [r for r in scored if r["group"] == group]
            entry["groups"][group] = {"n": len(group_rows), "metrics": _metric_means(group_rows)}
        conditions[condition] = entry
    scored = [r for r in rows if not r.get("unavailable")]
    seconds = [r.get("seconds", 0.0) for r in scored]
    calls = [r.get("usage", {}).get("llm_calls", 0) for r in scored]
    return {"headline": headline, "rows": len(rows), "questions": len({r["qid"] for r in rows}),
            "conditions": conditions, "paired": paired(rows, headline),
            "latency_s": {"mean": round(mean(seconds), 3), "p50": round(_percentile(seconds, 0.5), 3),
                          "p95": round(_percentile(seconds, 0.95), 3), "total": round(sum(seconds), 1)},
            "llm_calls": {"mean": round(mean(calls), 3), "total": sum(calls)},
            "cache_hits": sum(r.get("usage", {}).get("cache_hits", 0) for r in scored),
            "tokens": sum(r.get("usage", {}).get("prompt_tokens", 0) + r.get("usage", {}).get("completion_tokens", 0)
                          for r in scored)}


def _table(summary: dict[str, Any], headline: str) -> list[str]:
    names = sorted({m for c in summary["conditions"].values() for m in c["metrics"]},
                   key=lambda m: (m != headline, m))
    lines = ["| condition | group | n | " + " | ".join(names) + f" | {headline} 95% CI |",
             "|---" * (len(names) + 4) + "|"]
    for condition, entry in summary["conditions"].items():
        if entry.get("unavailable") and not entry["n"]:
            lines.append(f"| {condition} | all | 0 | unavailable: {'; '.join(entry['unavailable'])} |")
            continue
        cells = " | ".join(f"{entry['metrics'].get(m, 0):.3f}" for m in names)
        low, high = entry.get("ci95", (0.0, 0.0))
        lines.append(f"| {condition} | **all** | {entry['n']} | {cells} | {low:.2f}-{high:.2f} |")
        for group, g in entry["groups"].items():
            if len(entry["groups"]) > 1:
                cells = " | ".join(f"{g['metrics'].get(m, 0):.3f}" for m in names)
                lines.append(f"| {condition} | {group} | {g['n']} | {cells} | |")
    return lines


def _paired_table(summary: dict[str, Any]) -> list[str]:
    pairs = summary.get("paired") or []
    if not pairs:
        return []
    head = summary["headline"]
    lines = [f"Paired, same questions ({head} = 1 counts as right):", "",
             "| A | B | n | both right | only A right | only B right | neither |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {p['a']} | {p['b']} | {p['n']} | {p['both']} | {p['only_a']} | {p['only_b']} | {p['neither']} |"
              for p in pairs]
    return lines + [""]


def render_markdown(config: dict[str, Any], summary: dict[str, Any], notes: list[str], plots: list[str]) -> str:
    model = config.get("model", {})
    invocation = (config.get("invocations") or [{}])[-1].get("command") or "(Python API)"
    lines = [f"# {config['suite']} — mode `{config['mode']}`, model `{model.get('name')}`", "",
             f"Command: `{invocation}`", "",
             f"Limit {config.get('limit')}" + (f" from question {config['start'] + 1}" if config.get("start") else "") +
             f", {summary['questions']} questions, {summary['rows']} rows; "
             f"{summary['llm_calls']['total']} LLM calls ({summary['cache_hits']} from cache), "
             f"{summary['tokens']} tokens; latency mean {summary['latency_s']['mean']}s, "
             f"p95 {summary['latency_s']['p95']}s. Model sha256 `{model.get('sha256', 'n/a')}`.", "",
             *_table(summary, summary["headline"]), "", *_paired_table(summary)]
    lines += [f"> {note}" for note in notes]
    lines += [f"![{Path(p).stem}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_kilt_predictions(out: Path, rows: list[dict[str, Any]]) -> None:
    kilt_rows = [r["kilt"] for r in sorted(rows, key=lambda r: r["key"]) if r.get("kilt")]
    if kilt_rows:
        text = "".join(json.dumps(k, ensure_ascii=False) + "\n" for k in kilt_rows)
        (out / "kilt_predictions.jsonl").write_text(text, encoding="utf-8")


def write_report(out: Path, suite: Suite, keys: list[str] | None = None) -> dict[str, Any]:
    """Summarise the rows of this run (only `keys` when given: the items of the current limit)."""
    from kgsolver.evals.plots import write_plots

    rows = list(load_done(out / PREDICTIONS).values())
    if keys is not None:
        wanted = set(keys)
        rows = [r for r in rows if r["key"] in wanted]
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    summary = summarize(rows, suite.headline)
    summary.update({"suite": config["suite"], "mode": config["mode"], "model": config["model"].get("name"),
                    "limit": config.get("limit")})
    write_json_atomic(out / "metrics.json", summary)
    write_kilt_predictions(out, rows)
    plots = write_plots(out, summary, rows)
    notes = [getattr(sys.modules[type(suite).__module__], "NOTE", "")]
    (out / "report.md").write_text(render_markdown(config, summary, [n for n in notes if n], plots), encoding="utf-8")
    return summary
