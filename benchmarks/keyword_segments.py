"""BM25 across segments (issue 17): bm25s per segment with global statistics merged at query time, against SQLite FTS5.

    .venv/bin/python benchmarks/keyword_segments.py [--corpus kilt medquad] [--segments 1 4 16] [--deleted 0.02]
        [--out benchmarks/results/keyword_segments.json]

Corpora, as the knowledge base indexes them (title, newline, text): the KILT mini corpus (2,920 Wikipedia paragraphs;
queries: its 235 KILT HotpotQA questions) and MedQuAD (16,407 passages titled by their question; queries: the 300
MedQA questions, long vignettes). Each corpus is split into S contiguous segments (global id = position). Per S:

- (a) baseline: one bm25s index over the whole corpus (`BM25Index.search`);
- (b) merged: `search_segments` over the S segment indexes (global df, N and average length at query time);
- (c) FTS5: one SQLite table (`tokenize='porter unicode61'`, ranked by `bm25()`, terms ORed, the same English
  stopwords removed), its rows inserted in S transactions, so that FTS5 holds its own segments as an ingest would
  leave them. FTS5 has global statistics by construction; its BM25 uses k1=1.2 and Porter stemming, so its top 10
  may differ from bm25s' even where both are right.
Latency: one query per call (the pipeline asks one question at a time), p50/p95 over all queries after one warm-up,
the three searches interleaved query by query so that the machine's other load falls on all alike; also the whole
query set in one call for (a) and (b). Agreement against (a): recall@10 (mean share of (a)'s top-10 ids found, normal
95% interval) and the rate of identical top-10 sets (Wilson 95%); on KILT also each search's own recall@10 of the gold
passages (provenance titles), which says whether a disagreement with (a) costs answers. With --deleted F, the largest S
is also run with a random fraction F of documents deleted (tombstones for (b), DELETE for (c)); its baseline is one
bm25s index over the live documents.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from kgsolver.connectors.keyword_index import BM25Index, search_segments
from kgsolver.evals.datasets import (
    KILT_CORPUS,
    KILT_QUESTIONS,
    MEDQA_300,
    MEDQUAD,
    dataset_path,
    kilt_gold_titles,
    read_jsonl,
)
from kgsolver.evals.report import ci95
from kgsolver.evals.suites.medqa import medquad_records

K = 10
Search = Callable[[list[str]], np.ndarray]  # queries -> (len(queries), K) global ids, -1 where empty


@dataclass
class Corpus:
    texts: list[str]  # as the KB indexes them: title, newline, text
    titles: list[str]
    queries: list[str]
    gold: list[set[str]] | None  # per query, the titles of its gold passages (KILT provenance), where known


def load(corpus: str) -> Corpus:
    if corpus == "kilt":
        records = list(read_jsonl(dataset_path(KILT_CORPUS)))
        questions = list(read_jsonl(dataset_path(KILT_QUESTIONS)))
        queries = [r["input"] for r in questions]
        gold: list[set[str]] | None = [set().union(*kilt_gold_titles(r)) for r in questions]
    else:  # MedQA questions are not aligned to MedQuAD passages: agreement only
        records = list(medquad_records(read_jsonl(dataset_path(MEDQUAD))))
        queries, gold = [r["question"] for r in read_jsonl(dataset_path(MEDQA_300))], None
    texts = [f"{r['title']}\n{r['text']}" if r.get("title") else r["text"] for r in records]
    return Corpus(texts, [r.get("title", "") for r in records], queries, gold)


def gold_recall(corpus: Corpus, ids: np.ndarray) -> dict:
    """Share of each question's gold titles among the titles of its top 10 (KILT matches provenance by title)."""
    assert corpus.gold is not None
    recall = [len(gold & {corpus.titles[i] for i in row if i >= 0}) / len(gold)
              for gold, row in zip(corpus.gold, ids, strict=True) if gold]
    return {"recall_at_10": round(float(np.mean(recall)), 4), "ci95": ci95(recall), "n": len(recall)}


