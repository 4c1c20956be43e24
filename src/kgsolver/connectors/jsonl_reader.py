"""JSON-lines corpora in two formats.

- `jsonl`: `{"id": str, "title": str, "text": str, ...}`; every other field is kept as metadata and never sets the id.
- `kilt`: the KILT knowledge source, `{"wikipedia_id": str, "wikipedia_title": str, "text": [paragraphs]}` (`_id`
  stands in for a missing `wikipedia_id`).

With format `auto` the whole file decides: each record's shape (a KILT record has `wikipedia_title` and no `id`) must
agree with the first record's, or the read stops at the first record that disagrees; the report says which format
was detected. Ids must be non-empty strings: `1` and `"1"` would otherwise become one document. The file must be
UTF-8 (JSON's own rule); a bad byte is named by file, line and byte offset.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kgsolver.connectors import CorpusFormatError, malformed_json
from kgsolver.connectors.corpus_documents import ReadReport, SourceDocument, bad_byte_message, looks_binary

JSONL_FORMATS = ("jsonl", "kilt")


def record_shape(record: dict[str, Any]) -> str:
    return "kilt" if "wikipedia_title" in record and "id" not in record else "jsonl"


def _string_field(record: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    if key not in record:
        if required:
            raise CorpusFormatError(f"{where}: record has no {key} field (fields: {sorted(record)})")
        return ""
    value = record[key]
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise CorpusFormatError(f"{where}: field {key!r} must be a string, got {type(value).__name__} {value!r:.40}")
    if required and key != "text" and not value.strip():
        raise CorpusFormatError(f"{where}: field {key!r} is empty")
    return value


def kilt_document(record: dict[str, Any], where: str) -> SourceDocument:
    id_key = "wikipedia_id" if "wikipedia_id" in record or "_id" not in record else "_id"
    doc_id = _string_field(record, id_key, where)
    title = _string_field(record, "wikipedia_title", where)
    paragraphs = record.get("text")
    if isinstance(paragraphs, str):
        paragraphs = [paragraphs]
    if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
        raise CorpusFormatError(f"{where}: field 'text' must be a list of paragraph strings in KILT format")
    text = "\n".join(p.strip() for p in paragraphs if p.strip() and not p.startswith("Section::::"))
    meta = {k: v for k, v in record.items() if k not in {"text", "wikipedia_id", "_id", "wikipedia_title"}}
    return SourceDocument(doc_id, title, text, meta, where)


def jsonl_document(record: dict[str, Any], where: str) -> SourceDocument:
    doc_id = _string_field(record, "id", where)
    text = _string_field(record, "text", where)
    title = _string_field(record, "title", where, required=False)
    meta = {k: v for k, v in record.items() if k not in {"id", "title", "text"}}
    return SourceDocument(doc_id, title, text, meta, where)


def _lines(handle: Iterable[bytes], path: Path) -> Iterator[tuple[int, str]]:
    offset = 0
    for lineno, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusFormatError(bad_byte_message(path, raw, exc.start, offset, lineno)) from None
        offset += len(raw)
        yield lineno, line


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for lineno, line in _lines(handle, path):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusFormatError(malformed_json(path, lineno, exc)) from exc
            if not isinstance(record, dict):
                raise CorpusFormatError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def read_jsonl(path: Path, report: ReadReport, fmt: str = "auto") -> Iterator[SourceDocument]:
    """Documents of one jsonl file read as `fmt` (jsonl, kilt or auto)."""
    if path.stat().st_size == 0:
        report.skip(f"{path}: empty file, skipped")
        return
    if path.suffix != ".gz":
        with path.open("rb") as handle:
            if looks_binary(handle.read(4096)):
                report.skip(f"{path}: binary file, skipped")
                return
    chosen, first_line, count = (None if fmt == "auto" else fmt), 0, 0
    for lineno, record in _records(path):
        where = f"{path}:{lineno}"
        if chosen is None:
            chosen, first_line = record_shape(record), lineno
        elif fmt == "auto" and record_shape(record) != chosen:
            raise CorpusFormatError(
                f"{where}: record looks like {record_shape(record)} but the file's first record (line {first_line}) "
                f"is {chosen}; a file has one format: fix the file or pass --format jsonl or --format kilt")
        count += 1
        yield kilt_document(record, where) if chosen == "kilt" else jsonl_document(record, where)
    if fmt == "auto" and chosen is not None:
        report.note(f"{path}: detected format {chosen} (all {count} records agree)")
