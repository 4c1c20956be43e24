"""PubMedQA PQA-L (the 500 expert-labelled questions outside the official test split): yes/no/maybe accuracy,
from the model's own knowledge (`closed-book`, the baseline the other conditions must not fall below), reading the
question's own abstract (`context`) and with retrieval over the pooled abstracts of the set (`rag`); each of the two
also mixed with the closed-book label distribution (`context+closed-book`, `rag+closed-book`, as in the OpenBookQA
and MedQA suites: choice_bias.mixed, `choice.parametric_weight`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.evals.datasets import PUBMEDQA_500, dataset_path, read_pubmedqa
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.common import ScoredChoice, dump_evidence, retrieve_evidence, write_corpus

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from kgsolver.pipeline.solver import Solver

CONDITIONS = ("closed-book", "context", "rag", "context+closed-book", "rag+closed-book")
# The three labels as options, so the same letter-constrained choice serves; letters map back to labels.
LABELS = {"A": "yes", "B": "no", "C": "maybe"}


class PubMedQASuite:
    name = "pubmedqa"
    headline = "accuracy"
    conditions = CONDITIONS
    offline_conditions = frozenset({"closed-book", "context", "context+closed-book"})
    files = (PUBMEDQA_500,)

    def __init__(self, correction: str = "none"):
        self.choose = ScoredChoice(correction)  # label-bias correction (evals/suites/choice_bias.py)

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        records = read_pubmedqa(dataset_path(PUBMEDQA_500, data_dir))[:limit]
        return [WorkItem(qid=r["pmid"], condition=condition, question=r["QUESTION"], gold=r["final_decision"],
                         group=r["final_decision"], payload={"contexts": r["CONTEXTS"]})
                for condition in CONDITIONS for r in records]

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        # Not titled by QUESTION: PQA-L questions are the articles' titles, so a question would find its own
        # abstract by its title alone; retrieval has to work from the abstract text.
        records = [{"id": r["pmid"], "title": f"PMID {r['pmid']}", "text": "\n".join(r["CONTEXTS"])}
                   for r in read_pubmedqa(dataset_path(PUBMEDQA_500, data_dir))]
        return [write_corpus(records, kb_dir / "_sources" / "pubmedqa500_abstracts.jsonl")]

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        trace: list[dict[str, Any]] = []
        evidence: list[dict[str, Any]] = []
        passages: list[Document | str] = []
        source = item.condition.removesuffix("+closed-book")  # the mixtures read what their base condition reads
        if source == "context":
            passages = [" ".join(item.payload["contexts"])]
        elif source == "rag":
            docs, trace = retrieve_evidence(solver, item.question, mode)
            passages, evidence = list(docs), dump_evidence(docs)
        out = self.choose(solver, item.question, LABELS, passages, purpose=f"pubmedqa {item.condition}", max_chars=2000,
                          with_closed_book=item.condition != source)
        out["prediction"] = LABELS.get(out["prediction"], "")
        if "prediction_raw" in out:
            out["prediction_raw"] = LABELS.get(out["prediction_raw"], "")
        out["trace"] = trace + out["trace"]
        out["evidence"] = evidence
        out["metrics"] = {"accuracy": float(out["prediction"] == item.gold)}
        if source == "rag":
            own = [i for i, e in enumerate(evidence) if e["doc_id"] == item.qid]
            out["metrics"]["own_abstract_retrieved"] = float(bool(own))
            out["metrics"]["own_abstract_first"] = float(own[:1] == [0])
        return out
