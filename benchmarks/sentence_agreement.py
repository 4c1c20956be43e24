"""Pooled against encoded sentence vectors (issue 35): the filter chain's per-passage decisions on the HotpotQA 200.

The `hotpotqa` suite's knowledge base is copied and only its sentence vectors are remade the other way (the chunks,
dense and BM25 indexes stay byte-identical, so retrieval hands both runs the same passages); then the LLM-free filter
chain (benchmarks/filter_recall.py's) runs on every question over both copies. A passage's decision is, per filter,
what the filter removed or flagged of it (the passage, or which sentences), and the text it keeps in the end; the
agreement is the share of (question, passage) pairs whose decisions are the same. Also each run's gold recall.

    .venv/bin/python benchmarks/sentence_agreement.py --out benchmarks/results/sentence_agreement.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from filter_recall import question_row, summary  # benchmarks/ is the script's own folder on sys.path

from kgsolver.connectors.embedders import load_embedder
from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, datasets_dir, read_jsonl
from kgsolver.evals.runner import build_suite_kb, default_kb
from kgsolver.evals.suites.hotpotqa import HotpotQASuite
from kgsolver.pipeline.answer.filters import build_filter_chain, doc_ref
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.segment import SENTENCES_DIR
from kgsolver.pipeline.kb.sentence_index import ENCODED, POOLED, SentenceIndex, embed_chunks
from kgsolver.pipeline.solver import Solver


def remake_sentences(root: Path, method: str) -> float:
    """Rewrite each segment's sentence index of the knowledge base at `root` that was not made the `method` way;
    returns seconds."""
    embedder, started = load_embedder(), time.perf_counter()
    kb = KnowledgeBase.open(root)
    for segment in kb.segment_set.segments:
        stored = segment.sentences
        if stored is not None and stored.method == method:
            continue
        rows = segment.chunks(np.arange(segment.rows))
        chunks = [rows[r] for r in range(segment.rows)]
        _, index = embed_chunks(chunks, embedder, method=method, show=True)
        if index is None:  # the ENCODED way: each titled sentence alone
            index = SentenceIndex.encoded(dict(enumerate(chunks)), embedder, show=True)
        shutil.rmtree(segment.folder / SENTENCES_DIR, ignore_errors=True)
        index.save(segment.folder / SENTENCES_DIR)
    kb.close()
    return time.perf_counter() - started


def decisions(kb: Path, config: KGSolverConfig, items: list, records: dict) -> tuple[dict, list[dict]]:
    """Per (question, passage): each filter's removals of it and its final text; and filter_recall's rows."""
    solver = Solver(kb, config)
    out, rows = {}, []
    for item in items:
        docs = solver.retriever().invoke(item.question)
        result = build_filter_chain(config.filters, solver.vectors, session=None).run(item.question, docs)
        final = {doc_ref(d): d.page_content for d in result.documents}
        for doc in docs:
            ref = doc_ref(doc)
            out[f"{item.qid}|{ref}"] = {
                "filters": {report.filter: sorted(f"{r.kind}:{r.detail[:80]}" for r in report.removed if r.ref == ref)
                            for report in result.reports},
                "kept": final.get(ref)}
        rows.append(question_row(solver, config, item, records[item.qid]))
    return out, rows


def agreement(before: dict, after: dict) -> dict:
    keys = sorted(before)
    names = sorted({name for d in before.values() for name in d["filters"]})
    per_filter = {name: round(float(np.mean([before[k]["filters"].get(name) == after[k]["filters"].get(name)
                                             for k in keys])), 4) for name in names}
    kept_same = [(before[k]["kept"] is None) == (after[k]["kept"] is None) for k in keys]
    text_same = [before[k]["kept"] == after[k]["kept"] for k in keys]
    return {"passages": len(keys), "per_filter": per_filter,
            "kept_or_removed_same": round(float(np.mean(kept_same)), 4),
            "kept_text_same": round(float(np.mean(text_same)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = KGSolverConfig()
    suite, data_dir = HotpotQASuite(), datasets_dir()
    kb = default_kb(suite.name, config)
    if not (kb / "manifest.json").is_file():  # built once by filter_recall.py or the suite, never written here
        build_suite_kb(suite, kb, data_dir, config)
    items = [i for i in suite.items(data_dir, None) if i.condition == "rag"][: args.limit]
    records = {r["_id"]: r for r in read_jsonl(dataset_path(HOTPOTQA_200, data_dir))}
    runs, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in (ENCODED, POOLED):
            copy = Path(tmp) / method
            shutil.copytree(kb, copy)
            seconds[method] = round(remake_sentences(copy, method), 1)
            runs[method] = decisions(copy, config, items, records)
    result = {"agreement": agreement(runs[ENCODED][0], runs[POOLED][0]), "remake_seconds": seconds,
              "recall": {method: summary(rows) for method, (_, rows) in runs.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
