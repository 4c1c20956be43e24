"""HotpotQA dev (distractor, 200) over the pooled paragraphs of the whole set: EM/F1 (HotpotQA's official
definitions) and supporting-title recall@k, broken down by question type (bridge / comparison)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, read_jsonl
from kgsolver.evals.metrics import exact_match, hotpot_f1, title_recall_at_k
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.common import answer_oracle, ask_open, write_corpus

if TYPE_CHECKING:
    from kgsolver.pipeline.solver import Solver

RECALL_KS = (1, 2, 3, 5)
# rag: the question answered by the mode over the pooled paragraphs; oracle: the record's supporting paragraphs
# given to the same answer step (reading errors apart from retrieval errors).
CONDITIONS = ("rag", "oracle")


def pooled_paragraphs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every context paragraph of the set once, keyed by title (HotpotQA titles are unique Wikipedia pages)."""
    pool: dict[str, dict[str, Any]] = {}
    for record in records:
        for title, sentences in record["context"]:
            pool.setdefault(title, {"id": title, "title": title, "text": "".join(sentences).strip()})
    return sorted(pool.values(), key=lambda r: r["id"])


def gold_passages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's supporting paragraphs (whole, as pooled), in the order supporting_facts first names them (the
    hop order where the annotators kept it); a supporting title missing from the context is an error in the data."""
    paragraphs = {title: "".join(sentences).strip() for title, sentences in record["context"]}
    titles = list(dict.fromkeys(title for title, _ in record["supporting_facts"]))
    missing = [t for t in titles if t not in paragraphs]
    if missing:
        raise ValueError(f"HotpotQA record {record.get('_id')}: supporting titles not in its context: {missing}")
    return [{"title": t, "text": paragraphs[t]} for t in titles]


class HotpotQASuite:
    name = "hotpotqa"
    headline = "f1"
    conditions = CONDITIONS
    offline_conditions = frozenset({"oracle"})
    files = (HOTPOTQA_200,)

    def __init__(self, recall_ks: tuple[int, ...] = RECALL_KS):
        self.recall_ks = recall_ks  # benchmarks/multihop_retrieval.py reports recall@2/5/10

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        records = list(read_jsonl(dataset_path(HOTPOTQA_200, data_dir)))[:limit]
        return [WorkItem(qid=r["_id"], condition=condition, question=r["question"], group=r["type"],
                         gold={"answer": r["answer"], "titles": sorted({t for t, _ in r["supporting_facts"]})},
                         payload={"passages": gold_passages(r)} if condition == "oracle" else {})
                for condition in CONDITIONS for r in records]

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        records = list(read_jsonl(dataset_path(HOTPOTQA_200, data_dir)))
        return [write_corpus(pooled_paragraphs(records), kb_dir / "_sources" / "hotpotqa200_pool.jsonl")]

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        answer = {"em": exact_match, "f1": hotpot_f1}
        if item.condition == "oracle":  # no retrieval, so no recall: the gold passages are given
            prediction, cited, usage = answer_oracle(solver, item.question, item.payload["passages"])
            metrics = {name: f(prediction, item.gold["answer"]) for name, f in answer.items()}
            return {"prediction": prediction, "cited_titles": cited, "metrics": metrics, "usage": usage, "trace": []}
        result, prediction, ranked = ask_open(solver, item.question, mode)
        gold = set(item.gold["titles"])
        metrics = {name: f(prediction, item.gold["answer"]) for name, f in answer.items()}
        metrics.update({f"recall@{k}": title_recall_at_k(ranked, gold, k) for k in self.recall_ks})
        return {"prediction": prediction, "ranked_titles": ranked, "metrics": metrics,
                "usage": result.usage.model_dump(), "trace": [s.model_dump() for s in result.trace]}
