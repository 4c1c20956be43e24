"""`kgsolver eval compare RUN_DIR...`: the runs' headline and other metrics side by side, as a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kgsolver.connectors import KGSolverError


def load_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "metrics.json"
    if not path.exists():
        raise KGSolverError(f"{run_dir}: no metrics.json (not a finished run folder)")
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    summary["run_dir"] = str(run_dir)
    return summary


def compare_table(runs: list[dict[str, Any]]) -> str:
    names = sorted({m for r in runs for c in r["conditions"].values() for m in c["metrics"]})
    lines = ["| run | suite | mode | model | limit | condition | n | headline | 95% CI | " + " | ".join(names) + " |",
             "|---" * (len(names) + 9) + "|"]
    for run in runs:
        for condition, entry in run["conditions"].items():
            if not entry["n"]:
                reason = "; ".join(entry.get("unavailable", []))
                lines.append(f"| {run['run_dir']} | {run['suite']} | {run['mode']} | {run['model']} | {run['limit']} "
                             f"| {condition} | 0 | unavailable: {reason} |")
                continue
            cells = " | ".join(f"{entry['metrics'][m]:.3f}" if m in entry["metrics"] else "" for m in names)
            headline = f"{run['headline']}={entry['metrics'].get(run['headline'], 0):.3f}"
            low, high = entry.get("ci95") or (float("nan"), float("nan"))  # runs summarised before ci95 existed
            lines.append(f"| {run['run_dir']} | {run['suite']} | {run['mode']} | {run['model']} | {run['limit']} "
                         f"| {condition} | {entry['n']} | {headline} | {low:.2f}-{high:.2f} | {cells} |")
    return "\n".join(lines) + "\n"


def compare(run_dirs: list[Path], plot: Path | None = None) -> str:
    runs = [load_run(Path(d)) for d in run_dirs]
    if plot is not None:
        from kgsolver.evals.plots import plot_compare

        plot_compare(runs, plot)
    return compare_table(runs)