def fts_match(query: str) -> str:
    """An FTS5 query: the query's words (as bm25s splits them, stopwords out), each quoted, ORed."""
    words = dict.fromkeys(w for w in re.findall(r"(?u)\b\w\w+\b", query.lower()) if w not in STOPWORDS_EN)
    return " OR ".join(f'"{w}"' for w in words)


def build_fts(path: Path, texts: list[str], n_segments: int, deleted: np.ndarray) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE passages USING fts5(text, tokenize='porter unicode61')")
    for chunk in np.array_split(np.arange(len(texts)), n_segments):
        with db:  # one transaction per segment, as one ingest would write it
            db.executemany("INSERT INTO passages(rowid, text) VALUES (?, ?)", ((int(i), texts[i]) for i in chunk))
    with db:
        db.executemany("DELETE FROM passages WHERE rowid = ?", ((int(i),) for i in deleted))
    return db


def fts_search(db: sqlite3.Connection, queries: list[str]) -> np.ndarray:
    out = np.full((len(queries), K), -1, dtype=np.int64)
    sql = "SELECT rowid FROM passages WHERE passages MATCH ? ORDER BY rank LIMIT ?"
    for q, query in enumerate(queries):
        match = fts_match(query)
        rows = [r[0] for r in db.execute(sql, (match, K))] if match else []
        out[q, :len(rows)] = rows
    return out


