"""Rebuild the committed demo corpus from the shared KILT HotpotQA mini set (deterministic).

    python -m kgsolver.evals.make_demo_corpus pipeline/demo
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from kgsolver.evals.datasets import (
    KILT_CORPUS,
    KILT_QUESTIONS,
    dataset_path,
    kilt_answers,
    kilt_gold_titles,
    read_jsonl,
)

N_QUESTIONS, N_PASSAGES, SEED = 30, 300, 0


def build(out_dir: Path) -> tuple[int, int]:
    corpus = list(read_jsonl(dataset_path(KILT_CORPUS)))
    by_title = {r["title"]: r for r in corpus}
    questions: list[dict[str, Any]] = []
    keep: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(dataset_path(KILT_QUESTIONS)):
        titles = set().union(*kilt_gold_titles(record))
        if titles and titles <= by_title.keys() and len(questions) < N_QUESTIONS:
            questions.append({"id": record["id"], "question": record["input"], "answers": kilt_answers(record),
                              "gold_titles": sorted(titles)})
            keep.update({t: by_title[t] for t in titles})
    rest = [r for r in corpus if r["title"] not in keep]
    random.Random(SEED).shuffle(rest)
    for record in rest[: N_PASSAGES - len(keep)]:
        keep[record["title"]] = record
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in sorted(keep.values(), key=lambda r: int(r["id"][2:])):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (out_dir / "questions.jsonl").open("w", encoding="utf-8") as handle:
        for q in questions:
            handle.write(json.dumps(q, ensure_ascii=False) + "\n")
    return len(keep), len(questions)


if __name__ == "__main__":
    passages, questions = build(Path(sys.argv[1] if len(sys.argv) > 1 else "src/kgsolver/pipeline/demo"))
    print(f"wrote {passages} passages and {questions} questions")
