"""Chunk text and metadata of one knowledge-base segment in SQLite: written once, then opened read-only. `Chunk` is
the unit a knowledge base stores and reads (pipeline/kb/chunking.py cuts documents into them).

One file per segment. Rows are addressed by their position in the segment (0..n-1), which is what the segment's
vector, keyword and sentence indexes hold too; the knowledge base maps positions to its global chunk ids. Nothing is
loaded whole: a lookup reads the rows it names, and `doc_id` is indexed, so finding a document's chunks is a seek.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STORE_FILE = "chunks.sqlite"
_BATCH = 500  # ids bound per statement, well under SQLite's variable limit
_COLUMNS = "row, chunk_id, doc_id, title, text, start, end_, metadata"
_SCHEMA = """
CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL, title TEXT NOT NULL,
                     text TEXT NOT NULL, start INTEGER NOT NULL, end_ INTEGER NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX chunks_doc ON chunks(doc_id);
"""


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int  # character offsets into the source document's text
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def indexed_text(self) -> str:
        """What the dense and BM25 indexes see: the title carries meaning the passage often omits."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredRow:
    """One row as stored: its position in the segment and the chunk's fields (metadata still JSON text)."""

    row: int
    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    metadata: str


def write_store(path: Path, rows: Iterable[Sequence[Any]]) -> int:
    """Write a new store file from (row, chunk_id, doc_id, title, text, start, end, metadata_json) tuples; returns the
    number of rows. The file must not exist: a store is never modified after it is written."""
    if path.exists():
        raise FileExistsError(f"{path}: a chunk store is written once")
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=OFF")  # a half-written store is never named by a manifest, so no journal
        db.execute("PRAGMA synchronous=OFF")  # the commit fsyncs the file before the manifest names it
        db.executescript(_SCHEMA)
        cursor = db.executemany(f"INSERT INTO chunks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        count = cursor.rowcount
        db.commit()
    finally:
        db.close()
    return count


class ChunkStore:
    """A read-only view of one store file; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no chunk store")
        self.path = path
        # immutable=1: the file never changes while a manifest names it, so SQLite takes no locks and keeps no journal
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM chunks")[0][0])

    def rows(self, positions: Sequence[int]) -> dict[int, StoredRow]:
        """The stored rows at these positions (absent positions are left out)."""
        out: dict[int, StoredRow] = {}
        unique = sorted(set(int(p) for p in positions))
        for at in range(0, len(unique), _BATCH):
            part = unique[at : at + _BATCH]
            marks = ",".join("?" * len(part))
            for record in self._query(f"SELECT {_COLUMNS} FROM chunks WHERE row IN ({marks})", part):
                out[record[0]] = StoredRow(*record)
        return out

    def scan(self, batch: int = 1000) -> Iterator[StoredRow]:
        """Every row in position order, fetched `batch` at a time (never the whole table at once)."""
        last = -1
        while True:
            records = self._query(f"SELECT {_COLUMNS} FROM chunks WHERE row > ? ORDER BY row LIMIT ?", (last, batch))
            if not records:
                return
            yield from (StoredRow(*r) for r in records)
            last = records[-1][0]

    def positions_of(self, doc_ids: Sequence[str]) -> list[tuple[int, str]]:
        """(position, doc_id) of every row of these documents, through the doc_id index."""
        out: list[tuple[int, str]] = []
        unique = sorted(set(doc_ids))
        for at in range(0, len(unique), _BATCH):
            part = unique[at : at + _BATCH]
            marks = ",".join("?" * len(part))
            out += self._query(f"SELECT row, doc_id FROM chunks WHERE doc_id IN ({marks}) ORDER BY row", part)
        return out

    def content_hashes(self, doc_ids: Sequence[str]) -> list[tuple[int, str, str | None]]:
        """(position, doc_id, metadata.content_sha1) of every row of these documents."""
        out: list[tuple[int, str, str | None]] = []
        unique = sorted(set(doc_ids))
        for at in range(0, len(unique), _BATCH):
            part = unique[at : at + _BATCH]
            marks = ",".join("?" * len(part))
            out += self._query("SELECT row, doc_id, json_extract(metadata, '$.content_sha1') FROM chunks "
                               f"WHERE doc_id IN ({marks}) ORDER BY row", part)
        return out

    def documents(self, batch: int = 5000) -> Iterator[tuple[int, str, str]]:
        """(position, doc_id, title) of every row in position order, without the text."""
        last = -1
        while True:
            records = self._query("SELECT row, doc_id, title FROM chunks WHERE row > ? ORDER BY row LIMIT ?",
                                  (last, batch))
            if not records:
                return
            yield from records
            last = records[-1][0]
