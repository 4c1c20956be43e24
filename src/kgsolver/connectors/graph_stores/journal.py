"""A redo journal for a graph store that lives outside the knowledge base folder (Neo4j, ArcadeDB), and the delta
format of the embedded store's graph file.

Ingest does not write such a store directly: its writes are recorded here, the journal is saved as a knowledge-base
component (so it is committed by the same manifest rename as the chunks and indexes), and it is replayed into the
store only after that commit. A process killed before the commit leaves the store untouched; one killed while
replaying leaves a journal that the next writer (or the next reader that finds the write lock free) replays again.
Replaying is idempotent: removals name chunk ids that the same journal's upserts never use, upserts MERGE by id with
union/max/non-empty-wins updates, and a prefix replayed twice ends where one full replay ends.

The networkx store's graph component grows by the same journals: its base file plus one journal per commit (a
delta), replayed in order when the graph is read. Its writer applies each operation as it records it (`apply=True`),
so later reads of that ingest see its removals, as they always did; a compaction saves the result as a new base.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kgsolver.connectors.graph_stores import Entity, FileStore, GraphBatch, GraphStore, Mention, Relation, Subgraph


def _batch_record(batch: GraphBatch) -> dict[str, Any]:
    return {"op": "upsert", "entities": [e.to_record() for e in batch.entities],
            "relations": [r.to_record() for r in batch.relations],
            "mentions": [[m.chunk_id, m.entity_id, m.text] for m in batch.mentions]}


def _batch(record: dict[str, Any]) -> GraphBatch:
    return GraphBatch([Entity(**e) for e in record["entities"]], [Relation(**r) for r in record["relations"]],
                      [Mention(*m) for m in record["mentions"]])


class GraphJournal:
    def __init__(self, ops: list[dict[str, Any]] | None = None) -> None:
        self.ops = ops or []

    def save(self, path: Path) -> None:
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as handle:
            for op in self.ops:
                handle.write(json.dumps(op, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> GraphJournal:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls([json.loads(line) for line in handle])

    def replay(self, store: GraphStore) -> int:
        """Apply every operation, in order; returns the relations the removals deleted."""
        deleted = 0
        for op in self.ops:
            if op["op"] == "remove":
                deleted += store.remove_chunks(op["chunks"])
            else:
                store.upsert(_batch(op))
        return deleted


class JournaledStore:
    """The store as ingest sees it: writes go to the journal; reads go to the committed graph, or, for a file store
    (`applied_to`: an in-memory store whose journal is a delta of its file), to the store the writes are applied to
    as well."""

    def __init__(self, store: GraphStore, journal: GraphJournal | None = None) -> None:
        self.store = store
        self.journal = journal or GraphJournal()
        self.file: FileStore | None = None  # set by `applied_to`

    @classmethod
    def applied_to(cls, store: FileStore, journal: GraphJournal | None = None) -> JournaledStore:
        journaled = cls(store, journal)
        journaled.file = store
        return journaled

    @property
    def apply(self) -> bool:
        """Whether the writes are applied to the store too (a file store)."""
        return self.file is not None

    def upsert(self, batch: GraphBatch) -> None:
        self.journal.ops.append(_batch_record(batch))
        if self.apply:
            self.store.upsert(batch)

    def remove_chunks(self, chunk_ids: Iterable[int]) -> int:
        """Recorded; not applied unless `apply`, so that the count of deleted relations of a server store is known only
        after the commit's replay (0 here)."""
        chunks = sorted(int(c) for c in chunk_ids)
        self.journal.ops.append({"op": "remove", "chunks": chunks})
        return self.store.remove_chunks(chunks) if self.apply else 0

    def get_entity(self, entity_id: str) -> Entity | None:
        return self.store.get_entity(entity_id)

    def iter_entities(self) -> Iterator[Entity]:
        return self.store.iter_entities()

    def entities_in_chunks(self, chunk_ids: Iterable[int]) -> dict[int, list[str]]:
        return self.store.entities_in_chunks(chunk_ids)

    def chunks_of(self, entity_id: str) -> list[int]:
        return self.store.chunks_of(entity_id)

    def neighbors(self, seeds: list[str], **options: Any) -> Subgraph:
        return self.store.neighbors(seeds, **options)

    def shortest_path(self, source: str, target: str, *, max_hops: int = 4) -> Subgraph | None:
        return self.store.shortest_path(source, target, max_hops=max_hops)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def close(self) -> None:
        self.store.close()
