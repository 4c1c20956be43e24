"""Evaluation suites, one per module behind the `Suite` protocol, registered in `SUITES` (connectors/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kgsolver.connectors import Registry, lazy

if TYPE_CHECKING:
    from kgsolver.pipeline.solver import Solver


@dataclass
class WorkItem:
    """One unit of work, one row of predictions.jsonl: a question under one condition (closed-book, rag, ...)."""

    qid: str
    condition: str
    question: str
    gold: Any
    group: str = "all"  # the breakdown a report shows (question type, meta_info, ...)
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.qid}::{self.condition}"


class Suite(Protocol):
    name: str
    headline: str  # the per-row metric shown in the progress bar and compared across runs
    files: tuple[str, ...]  # dataset files (relative to the datasets folder) pinned by sha256 in config.json
    conditions: tuple[str, ...]  # e.g. closed-book, rag, rag+kg
    offline_conditions: frozenset[str]  # conditions that need no knowledge base

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]: ...

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        """The corpus to ingest into --kb (derived files are written under kb_dir/_sources); [] if none is needed."""
        ...

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        """Answer one item: {"prediction", "metrics", "trace", "usage", ...} (JSON-serialisable)."""
        ...



# Each suite's module is imported on first use: the suite modules import this one (for WorkItem).
SUITES: Registry[Suite] = Registry("eval suite", {
    "conflicts": lazy("kgsolver.evals.suites.conflicts", "ConflictsSuite"),
    "hotpotqa": lazy("kgsolver.evals.suites.hotpotqa", "HotpotQASuite"),
    "kilt-hotpotqa": lazy("kgsolver.evals.suites.kilt_hotpotqa", "KiltHotpotQASuite"),
    "medqa": lazy("kgsolver.evals.suites.medqa", "MedQASuite"),
    "openbookqa": lazy("kgsolver.evals.suites.openbookqa", "OpenBookQASuite"),
    "pubmedqa": lazy("kgsolver.evals.suites.pubmedqa", "PubMedQASuite"),
})


def get_suite(name: str) -> Suite:
    return SUITES.get(name)
