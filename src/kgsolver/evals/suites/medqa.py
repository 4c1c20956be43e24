"""MedQA-USMLE (4 options): accuracy closed-book, with RAG over MedQuAD, and with RAG + KG, by `meta_info`.

MedQuAD is consumer-health text and does not cover USMLE vignettes well (the gold answer string occurs in it for about
a third of questions, as often as the wrong options); the report says so. The KG condition plugs in through
`KGFacts`: it runs only when the knowledge base holds a `graph` component and `kgsolver.graphs` exposes
the graph view's `facts(text, limit) -> list[str]` (graphs/view.py); otherwise its rows are recorded as unavailable,
never answered another way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kgsolver.evals.datasets import MEDQA_300, MEDQUAD, dataset_path, read_jsonl
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.common import ScoredChoice, dump_evidence, retrieve_evidence, write_corpus

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from kgsolver.connectors.embedders import Embedder
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from kgsolver.pipeline.solver import Solver

# rag+closed-book: rag's letter distribution mixed with closed-book's (choice_bias.mixed, weight
# `choice.parametric_weight`); both prompts are the other conditions', found in the response cache.
CONDITIONS = ("closed-book", "rag", "rag+kg", "rag+closed-book")
NOTE = ("MedQuAD is NIH consumer-health text and does not cover USMLE vignettes well: the gold answer string occurs "
        "in it for about a third of MedQA questions, as often as the wrong options. No open USMLE-grade textbook "
        "corpus is available here, so the closed-book and retrieval scores are shown side by side.")


class KGFacts(Protocol):
    """The small interface the KG condition needs: facts (as sentences) relevant to a text."""

    def __call__(self, text: str, limit: int) -> list[str]: ...


def find_kg(kb: KnowledgeBase, embedder: Embedder) -> tuple[KGFacts | None, str]:
    """The graph work's fact lookup over this knowledge base, or None and the reason it is unavailable."""
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.graph_read import has_graph
    from kgsolver.pipeline.multihop import AgentResources

    config = KGSolverConfig()
    if not has_graph(kb, config.graph):
        return None, "no `graph` component in the knowledge base"
    view = AgentResources.for_kb(kb, embedder, config).graph  # the query path's own graph view of this KB
    return view.facts, "graph"


def medquad_records(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """MedQuAD passages titled by their question, with ids unique across the file.

    The released ids repeat (16,407 passages, 12,133 ids; even `source` + id repeats for 34), and ingest keeps one
    document per id, so each id is qualified by its source and, from its second use on, by its occurrence number.
    """
    seen: Counter[str] = Counter()
    for record in records:
        base = f"{record.get('source', 'medquad')}/{record['id']}"
        seen[base] += 1
        doc_id = base if seen[base] == 1 else f"{base}~{seen[base]}"
        fields = ("source", "url", "focus", "semantic_group", "qtype")
        meta: dict[str, Any] = {k: record[k] for k in fields if k in record}
        yield {"id": doc_id, "title": record["question"], "text": record["text"], "medquad_id": record["id"], **meta}


class MedQASuite:
    name = "medqa"
    headline = "accuracy"
    conditions = CONDITIONS
    offline_conditions = frozenset({"closed-book"})
    files = (MEDQA_300, MEDQUAD)

    def __init__(self, kg_lookup: Callable[[KnowledgeBase, Embedder], tuple[KGFacts | None, str]] = find_kg,
                 correction: str = "none") -> None:
        self.kg_lookup = kg_lookup
        self.choose = ScoredChoice(correction)  # letter-bias correction (evals/suites/choice_bias.py)

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        records = list(read_jsonl(dataset_path(MEDQA_300, data_dir)))[:limit]
        return [WorkItem(qid=str(r["realidx"]), condition=condition, question=r["question"], gold=r["answer_idx"],
                         group=r.get("meta_info", "unknown"), payload={"options": r["options"]})
                for condition in CONDITIONS for r in records]

    def corpus_files(self, data_dir: Path, kb_dir: Path) -> list[Path]:
        records = medquad_records(read_jsonl(dataset_path(MEDQUAD, data_dir)))
        return [write_corpus(records, kb_dir / "_sources" / "medquad_titled.jsonl")]

    def evaluate(self, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
        options = item.payload["options"]
        query = item.question + "\n" + " | ".join(options.values())
        passages: list[Document | str] = []
        evidence: list[dict[str, Any]] = []
        trace: list[dict[str, Any]] = []
        if item.condition != "closed-book":
            docs, trace = retrieve_evidence(solver, query, mode)
            passages, evidence = list(docs), dump_evidence(docs)
        if item.condition == "rag+kg":
            facts, reason = self.kg_lookup(solver.kb, solver.embedder)
            if facts is None:
                return {"prediction": None, "unavailable": reason, "metrics": {}, "trace": trace,
                        "usage": {}, "evidence": evidence}
            passages = passages + [f"KG: {fact}" for fact in facts(query, 10)]
        out = self.choose(solver, item.question, options, passages, purpose=f"medqa {item.condition}",
                          with_closed_book=item.condition == "rag+closed-book")
        out["trace"] = trace + out["trace"]
        out["evidence"] = evidence
        out["metrics"] = {"accuracy": float(out["prediction"] == item.gold)}
        return out
