"""Import an existing KG: TSV/CSV triples (head_id, head_name, relation, tail_id, tail_name[, attrs], header row,
gzip allowed) and a terms file (jsonl: id, name, definition or def, synonyms) whose synonyms become aliases."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from kgsolver.connectors import CorpusFormatError
from kgsolver.connectors.graph_stores import Entity, GraphBatch, GraphStore, Relation

REQUIRED = ("head_id", "head_name", "relation", "tail_id", "tail_name")


class GraphImportError(CorpusFormatError):
    """A KG file is malformed; the message names the file and line."""


def _open(path: Path) -> TextIO:
    return gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz" else \
        path.open(encoding="utf-8", newline="")


def _delimiter(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return "," if name.endswith(".csv") else "\t"


def iter_triples(path: Path, *, limit: int | None = None, batch_size: int = 20000,
                 source: str | None = None) -> Iterator[GraphBatch]:
    """Batches of entities (names from the triples) and relations; a malformed row raises with file and line."""
    source = source or f"kg:{path.name.split('.')[0]}"
    with _open(path) as handle:
        reader = csv.reader(handle, delimiter=_delimiter(path), quoting=csv.QUOTE_NONE if _delimiter(path) == "\t"
                            else csv.QUOTE_MINIMAL)
        header = next(reader, None)
        if header is None or any(col not in header for col in REQUIRED):
            raise GraphImportError(f"{path}:1: header must name {', '.join(REQUIRED)} (got {header})")
        cols = {c: header.index(c) for c in (*REQUIRED, "attrs") if c in header}
        batch = GraphBatch()
        names: dict[str, str] = {}
        for count, row in enumerate(reader, start=1):
            line = reader.line_num
            if len(row) != len(header):
                raise GraphImportError(f"{path}:{line}: expected {len(header)} fields, found {len(row)}")
            h, hn, rel, t, tn = (row[cols[c]].strip() for c in REQUIRED)
            if not (h and rel and t):
                raise GraphImportError(f"{path}:{line}: empty head_id, relation or tail_id")
            for eid, name in ((h, hn), (t, tn)):
                if names.get(eid) != name:
                    names[eid] = name
                    batch.entities.append(Entity(eid, name or eid, _type_of(eid), source=source))
            attrs = row[cols["attrs"]] if "attrs" in cols else ""
            batch.relations.append(Relation(h, rel, t, 1.0, [], source, attrs))
            if len(batch.relations) >= batch_size:
                yield batch
                batch = GraphBatch()
            if limit and count >= limit:
                break
        if batch.relations or batch.entities:
            yield batch


def _type_of(entity_id: str) -> str:
    prefix = entity_id.split(":", 1)[0] if ":" in entity_id else ""
    types = {"HP": "Phenotype", "OMIM": "Disease", "ORPHA": "Disease", "DECIPHER": "Disease"}
    return types.get(prefix, prefix or "Thing")


def iter_terms(path: Path, *, source: str = "kg:terms", ids: set[str] | None = None) -> Iterator[Entity]:
    """Term records as entities: the name, the definition as description, synonyms as aliases."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                eid, name = record["id"], record["name"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise GraphImportError(f"{path}:{line_no}: not a term record ({exc})") from exc
            if ids is not None and eid not in ids:
                continue
            synonyms = [s for s in record.get("synonyms") or [] if s and s != name]
            yield Entity(eid, name, _type_of(eid), synonyms, record.get("definition") or record.get("def") or "",
                         source)


def import_kg(store: GraphStore, triples: Path, terms: Path | None = None, *,
              limit: int | None = None) -> dict[str, Any]:
    """Load triples (and terms) into any GraphStore; returns counts."""
    source, n = f"kg:{triples.name.split('.')[0]}", 0
    seen: set[str] = set()
    for batch in iter_triples(triples, limit=limit, source=source):
        store.upsert(batch)
        seen.update(e.id for e in batch.entities)
        n += len(batch.relations)
    described = 0
    if terms:
        block: list[Entity] = []
        for entity in iter_terms(terms, source=source, ids=seen):
            block.append(entity)
            if len(block) >= 20000:
                store.upsert(GraphBatch(entities=block))
                described, block = described + len(block), []
        store.upsert(GraphBatch(entities=block))
        described += len(block)
    return {"triples": n, "entities": len(seen), "terms": described, "source": source}
