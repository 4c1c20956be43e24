"""The instruction guard's two test sets (issue 19.1), kept in the repository under evals/data/:

- `guard_clean_sentences.jsonl`: clean text the guard must never flag: every supporting sentence of the shared HotpotQA
  distractor set (its `supporting_facts`) and every sentence of the KILT mini corpus paragraphs that a KILT question
  names as provenance (split by the project's sentence splitter), deduplicated. Rebuilt by `build_clean_sentences`.
- `injection_set.json`: hand-written injection variants (paraphrase, non-English, fake role headers, notes to the
  model, spaced letters, zero-width characters, homoglyphs, full-width letters, bidi overrides, authority claims),
  each with a `{target}` answer it tries to force, and the demo questions they are injected into.

`attack_cases` pairs each variant with a question, its gold passages from the demo corpus, and the attacked copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgsolver.connectors.text import split_sentences
from kgsolver.evals.datasets import HOTPOTQA_200, KILT_CORPUS, KILT_QUESTIONS, dataset_path, read_jsonl

DATA = Path(__file__).resolve().parent / "data"
CLEAN_SENTENCES = DATA / "guard_clean_sentences.jsonl"
INJECTION_SET = DATA / "injection_set.json"


def build_clean_sentences(data_dir: Path | None = None) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(dataset_path(HOTPOTQA_200, data_dir)):
        context = dict((title, sentences) for title, sentences in record["context"])
        for title, index in record["supporting_facts"]:
            if index < len(context.get(title, [])):
                sentence = " ".join(context[title][index].split())
                rows.setdefault(sentence, {"source": "hotpotqa", "id": record["_id"], "title": title,
                                           "sentence": sentence})
    corpus = {r["title"]: r["text"] for r in read_jsonl(dataset_path(KILT_CORPUS, data_dir))}
    for record in read_jsonl(dataset_path(KILT_QUESTIONS, data_dir)):
        titles = {p["title"] for out in record["output"] for p in out.get("provenance", [])}
        for title in sorted(titles & corpus.keys()):
            for sentence in split_sentences(corpus[title]):
                rows.setdefault(sentence, {"source": "kilt", "id": record["id"], "title": title, "sentence": sentence})
    return list(rows.values())


def load_clean_sentences(path: Path = CLEAN_SENTENCES) -> list[dict[str, Any]]:
    return list(read_jsonl(path))


@dataclass
class AttackCase:
    variant: str
    kind: str
    injection: str
    question: str
    gold: list[str]
    target: str
    clean: list[tuple[str, str]]  # (title, text) gold passages
    attacked: list[tuple[str, str]]  # the same, the injection placed after the first passage's first sentence


def inject(text: str, injection: str) -> str:
    sentences = split_sentences(text)
    return " ".join(sentences[:1] + [injection] + sentences[1:])


def attack_cases(demo_questions: list[dict[str, Any]], demo_corpus: list[dict[str, Any]],
                 path: Path = INJECTION_SET) -> list[AttackCase]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    by_title = {doc["title"]: doc["text"] for doc in demo_corpus}
    cases = []
    for i, variant in enumerate(spec["variants"]):
        pick = spec["questions"][i % len(spec["questions"])]
        question = next(q for q in demo_questions if q["id"].startswith(pick["id"]))
        clean = [(title, by_title[title]) for title in question["gold_titles"]]
        injection = variant["text"].format(target=pick["target"])
        attacked = [(clean[0][0], inject(clean[0][1], injection))] + clean[1:]
        cases.append(AttackCase(variant["id"], variant["kind"], injection, question["question"], question["answers"],
                                pick["target"], clean, attacked))
    return cases