def latencies(searches: dict[str, Search], queries: list[str]) -> dict[str, dict]:
    """Per-query seconds of each search, interleaved query by query (order rotating), so that load from other
    processes on the machine falls on all of them alike."""
    names = list(searches)
    for name in names:
        searches[name](queries[:1])  # warm-up: page cache, lazy loads
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for q, query in enumerate(queries):
        for name in names[q % len(names):] + names[:q % len(names)]:
            started = time.perf_counter()
            searches[name]([query])
            seconds[name].append(time.perf_counter() - started)
    out = {}
    for name, values in seconds.items():
        ordered = sorted(values)
        out[name] = {"p50_ms": round(1000 * statistics.median(ordered), 3),
                     "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3), "n": len(ordered)}
    return out


def batch_ms(search: Search, queries: list[str]) -> float:
    started = time.perf_counter()
    search(queries)
    return round(1000 * (time.perf_counter() - started) / len(queries), 3)


def agreement(reference: np.ndarray, ids: np.ndarray) -> dict:
    """recall@10 of `ids` against the reference top 10, over queries where the reference found anything."""
    recall, same = [], []
    for ref, got in zip(reference, ids, strict=True):
        ref_set, got_set = set(ref[ref >= 0].tolist()), set(got[got >= 0].tolist())
        if ref_set:
            recall.append(len(ref_set & got_set) / len(ref_set))
            same.append(float(ref_set == got_set))
    return {"recall_at_10": round(float(np.mean(recall)), 4), "recall_ci95": ci95(recall),
            "same_top10": round(float(np.mean(same)), 4), "same_top10_ci95": ci95(same), "n": len(recall)}


def segment_indexes(texts: list[str], n_segments: int) -> tuple[list[tuple[BM25Index, int]], float]:
    started = time.perf_counter()
    parts = []
    for chunk in np.array_split(np.arange(len(texts)), n_segments):
        start = int(chunk[0]) if len(chunk) else 0
        parts.append((BM25Index.build(chunk - start, [texts[i] for i in chunk]), start))
    return parts, time.perf_counter() - started


def run(corpus: Corpus, n_segments: int, deleted: np.ndarray, scratch: Path) -> dict:
    texts, queries = corpus.texts, corpus.queries
    live = np.setdiff1d(np.arange(len(texts)), deleted)
    started = time.perf_counter()
    whole = BM25Index.build(live, [texts[i] for i in live])
    build_a = time.perf_counter() - started
    parts, build_b = segment_indexes(texts, n_segments)
    started = time.perf_counter()
    db = build_fts(scratch / f"fts-{len(texts)}-{n_segments}-{len(deleted)}.sqlite", texts, n_segments, deleted)
    build_c = time.perf_counter() - started
    searches: dict[str, Search] = {
        "a_bm25s_one_index": lambda qs: whole.search(qs, K)[1],
        "b_bm25s_segments_merged": lambda qs: search_segments(parts, qs, K, deleted)[1],
        "c_fts5": lambda qs: fts_search(db, qs),
    }
    reference = searches["a_bm25s_one_index"](queries)
    out: dict = {"segments": n_segments, "passages": len(texts), "deleted": len(deleted), "queries": len(queries),
                 "build_s": {"a": round(build_a, 3), "b": round(build_b, 3), "c": round(build_c, 3)}}
    timed = latencies(searches, queries)
    for name, search in searches.items():
        ids = search(queries)
        out[name] = {"latency": timed[name], "agreement_with_a": agreement(reference, ids)}
        if corpus.gold is not None:
            out[name]["gold_title_recall"] = gold_recall(corpus, ids)
        if not name.startswith("c_"):
            out[name]["batch_ms_per_query"] = batch_ms(search, queries)
    # (b) should equal (a) up to float rounding; ids that differ are then ties at equal scores
    score_gap = np.abs(whole.search(queries, K)[0] - search_segments(parts, queries, K, deleted)[0]).max()
    out["b_bm25s_segments_merged"]["max_abs_score_diff_vs_a"] = float(score_gap)
    base = out["a_bm25s_one_index"]["latency"]
    for name in ("b_bm25s_segments_merged", "c_fts5"):
        lat = out[name]["latency"]
        lat["p50_vs_a"], lat["p95_vs_a"] = (round(lat["p50_ms"] / base["p50_ms"], 2),
                                            round(lat["p95_ms"] / base["p95_ms"], 2))
    db.close()
    return out


def show(corpus: str, row: dict) -> None:
    print(f"{corpus} S={row['segments']} deleted={row['deleted']} (n={row['queries']} queries, "
          f"{row['passages']} passages) build s {row['build_s']}")
    for name in ("a_bm25s_one_index", "b_bm25s_segments_merged", "c_fts5"):
        lat, agree = row[name]["latency"], row[name]["agreement_with_a"]
        ratio = f" ({lat['p50_vs_a']}x / {lat['p95_vs_a']}x of a)" if "p50_vs_a" in lat else ""
        if "max_abs_score_diff_vs_a" in row[name]:
            ratio += f" max |score - a| {row[name]['max_abs_score_diff_vs_a']:.2g}"
        print(f"  {name:26s} p50 {lat['p50_ms']:8.3f} ms  p95 {lat['p95_ms']:8.3f} ms{ratio}  "
              f"recall@10 {agree['recall_at_10']:.4f} {agree['recall_ci95']}  same top-10 {agree['same_top10']:.3f} "
              f"{agree['same_top10_ci95']}")
        if "gold_title_recall" in row[name]:
            gold = row[name]["gold_title_recall"]
            print(f"  {'':26s} gold-title recall@10 {gold['recall_at_10']:.4f} {gold['ci95']} (n={gold['n']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["kilt", "medquad"], choices=["kilt", "medquad"])
    parser.add_argument("--segments", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--deleted", type=float, default=0.02, help="fraction deleted in the extra run (0: none)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/keyword_segments.json"))
    args = parser.parse_args()
    results: dict = {"command": " ".join(["benchmarks/keyword_segments.py", *sys.argv[1:]]), "k": K,
                     "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version, "runs": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for corpus in args.corpus:
            data = load(corpus)
            rng = np.random.default_rng(0)
            plans = [(s, np.zeros(0, dtype=np.int64)) for s in args.segments]
            if args.deleted > 0:
                n_dead = int(args.deleted * len(data.texts))
                plans.append((max(args.segments), np.sort(rng.choice(len(data.texts), n_dead, replace=False))))
            results["runs"][corpus] = []
            for n_segments, deleted in plans:
                row = run(data, n_segments, deleted, Path(scratch))
                show(corpus, row)
                results["runs"][corpus].append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
