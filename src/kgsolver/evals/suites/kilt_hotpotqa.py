"""KILT HotpotQA (mini dev set) over its 2,920-paragraph corpus: KILT's page-level R-Precision and Recall@k,
answer EM/F1 and KILT-EM/KILT-F1. Predictions are also written in KILT's own output format (`kilt_predictions.jsonl`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.evals.datasets import (
    KILT_CORPUS,
    KILT_QUESTIONS,
    dataset_path,
    kilt_answers,
    kilt_gold_titles,
    read_jsonl,
)
from kgsolver.evals.metrics import kilt_scores
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.common import answer_oracle, ask_open

if TYPE_CHECKING:
    from kgsolver.pipeline.solver import Solver

RECALL_KS = (1, 2, 3, 5)
CONDITIONS = ("rag", "oracle")  # oracle: the gold provenance pages given to the same answer step


def gold_pages(record: dict[str, Any], corpus: dict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The first provenance-bearing output's pages, in its order, with their corpus text, and the titles the corpus
    lacks (the mini corpus is the 2017 HotpotQA dump: 7 of its 470 gold titles are not in it; see the datasets
    README), which the oracle row records rather than drops silently."""
    titles: list[str] = []
    for out in record.get("output", []):
        if out.get("provenance"):
            titles = list(dict.fromkeys(p["title"] for p in out["provenance"]))
            break
    return [{"title": t, "text": corpus[t]} for t in titles if t in corpus], [t for t in titles if t not in corpus]


def kilt_output(qid: str, question: str, answer: str, ranked_titles: list[str]) -> dict[str, Any]:
    """One prediction in KILT's format: the answer and its provenance as Wikipedia titles, best first."""
    seen: list[str] = []
    for title in ranked_titles:
        if title not in seen:
            seen.append(title)
    return {"id": qid, "input": question, "output": [{"answer": answer, "provenance": [{"title": t} for t in seen]}]}



class KiltHotpotQASuite:
    name = "kilt-hotpotqa"
    headline = "kilt_em"
    conditions = CONDITIONS
    offline_conditions = frozenset({"oracle"})
    files = (KILT_QUESTIONS, KILT_CORPUS)

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        records = list(read_jsonl(dataset_path(KILT_QUESTIONS, data_dir)))[:limit]
        corpus = {r["title"]: r["text"] for r in read_jsonl(dataset_path(KILT_CORPUS, data_dir))}
        return [WorkItem(qid=r["id"], condition=condition, question=r["input"],
                         gold={"answers": kilt_answers(r), "provenance": [sorted(s) for s in kilt_gold_titles(r)]},
                         payload=dict(zip(("passages", "missing_pages"), gold_pages(r, corpus), strict=True))
                         if condition == "oracle" else {})
                for condition in CONDITIONS for r in records]

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        return [dataset_path(KILT_CORPUS, data_dir)]

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        gold_sets = [set(s) for s in item.gold["provenance"]]
        if item.condition == "oracle":
            # The gold pages are given, so they are the provenance (R-precision 1 by construction, KILT-EM = EM).
            given = [p["title"] for p in item.payload["passages"]]
            prediction, cited, usage = answer_oracle(solver, item.question, item.payload["passages"])
            metrics = kilt_scores(prediction, given, item.gold["answers"], gold_sets, ks=RECALL_KS)
            # No KILT-format row: kilt_predictions.jsonl is the retrieval run's, one row per question.
            return {"prediction": prediction, "cited_titles": cited, "missing_pages": item.payload["missing_pages"],
                    "metrics": metrics, "usage": usage, "trace": []}
        result, prediction, ranked = ask_open(solver, item.question, mode)
        metrics = kilt_scores(prediction, ranked, item.gold["answers"], gold_sets, ks=RECALL_KS)
        return {"prediction": prediction, "ranked_titles": ranked, "metrics": metrics,
                "kilt": kilt_output(item.qid, item.question, prediction, ranked),
                "usage": result.usage.model_dump(), "trace": [s.model_dump() for s in result.trace]}
