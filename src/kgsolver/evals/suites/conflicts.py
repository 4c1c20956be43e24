"""Knowledge conflicts (evals/conflicts.py): 40 frozen questions, each under four conditions (intact,
counterfactual, irrelevant, assumption), each answered by three systems (default policy, plain RAG, closed-book).
A row's metrics are 1.0 where that system follows the condition; the group is the reader's verdict on the
substitute (plausible | implausible | alias). The passages come with the questions: no knowledge base is used, and
--mode does not apply (the default system is the answer step every mode ends in, pipeline/answer/step.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.evals.conflicts import CONDITIONS, SYSTEMS, ConflictSample, answer_condition, load_samples
from kgsolver.evals.datasets import HOTPOTQA_200, KILT_CORPUS, KILT_QUESTIONS
from kgsolver.evals.suites import WorkItem

if TYPE_CHECKING:
    from kgsolver.pipeline.solver import Solver

NOTE = ("Rates per system: intact = the gold answer; counterfactual = the edited context's substitute; irrelevant = "
        "the closed-book answer; assumption = the user's stated substitute. The edit rates on the questions a system "
        "answers from the intact passages: `python -m kgsolver.evals.conflicts_table RUN_FOLDER`.")


class ConflictsSuite:
    name = "conflicts"
    headline = "default"
    conditions = CONDITIONS
    offline_conditions = frozenset(CONDITIONS)
    files = (HOTPOTQA_200, KILT_QUESTIONS, KILT_CORPUS)

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        return [WorkItem(qid=s.qid, condition=c, question=s.question, group=s.verdict,
                         gold={"answer": s.answer, "substitute": s.substitute}, payload={"sample": s})
                for s in load_samples(data_dir, limit) for c in CONDITIONS]

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        return []

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        """All systems on one condition; the Solver lends only its gateway, embedder and configuration (it opens no
        knowledge base)."""
        sample: ConflictSample = item.payload["sample"]
        records = answer_condition(sample, item.condition, solver.gateway, solver.embedder, solver.config, SYSTEMS)
        by_system = {r["system"]: r for r in records}
        return {"prediction": by_system["default"]["answer"], "target": records[0]["target"], "records": records,
                "metrics": {s: float(r["ok"]) for s, r in by_system.items()},
                "usage": {}, "trace": []}  # several sessions per row; the gateway's totals are shared across workers
