"""Corpus readers: jsonl (`id`, `title`, `text`, other fields kept as metadata), a folder of .txt/.md files, and
the KILT knowledge source (`wikipedia_id`, `wikipedia_title`, `text` as a list of paragraphs).

A malformed line stops the read with file and line; an empty or binary file is reported and skipped.
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kgsolver.connectors.errors import CorpusFormatError, malformed_json

log = logging.getLogger(__name__)
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}


@dataclass
class SourceDocument:
    id: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadReport:
    """What a read skipped and why, so the CLI can tell the user."""

    skipped: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        log.warning(reason)
        self.skipped.append(reason)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if path.suffix == ".gz":
        return False
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte character cut at the 4 KiB boundary is fine
    return False


def _kilt_document(record: dict) -> SourceDocument:
    paragraphs = record["text"] if isinstance(record["text"], list) else [record["text"]]
    text = "\n".join(p.strip() for p in paragraphs if p and p.strip() and not p.startswith("Section::::"))
    doc_id = str(record.get("wikipedia_id") or record.get("_id"))
    meta = {k: v for k, v in record.items() if k not in {"text", "wikipedia_id", "_id", "wikipedia_title"}}
    return SourceDocument(doc_id, record["wikipedia_title"], text, meta)


def _jsonl_document(record: dict, where: str) -> SourceDocument:
    if "wikipedia_title" in record and "text" in record:
        return _kilt_document(record)
    missing = [key for key in ("id", "text") if key not in record]
    if missing:
        raise CorpusFormatError(f"{where}: record has no {', '.join(missing)!s} field (fields: {sorted(record)})")
    if not isinstance(record["text"], str):
        raise CorpusFormatError(f"{where}: field 'text' must be a string, got {type(record['text']).__name__}")
    meta = {k: v for k, v in record.items() if k not in {"id", "title", "text"}}
    return SourceDocument(str(record["id"]), str(record.get("title") or ""), record["text"], meta)


def read_jsonl(path: Path, report: ReadReport) -> Iterator[SourceDocument]:
    if path.stat().st_size == 0:
        report.skip(f"{path}: empty file, skipped")
        return
    if _looks_binary(path):
        report.skip(f"{path}: binary file, skipped")
        return
    with _open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusFormatError(malformed_json(path, lineno, exc)) from exc
            if not isinstance(record, dict):
                raise CorpusFormatError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield _jsonl_document(record, f"{path}:{lineno}")


def read_text_file(path: Path, root: Path, report: ReadReport) -> Iterator[SourceDocument]:
    if path.stat().st_size == 0 or _looks_binary(path):
        report.skip(f"{path}: {'empty' if path.stat().st_size == 0 else 'binary'} file, skipped")
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        report.skip(f"{path}: empty file, skipped")
        return
    first = text.lstrip().splitlines()[0]
    title = first.lstrip("# ").strip() if first.startswith("#") else path.stem.replace("_", " ")
    yield SourceDocument(str(path.relative_to(root)), title, text, {"path": str(path.relative_to(root))})


def read_corpus(path: str | Path, report: ReadReport | None = None) -> Iterator[SourceDocument]:
    """Yield the documents of a file or folder; the format is chosen by suffix and, for jsonl, by its fields."""
    path = Path(path)
    report = report if report is not None else ReadReport()
    if not path.exists():
        raise CorpusFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in TEXT_SUFFIXES:
                yield from read_text_file(child, path, report)
            elif child.name.endswith((".jsonl", ".jsonl.gz")):
                yield from read_jsonl(child, report)
        return
    if path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
        yield from read_jsonl(path, report)
    elif path.suffix.lower() in TEXT_SUFFIXES:
        yield from read_text_file(path, path.parent, report)
    else:
        raise CorpusFormatError(f"{path}: unsupported corpus format (use .jsonl, .txt, .md, or a folder of them)")
