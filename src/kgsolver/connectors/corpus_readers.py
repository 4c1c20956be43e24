"""Corpus readers: what `kgsolver ingest` reads, by format.

Formats (`CORPUS_FORMATS`): `jsonl` and `kilt` read JSON-lines files (`connectors/jsonl_reader.py`), `text` reads
.txt/.md files and PDF, HTML and DOCX documents (`connectors/document_reader.py`), `auto` picks by suffix and, for a
JSON-lines file, by all of its records. In a folder, a file the format does not read is listed as skipped; a single
file it does not read is an error. A malformed line stops the read with file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kgsolver.connectors import CorpusFormatError
from kgsolver.connectors.corpus_documents import ReadReport, SourceDocument
from kgsolver.connectors.document_reader import DOCUMENT_SUFFIXES, TEXT_SUFFIXES, read_document, read_text_file
from kgsolver.connectors.jsonl_reader import JSONL_FORMATS, read_jsonl

__all__ = ["CORPUS_FORMATS", "ReadReport", "SourceDocument", "read_corpus"]
CORPUS_FORMATS = ("auto", "jsonl", "kilt", "text")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
JSON_SUFFIX = ".json"  # read as JSON lines when named alone; in a folder a .json file is rarely that, so skipped


def file_kind(path: Path, *, alone: bool = False) -> str | None:
    """jsonl, text, document, or None for a file no reader takes."""
    if path.name.lower().endswith(JSONL_SUFFIXES) or (alone and path.suffix.lower() == JSON_SUFFIX):
        return "jsonl"
    suffix = path.suffix.lower()
    return "text" if suffix in TEXT_SUFFIXES else "document" if suffix in DOCUMENT_SUFFIXES else None


def _reads(fmt: str, kind: str | None) -> bool:
    if kind is None:
        return False
    return fmt == "auto" or (kind == "jsonl") == (fmt in JSONL_FORMATS)


def _read_file(path: Path, root: Path, fmt: str, report: ReadReport) -> Iterator[SourceDocument]:
    kind = file_kind(path, alone=True)
    if kind == "jsonl":
        yield from read_jsonl(path, report, fmt)
    elif kind == "text":
        yield from read_text_file(path, root, report)
    else:
        yield from read_document(path, root, report)


def _why_not(path: Path, fmt: str, *, alone: bool = False) -> str:
    kind = file_kind(path, alone=alone)
    if kind is None:
        return (f"unsupported file type {path.suffix or '(no suffix)'!s} (read: .jsonl, .jsonl.gz, "
                f"{', '.join(sorted(TEXT_SUFFIXES | DOCUMENT_SUFFIXES))})")
    return f"a {kind} file is not read with --format {fmt}"


def read_corpus(path: str | Path, report: ReadReport | None = None, fmt: str = "auto") -> Iterator[SourceDocument]:
    """Yield the documents of a file or folder read as `fmt` (one of CORPUS_FORMATS)."""
    if fmt not in CORPUS_FORMATS:
        raise CorpusFormatError(f"unknown corpus format {fmt!r}; use one of {', '.join(CORPUS_FORMATS)}")
    path = Path(path)
    report = report if report is not None else ReadReport()
    if not path.exists():
        raise CorpusFormatError(f"{path}: no such file or folder")
    if not path.is_dir():
        if not _reads(fmt, file_kind(path, alone=True)):
            raise CorpusFormatError(f"{path}: unsupported corpus format: {_why_not(path, fmt, alone=True)}")
        yield from _read_file(path, path.parent, fmt, report)
        return
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        if _reads(fmt, file_kind(child)):
            yield from _read_file(child, path, fmt, report)
        else:
            report.skip(f"{child}: {_why_not(child, fmt)}, skipped")
