"""HotpotQA dev (distractor, 200) over the pooled paragraphs of the whole set: EM/F1 (HotpotQA's official
definitions) and supporting-title recall@k, broken down by question type (bridge / comparison)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, read_jsonl
from kgsolver.evals.metrics import exact_match, hotpot_f1, title_recall_at_k
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.common import ask_open, write_corpus

RECALL_KS = (1, 2, 3, 5)


def pooled_paragraphs(records: list[dict]) -> list[dict]:
    """Every context paragraph of the set once, keyed by title (HotpotQA titles are unique Wikipedia pages)."""
    pool: dict[str, dict] = {}
    for record in records:
        for title, sentences in record["context"]:
            pool.setdefault(title, {"id": title, "title": title, "text": "".join(sentences).strip()})
    return sorted(pool.values(), key=lambda r: r["id"])


class HotpotQASuite:
    name = "hotpotqa"
    headline = "f1"
    conditions = ("rag",)
    offline_conditions = frozenset()
    files = (HOTPOTQA_200,)

    def __init__(self, recall_ks: tuple[int, ...] = RECALL_KS):
        self.recall_ks = recall_ks  # benchmarks/multihop_retrieval.py reports recall@2/5/10

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        records = list(read_jsonl(dataset_path(HOTPOTQA_200, data_dir)))[:limit]
        return [WorkItem(qid=r["_id"], condition="rag", question=r["question"], group=r["type"],
                         gold={"answer": r["answer"], "titles": sorted({t for t, _ in r["supporting_facts"]})})
                for r in records]

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        records = list(read_jsonl(dataset_path(HOTPOTQA_200, data_dir)))
        return [write_corpus(pooled_paragraphs(records), kb_dir / "_sources" / "hotpotqa200_pool.jsonl")]

    def evaluate(self, item: WorkItem, solver, mode: str) -> dict[str, Any]:
        result, prediction, ranked = ask_open(solver, item.question, mode)
        gold = set(item.gold["titles"])
        metrics = {"em": exact_match(prediction, item.gold["answer"]), "f1": hotpot_f1(prediction, item.gold["answer"])}
        metrics.update({f"recall@{k}": title_recall_at_k(ranked, gold, k) for k in self.recall_ks})
        return {"prediction": prediction, "ranked_titles": ranked, "metrics": metrics,
                "usage": result.usage.model_dump(), "trace": [s.model_dump() for s in result.trace]}
