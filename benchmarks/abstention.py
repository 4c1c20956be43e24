"""Questions no document answers (issue 19.4): how often each preference policy answers, and how often it is right.

    .venv/bin/python benchmarks/abstention.py [--hotpot 12] [--policies hierarchical,tagged,adaptive,documents_only]
        [--model qwen2.5-coder-0.5b-instruct] [--out benchmarks/results/abstention.json] [--rebuild]

The set (evals/data/unanswerable_set.jsonl, rebuilt by --rebuild from the shared HotpotQA distractor set):
- `hotpot_no_gold`: a HotpotQA question asked over 4 of its distractor paragraphs, its gold paragraphs left out
  (distractors were picked by similarity to the question, so they are on topic but do not answer it); questions
  whose answer string occurs in a kept paragraph, and yes/no questions, are skipped;
- `fictional`: questions about invented entities (no answer exists), asked over the distractors of a HotpotQA record.
Every policy answers through the real answer step (`answer_passages`: filters, grounded generation, its rule) with
the same LLM; one response cache per run, so the policies share identical calls and each call is generated once.
Reported per policy and kind: answered (n, rate, Wilson 95%), answer_source counts, and for answered HotpotQA
questions EM and F1 against gold (a fictional question has no right answer: every answer there is wrong).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from langchain_core.documents import Document

from kgsolver.connectors.embedders import load_embedder
from kgsolver.connectors.llms import Budget
from kgsolver.connectors.text import normal
from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, read_jsonl
from kgsolver.evals.metrics import best_over_golds, exact_match, f1_score
from kgsolver.evals.report import ci95
from kgsolver.pipeline.answer.step import answer_passages, answer_source
from kgsolver.pipeline.config import KGSolverConfig, build_gateway

OUT = Path(__file__).resolve().parent / "results" / "abstention.json"
SET = Path(__file__).resolve().parents[1] / "src" / "kgsolver" / "evals" / "data" / "unanswerable_set.jsonl"
PASSAGES = 4
FICTIONAL = [  # invented entities: no document and no model can know the answer
    "What is the secret code word of the Veltrona Institute's Project Nightjar?",
    "In what year did the Corvian painter Idris Malgrove complete his fresco cycle in Ostrava Minor?",
    "Who was the first captain of the starship Kelvane Aurora in the 1983 novel series by Tamsin Orlek?",
    "Which club did the Marovian footballer Dusan Krelitz join after leaving FC Varnholt in 2011?",
    "How many members were in the Lisbon synth-pop band The Glass Orrery when it released its debut album?",
    "What river flows through the fictional Baltic town of Sæverholm, birthplace of composer Aino Venskar?",
    "Who directed the 1974 documentary film about the lost Andean city of Quilcapampa?",
    "What is the name of the chemical element discovered by Dr. Halvard Pennick at the Umbria Lattice Laboratory?",
]


def build_set(limit: int, data_dir: Path | None = None) -> list[dict]:
    rows, records = [], list(read_jsonl(dataset_path(HOTPOTQA_200, data_dir)))
    for record in records:
        if len([r for r in rows if r["kind"] == "hotpot_no_gold"]) >= limit:
            break
        gold = {title for title, _ in record["supporting_facts"]}
        kept = [(t, " ".join(s)) for t, s in record["context"] if t not in gold][:PASSAGES]
        answer = normal(record["answer"])
        if answer in {"yes", "no"} or any(answer in normal(f"{t} {x}") for t, x in kept):
            continue
        rows.append({"id": record["_id"], "kind": "hotpot_no_gold", "question": record["question"],
                     "answers": [record["answer"]], "passages": kept})
    for i, question in enumerate(FICTIONAL):
        record = records[-1 - i]  # passages from records the HotpotQA part does not use
        rows.append({"id": f"fictional-{i}", "kind": "fictional", "question": question, "answers": [],
                     "passages": [(t, " ".join(s)) for t, s in record["context"]][:PASSAGES]})
    return rows


def interleave(hotpot: list[dict], fictional: list[dict]) -> list[dict]:
    """One fictional question after every two HotpotQA ones, so that a run cut short has measured both kinds."""
    keyed = [(float(i), r) for i, r in enumerate(hotpot)] + [(2 * j + 1.5, r) for j, r in enumerate(fictional)]
    return [r for _, r in sorted(keyed, key=lambda k: k[0])]


def documents(passages: list) -> list[Document]:
    return [Document(page_content=text, metadata={"doc_id": f"p{i}", "chunk_id": f"p{i}", "title": title, "score": 0.0})
            for i, (title, text) in enumerate(passages)]


def run(rows: list[dict], policies: list[str], gateway, embedder, config: KGSolverConfig,
        on_question=lambda results: None) -> list[dict]:
    out: list[dict] = []
    for row in rows:
        for policy in policies:
            session = gateway.session(Budget(**config.budget.model_dump()))
            outcome = answer_passages(row["question"], documents(row["passages"]), session=session, config=config,
                                      embedder=embedder, policy=policy)
            answered = outcome.answer is not None
            em = best_over_golds(exact_match, outcome.answer, row["answers"]) if answered and row["answers"] else 0.0
            f1 = best_over_golds(f1_score, outcome.answer, row["answers"]) if answered and row["answers"] else 0.0
            out.append({"id": row["id"], "kind": row["kind"], "policy": policy, "answer": outcome.answer,
                        "answer_source": answer_source(outcome), "answered": answered, "em": em, "f1": f1})
            print(f"{row['id'][:12]:12} {policy:15} {answer_source(outcome):15} {outcome.answer!r}", flush=True)
        on_question(out)
    return out


def summarise(results: list[dict], policies: list[str]) -> dict:
    summary: dict = {}
    for policy in policies:
        for kind in ("hotpot_no_gold", "fictional", "all"):
            rows = [r for r in results if r["policy"] == policy and kind in (r["kind"], "all")]
            answered = [r for r in rows if r["answered"]]
            sources = {s: sum(r["answer_source"] == s for r in rows) for s in ("documents", "model_knowledge", "none")}
            entry = {"n": len(rows), "answered": len(answered),
                     "answered_rate": round(len(answered) / len(rows), 4) if rows else 0.0,
                     "answered_ci95": ci95([float(r["answered"]) for r in rows]), "answer_source": sources,
                     "answered_em": round(sum(r["em"] for r in answered) / len(answered), 4) if answered else None,
                     "answered_em_ci95": ci95([r["em"] for r in answered]) if answered else None,
                     "answered_f1": round(sum(r["f1"] for r in answered) / len(answered), 4) if answered else None}
            summary.setdefault(policy, {})[kind] = entry
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hotpot", type=int, default=12, help="HotpotQA questions in a rebuilt set")
    parser.add_argument("--policies", default="hierarchical,tagged,adaptive,documents_only")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the question set from the shared data")
    args = parser.parse_args()
    if args.rebuild or not SET.exists():
        SET.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in build_set(args.hotpot)),
                       encoding="utf-8")
    rows, policies = list(read_jsonl(SET)), args.policies.split(",")
    rows = interleave([r for r in rows if r["kind"] != "fictional"], [r for r in rows if r["kind"] == "fictional"])
    config = KGSolverConfig()
    config.llm.name = args.model
    started = time.perf_counter()

    def save(results: list[dict]) -> None:  # after every question: a cut-short run keeps what it measured
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"model": args.model, "passages_per_question": PASSAGES,
                                        "questions_planned": len(rows), "summary": summarise(results, policies),
                                        "seconds": round(time.perf_counter() - started, 1), "rows": results},
                                       indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        config.llm_cache_path = Path(tmp) / "responses.sqlite"
        results = run(rows, policies, build_gateway(config), load_embedder(), config, on_question=save)
    print(json.dumps(summarise(results, policies), indent=1))


if __name__ == "__main__":
    main()
