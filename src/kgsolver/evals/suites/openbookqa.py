"""OpenBookQA main dev (4 options) over the 1,326-fact open book: accuracy, letter-constrained answers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.evals.datasets import OBQA_DEV, OBQA_FACTS, dataset_path, read_jsonl, read_openbook_facts
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.common import ScoredChoice, dump_evidence, retrieve_evidence, write_corpus

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from kgsolver.pipeline.solver import Solver

# rag+closed-book: the rag prompt's letter distribution mixed with the closed-book one (choice_bias.mixed, weight
# `choice.parametric_weight`); its two prompts are the other conditions', so it costs no new forward pass
# in a run that has them.
CONDITIONS = ("closed-book", "rag", "rag+closed-book")


class OpenBookQASuite:
    name = "openbookqa"
    headline = "accuracy"
    conditions = CONDITIONS
    offline_conditions = frozenset({"closed-book"})
    files = (OBQA_DEV, OBQA_FACTS)

    def __init__(self, correction: str = "none"):
        self.choose = ScoredChoice(correction)  # letter-bias correction (evals/suites/choice_bias.py)

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        records = list(read_jsonl(dataset_path(OBQA_DEV, data_dir)))[:limit]
        return [WorkItem(qid=r["id"], condition=condition, question=r["question"]["stem"], gold=r["answerKey"],
                         payload={"options": {c["label"]: c["text"] for c in r["question"]["choices"]}})
                for r in records for condition in CONDITIONS]  # a cut run has both conditions on the same questions

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        facts = read_openbook_facts(dataset_path(OBQA_FACTS, data_dir))
        records = [{"id": f"fact-{n:04d}", "title": "", "text": fact} for n, fact in enumerate(facts)]
        return [write_corpus(records, kb_dir / "_sources" / "openbook_facts.jsonl")]

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        options = item.payload["options"]
        docs: list[Document] = []
        trace: list[dict[str, Any]] = []
        if item.condition != "closed-book":
            docs, trace = retrieve_evidence(solver, item.question + " " + " | ".join(options.values()), mode)
        out = self.choose(solver, item.question, options, docs, purpose=f"openbookqa {item.condition}",
                          with_closed_book=item.condition == "rag+closed-book")
        out["trace"] = trace + out["trace"]
        out["evidence"] = dump_evidence(docs)
        out["metrics"] = {"accuracy": float(out["prediction"] == item.gold)}
        return out
