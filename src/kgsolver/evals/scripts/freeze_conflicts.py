"""Offline: choose the knowledge-conflict questions and their same-kind substitutes, and freeze them as data
(evals/data/conflicts40.jsonl) for the `conflicts` suite, which reads that file and never this script.

Questions: HotpotQA bridge questions and KILT questions whose answer occurs in the gold passages and not in the
question (a comparison question names its answer, so an edit cannot move it), alternating the two sets; the
substitute is the nearest answer of the same kind by embedding (`conflict_substitutes.py`) that the gold passages do
not name; three random passages of other questions make the irrelevant context. Each row carries the reader's verdict
on its substitute (the audit TSV) and the alias sets the suite's one matching rule compares against.

    .venv/bin/python -m kgsolver.evals.scripts.freeze_conflicts --limit 40 \
        --audit benchmarks/results/conflicts40_substitute_audit.tsv --out evals/data/conflicts40.jsonl
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.text import normal
from kgsolver.evals.conflicts import DATA_FILE, ConflictSample, source_samples
from kgsolver.evals.datasets import HOTPOTQA_200, KILT_CORPUS, dataset_path, read_jsonl
from kgsolver.evals.scripts.conflict_substitutes import Substitutes, build_kind_index

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder

_YEARS = re.compile(r"\b(1\d{3}|20\d{2})\s*(?:-|–|—|to|until|till|through)\s*(1\d{3}|20\d{2})\b")
_NAME = re.compile(r"[A-Z][\w'-]*(?: (?:(?:of|the|and|for|de) )*[A-Z][\w'-]*)+")  # within a sentence


def editable(s: ConflictSample) -> bool:
    """An answer an edit of the passages can move: named in the gold passages, not yes/no, not in the question."""
    answer = normal(s.answer)
    words = set(answer.split()) - {"the", "of", "a", "and"}
    in_question = len(words & set(normal(s.question).split())) >= max(1, len(words) / 2)
    return (s.kind != "comparison" and answer not in {"yes", "no"} and len(answer) > 1 and not in_question
            and any(s.answer.lower() in text.lower() for _, text in s.gold))


def initials(name: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", name) if w[0].isupper())


def aliases(answer: str, passages: str = "") -> list[str]:
    """Other spellings of the same answer, so one matching rule serves every row: a span of years in its usual
    joins ("1969-1974" = "1969 until 1974"); a name by its initials and an acronym by the name it abbreviates
    ("UDC" = "University of the District of Columbia"), where the passages use both."""
    found: list[str] = []
    if years := _YEARS.search(answer):
        a, b = years.groups()
        found += [f"{a}-{b}", f"{a} to {b}", f"{a} until {b}"]
    if len(initials(answer)) >= 2 and " " in answer.strip() and re.search(rf"\b{initials(answer)}\b", passages):
        found.append(initials(answer))
    if re.fullmatch(r"[A-Z]{2,6}", answer.strip()):
        names = (re.sub(r"^The ", "", m.group(0)) for m in _NAME.finditer(passages))
        found += [name for name in names if initials(name) == answer.strip()]
    return [x for x in dict.fromkeys(found) if x != answer]


def _pages() -> dict[str, str]:
    """Every page of the corpus, title -> opening text: HotpotQA's distractor contexts and the KILT mini corpus."""
    pages: dict[str, str] = {}
    for r in read_jsonl(dataset_path(HOTPOTQA_200)):
        for title, sentences in r["context"]:
            pages.setdefault(title, " ".join(sentences[:1]))
    for row in read_jsonl(dataset_path(KILT_CORPUS)):
        pages.setdefault(row["title"], row["text"][:400])
    return pages


def _first_time(key: str, seen: set[str]) -> bool:
    """True the first time `key` is met, which it then remembers."""
    if key in seen:
        return False
    seen.add(key)
    return True


def build_samples(limit: int, seed: int, source: str, embedder: Embedder | None) -> list[ConflictSample]:
    """Editable questions, each with a same-kind substitute and three random unrelated passages; deterministic for a
    seed (the first N of a longer run are the run of N). Alternates HotpotQA and KILT with `both`."""
    from kgsolver.graphs.extract_spacy import load_spacy

    chosen = [source_samples(s) for s in (("hotpotqa", "kilt") if source == "both" else (source,))]
    everything = [s for group in chosen for s in group]
    sentences = {s.answer: (found[1] if (found := s.answer_sentence()) else None) for s in everything}
    index = build_kind_index(sentences, [t for s in everything for _, t in s.gold], _pages(), load_spacy(),
                             questions=[s.question for s in everything])
    substitutes, rng = Substitutes(index, embedder), random.Random(seed)
    passages = [p for s in everything for p in s.gold]
    seen: set[str] = set()  # HotpotQA and KILT share questions: keep each once
    usable = [[s for s in group if editable(s) and _first_time(normal(s.question), seen)] for group in chosen]
    for group in usable:
        rng.shuffle(group)
    ordered = [s for group in zip(*usable, strict=False) for s in group] if len(usable) > 1 else usable[0]
    samples = []
    for s in ordered:
        context = " ".join(t for _, t in s.gold) + " " + s.question
        substitute, kind = substitutes.pick_with_kind(s.answer, context, rng, s.question)
        if not substitute:
            continue
        titles = {t for t, _ in s.gold}
        irrelevant = rng.sample([p for p in passages if p[0] not in titles and normal(s.answer) not in normal(p[1])], 3)
        samples.append(dataclasses.replace(s, substitute=substitute, substitute_kind=kind, irrelevant=irrelevant))
        if len(samples) >= limit:
            break
    return samples


def read_audit(path: Path) -> dict[str, tuple[str, str]]:
    """qid -> (verdict, why) from a TSV with the columns qid, verdict and why."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or not {"qid", "verdict"} <= set(rows[0]):
        raise ValueError(f"{path}: an audit needs the TSV columns qid and verdict")
    return {r["qid"]: (r["verdict"].strip(), (r.get("why") or "").strip()) for r in rows}


def frozen_row(s: ConflictSample, audit: dict[str, tuple[str, str]]) -> dict[str, Any]:
    verdict, why = audit.get(s.qid, ("unaudited", ""))
    gold = " ".join(t for _, t in s.gold)
    return {"qid": s.qid, "source": s.source, "question": s.question, "answer": s.answer,
            "answer_aliases": aliases(s.answer, gold), "substitute": s.substitute,
            "substitute_aliases": aliases(s.substitute), "substitute_kind": s.substitute_kind,
            "verdict": verdict, "why": why, "irrelevant": [list(p) for p in s.irrelevant]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", choices=["both", "hotpotqa", "kilt"], default="both")
    parser.add_argument("--audit", type=Path, default=None, help="TSV qid, verdict, why (a reader's judgement)")
    parser.add_argument("--out", type=Path, default=DATA_FILE)
    args = parser.parse_args(argv)
    from kgsolver.connectors.embedders import load_embedder
    from kgsolver.pipeline.config import KGSolverConfig

    embedder = load_embedder(KGSolverConfig().embedder.model_path)
    audit = read_audit(args.audit) if args.audit else {}
    rows = [frozen_row(s, audit) for s in build_samples(args.limit, args.seed, args.source, embedder)]
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} questions -> {args.out}")


if __name__ == "__main__":
    main()
