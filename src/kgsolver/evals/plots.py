"""PNG plots of a run with matplotlib's Agg backend: score by condition, recall@k curves, latency and LLM calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

if TYPE_CHECKING:
    from matplotlib.figure import Figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_RECALL = re.compile(r"^recall@(\d+)$")


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def plot_scores(summary: dict[str, Any], path: Path) -> str | None:
    headline = summary["headline"]
    bars = {c: e["metrics"].get(headline, 0.0) for c, e in summary["conditions"].items() if e["n"]}
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(list(bars), list(bars.values()), color="#4C72B0")
    ax.set_ylim(0, 1)
    ax.set_ylabel(headline)
    ax.set_title(f"{summary['suite']} ({summary['mode']}, {summary['model']})", fontsize=9)
    for x, value in enumerate(bars.values()):
        ax.text(x, value + 0.02, f"{value:.2f}", ha="center", fontsize=8)
    return _save(fig, path)


def plot_recall(summary: dict[str, Any], path: Path) -> str | None:
    fig, ax, drawn = *plt.subplots(figsize=(5, 3.2)), False
    for condition, entry in summary["conditions"].items():
        points = sorted((int(m.group(1)), v) for k, v in entry["metrics"].items() if (m := _RECALL.match(k)))
        if points:
            ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=condition)
            ax.set_xticks([k for k, _ in points])
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("k (pages)")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(f"{summary['suite']}: retrieval recall@k", fontsize=9)
    return _save(fig, path)


def plot_histogram(values: list[float], xlabel: str, title: str, path: Path) -> str | None:
    if not values:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(values, bins=min(20, max(5, len(set(values)))), color="#55A868")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def write_plots(out: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    scored = [r for r in rows if not r.get("unavailable")]
    made = [
        plot_scores(summary, out / "score_by_condition.png"),
        plot_recall(summary, out / "recall_at_k.png"),
        plot_histogram([r.get("seconds", 0.0) for r in scored], "seconds per question (LLM cache hits are fast)",
                       "latency", out / "latency_hist.png"),
        plot_histogram([float(r.get("usage", {}).get("llm_calls", 0)) for r in scored], "LLM calls per question",
                       "LLM calls", out / "llm_calls_hist.png"),
    ]
    return [name for name in made if name]


def plot_compare(runs: list[dict[str, Any]], path: Path) -> str | None:
    """Headline score of each run and condition, grouped by suite: the score by mode/suite figure."""
    labels, values = [], []
    for run in runs:
        for condition, entry in run["conditions"].items():
            if entry["n"]:
                labels.append(f"{run['suite']}\n{run['mode']}/{condition}")
                values.append(entry["metrics"].get(run["headline"], 0.0))
    if not values:
        return None
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(values)), 3.6))
    ax.bar(range(len(values)), values, color="#C44E52")
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("headline score")
    return _save(fig, path)
