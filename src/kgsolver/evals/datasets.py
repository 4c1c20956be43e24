"""Where the shared evaluation data lives, and loaders for its files (read-only, never copied at run time)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgsolver.connectors import KGSolverError, malformed_json

DATASETS_ENV = "KGSOLVER_DATASETS"
KILT_QUESTIONS = "kilt/hotpotqa-dev-kilt.mini.jsonl"
KILT_CORPUS = "kilt/hotpotqa-dev-kilt.mini.corpus.jsonl"
HOTPOTQA_200 = "hotpotqa/hotpotqa_dev_distractor_200.jsonl"
MEDQA_300 = "medqa/medqa_usmle_4opt_test_sample300.jsonl"
MEDQUAD = "medcorpus/medquad_passages.jsonl"
OBQA_DEV = "openbookqa/obqa_main_dev.jsonl"
OBQA_FACTS = "openbookqa/openbook_facts.txt"
PUBMEDQA_500 = "pubmedqa/pqal_labelled_nontest500.json"


def datasets_dir() -> Path:
    """$KGSOLVER_DATASETS, else the first `shared/datasets` beside the working directory or the source tree."""
    if os.environ.get(DATASETS_ENV):
        return Path(os.environ[DATASETS_ENV])
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "datasets"
            if candidate.is_dir():
                return candidate
    raise KGSolverError(f"no shared/datasets folder found; set ${DATASETS_ENV} to its path")


def dataset_path(relative: str, data_dir: Path | None = None) -> Path:
    path = (data_dir or datasets_dir()) / relative
    if not path.exists():
        raise KGSolverError(f"dataset file missing: {path}")
    return path


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise KGSolverError(malformed_json(path, lineno, exc)) from exc


def kilt_gold_titles(record: dict[str, Any]) -> list[set[str]]:
    """Each KILT output's provenance as a set of page titles (the corpus is matched by title)."""
    return [{p["title"] for p in out.get("provenance", [])}
            for out in record.get("output", []) if out.get("provenance")]


def kilt_answers(record: dict[str, Any]) -> list[str]:
    return [out["answer"] for out in record.get("output", []) if out.get("answer")]


def read_openbook_facts(path: Path) -> list[str]:
    """The OpenBookQA "open book": one fact a line, each wrapped in double quotes."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip().strip('"').strip() for line in lines if line.strip().strip('"').strip()]


def read_pubmedqa(path: Path) -> list[dict[str, Any]]:
    """PubMedQA PQA-L: a JSON object keyed by PMID; each record gets its `pmid`, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [{"pmid": pmid, **record} for pmid, record in data.items()]


def medquad_kilt_corpus(path: Path, limit: int | None = None, data_dir: Path | None = None) -> Path:
    """The scale corpus of issue 17 as one jsonl file: MedQuAD's passages (titled by their question) then the KILT
    mini corpus, interleaved so that any first `limit` records hold both kinds of text."""
    from itertools import chain, islice, zip_longest

    from kgsolver.evals.suites.common import write_corpus
    from kgsolver.evals.suites.medqa import medquad_records

    medquad = medquad_records(read_jsonl(dataset_path(MEDQUAD, data_dir)))
    kilt = read_jsonl(dataset_path(KILT_CORPUS, data_dir))
    records = (r for r in chain.from_iterable(zip_longest(medquad, kilt)) if r is not None)
    return write_corpus(islice(records, limit), path)
