"""The embedded store: a networkx MultiDiGraph (one edge per subject, predicate, object) plus mention tables.

Persisted as gzipped JSON lines (no pickle: a knowledge base folder never executes code when read), written by the
knowledge base into a fresh generation file so that the graph is atomic with the indexes.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx

from kgsolver.connectors.graph_stores import Entity, GraphBatch, Relation, Subgraph, edge_order, walk_neighbourhood


def _merge_entity(old: Entity | None, new: Entity) -> Entity:
    if old is None:
        return Entity(**dict(new.to_record(), name=new.name or new.id, type=new.type or "Thing"))
    aliases = list(dict.fromkeys([*old.aliases, *new.aliases, *([old.name] if old.name != new.name else [])]))
    return Entity(new.id, new.name or old.name, new.type or old.type, [a for a in aliases if a != new.name],
                  new.description or old.description, old.source if old.source != "text" else new.source)


class NetworkXStore:
    def __init__(self) -> None:
        self.g = nx.MultiDiGraph()
        self.mentions: dict[int, set[str]] = {}
        self.entity_chunks: dict[str, set[int]] = {}
        self.rel_by_chunk: dict[int, set[tuple[str, str, str]]] = {}

    # ---- writing ----
    def upsert(self, batch: GraphBatch) -> None:
        for entity in batch.entities:
            old = self.g.nodes[entity.id]["entity"] if entity.id in self.g else None
            self.g.add_node(entity.id, entity=_merge_entity(old, entity))
        for rel in batch.relations:
            self._upsert_relation(rel)
        for m in batch.mentions:
            self.mentions.setdefault(m.chunk_id, set()).add(m.entity_id)
            self.entity_chunks.setdefault(m.entity_id, set()).add(m.chunk_id)

    def _upsert_relation(self, rel: Relation) -> None:
        for end in (rel.subject, rel.object):
            if end not in self.g:
                self.g.add_node(end, entity=Entity(end, end, source=rel.source))
        data = self.g.get_edge_data(rel.subject, rel.object, rel.predicate)
        if data is None:
            stored = Relation(**rel.to_record())
            self.g.add_edge(rel.subject, rel.object, key=rel.predicate, rel=stored)
        else:
            stored = data["rel"]
            stored.confidence = max(stored.confidence, rel.confidence)
            stored.chunks = sorted(set(stored.chunks) | set(rel.chunks))
            stored.attrs = stored.attrs or rel.attrs
        for cid in rel.chunks:
            self.rel_by_chunk.setdefault(cid, set()).add(rel.key)

    def remove_chunks(self, chunk_ids: Iterable[int]) -> int:
        ids, deleted, touched = set(chunk_ids), 0, set()
        for cid in ids:
            for eid in self.mentions.pop(cid, ()):
                self.entity_chunks.get(eid, set()).discard(cid)
                touched.add(eid)
            for s, p, o in self.rel_by_chunk.pop(cid, ()):
                data = self.g.get_edge_data(s, o, p)
                if data is None:
                    continue
                rel = data["rel"]
                rel.chunks = [c for c in rel.chunks if c not in ids]
                touched.update((s, o))
                if not rel.chunks and rel.source == "text":
                    self.g.remove_edge(s, o, p)
                    deleted += 1
        for eid in touched:
            if eid in self.g and self.g.nodes[eid]["entity"].source == "text" and not self.entity_chunks.get(eid) \
                    and self.g.degree(eid) == 0:
                self.g.remove_node(eid)
                self.entity_chunks.pop(eid, None)
        return deleted

    # ---- reading ----
    def get_entity(self, entity_id: str) -> Entity | None:
        return self.g.nodes[entity_id]["entity"] if entity_id in self.g else None

    def iter_entities(self) -> Iterator[Entity]:
        for _, data in self.g.nodes(data=True):
            yield data["entity"]

    def iter_relations(self) -> Iterator[Relation]:
        for _, _, data in self.g.edges(data=True):
            yield data["rel"]

    def entities_in_chunks(self, chunk_ids: Iterable[int]) -> dict[int, list[str]]:
        return {cid: sorted(self.mentions[cid]) for cid in chunk_ids if self.mentions.get(cid)}

    def chunks_of(self, entity_id: str) -> list[int]:
        return sorted(self.entity_chunks.get(entity_id, ()))

    def _edges_of(self, node: str, predicates: set[str] | None) -> list[tuple[Relation, str]]:
        edges = [(d["rel"], o) for _, o, d in self.g.out_edges(node, data=True)]
        edges += [(d["rel"], s) for s, _, d in self.g.in_edges(node, data=True)]
        if predicates is not None:
            edges = [(r, other) for r, other in edges if r.predicate in predicates]
        return sorted(edges, key=edge_order)

    def neighbors(self, seeds: list[str], *, hops: int = 1, predicates: list[str] | None = None,
                  degree_cap: int = 50) -> Subgraph:
        wanted = set(predicates) if predicates else None
        start = [s for s in dict.fromkeys(seeds) if s in self.g]
        relations, visited = walk_neighbourhood(
            start, hops=hops, degree_cap=degree_cap, degrees=lambda ids: {n: self.g.degree(n) for n in ids},
            edges=lambda ids: {n: self._edges_of(n, wanted) for n in ids})
        return Subgraph(entities={n: self.g.nodes[n]["entity"] for n in visited}, relations=relations)

    def shortest_path(self, source: str, target: str, *, max_hops: int = 4) -> Subgraph | None:
        if source not in self.g or target not in self.g:
            return None
        try:
            nodes = nx.shortest_path(self.g.to_undirected(as_view=True), source, target)
        except nx.NetworkXNoPath:
            return None
        if len(nodes) - 1 > max_hops:
            return None
        sub = Subgraph(entities={n: self.g.nodes[n]["entity"] for n in nodes})
        for a, b in zip(nodes, nodes[1:], strict=False):
            candidates = [(d["rel"]) for d in (self.g.get_edge_data(a, b) or {}).values()]
            candidates += [(d["rel"]) for d in (self.g.get_edge_data(b, a) or {}).values()]
            sub.relations.append(sorted(candidates, key=lambda r: (-r.confidence, r.predicate))[0])
        return sub

    def stats(self) -> dict[str, Any]:
        predicates = Counter(p for _, _, p in self.g.edges(keys=True))
        sources = Counter(d["entity"].source for _, d in self.g.nodes(data=True))
        return {"entities": self.g.number_of_nodes(), "relations": self.g.number_of_edges(),
                "mentions": sum(len(v) for v in self.mentions.values()), "chunks": len(self.mentions),
                "predicates": dict(predicates.most_common(20)), "entity_sources": dict(sources)}

    def to_networkx(self) -> nx.MultiDiGraph:
        return self.g

    def close(self) -> None:
        pass

    # ---- persistence ----
    def save(self, path: Path) -> None:
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as handle:
            for entity in self.iter_entities():
                handle.write(json.dumps({"k": "e", **entity.to_record()}, ensure_ascii=False) + "\n")
            for rel in self.iter_relations():
                handle.write(json.dumps({"k": "r", **rel.to_record()}, ensure_ascii=False) + "\n")
            for cid, eids in self.mentions.items():
                mention = {"k": "m", "chunk_id": cid, "entities": sorted(eids)}
                handle.write(json.dumps(mention, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> NetworkXStore:
        store = cls()
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                kind = record.pop("k")
                if kind == "e":
                    store.g.add_node(record["id"], entity=Entity(**record))
                elif kind == "r":
                    store._upsert_relation(Relation(**record))
                else:
                    for eid in record["entities"]:
                        store.mentions.setdefault(record["chunk_id"], set()).add(eid)
                        store.entity_chunks.setdefault(eid, set()).add(record["chunk_id"])
        return store
