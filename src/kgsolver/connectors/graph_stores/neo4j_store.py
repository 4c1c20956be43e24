"""Neo4j (or any Bolt server: ArcadeDB) through the official driver.

Every value travels as a query parameter; the only identifiers formatted into query text are the node labels and
relationship type, which must match `_IDENTIFIER`, and integer hop bounds (Cypher cannot parameterize them).
Writes go through managed transactions (`execute_write`) in UNWIND batches; constraints and indexes are created
idempotently. Credentials come from the environment and are never logged.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from neo4j import Driver, GraphDatabase, ManagedTransaction, Record
from neo4j.exceptions import ConstraintError, ServiceUnavailable, SessionExpired, TransientError

from kgsolver.connectors import KGSolverError
from kgsolver.connectors.graph_stores import Entity, GraphBatch, Relation, Subgraph, edge_order, walk_neighbourhood

log = logging.getLogger(__name__)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
BATCH = 5000
_ENTITY_FIELDS = "n.id AS id, n.name AS name, n.type AS type, n.aliases AS aliases, n.description AS description, " \
                 "n.source AS source"
_STATE_LABEL = "KGSolverState"  # one node per store label: the journal generation its graph reflects
_REL_LIST = "[startNode(r).id, r.predicate, endNode(r).id, r.confidence, r.chunks, r.source, r.attrs]"


class GraphStoreError(KGSolverError):
    """The graph store rejected a request or its configuration."""


def checked_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise GraphStoreError(f"not an allowed label or relationship type: {name!r} (letters, digits, _)")
    return name


def _entity(record: Record) -> Entity:
    return Entity(record["id"], record["name"] or "", record["type"] or "Thing", list(record["aliases"] or []),
                  record["description"] or "", record["source"] or "text")


def _relation(row: list[Any]) -> Relation:
    s, p, o, c, chunks, source, attrs = row
    return Relation(s, p, o, float(c if c is not None else 1.0), sorted(chunks or []), source or "text", attrs or "")


class Neo4jStore:
    def __init__(self, driver: Driver, *, database: str | None = None, label: str = "Entity", rel_type: str = "REL",
                 chunk_label: str = "Chunk", retries: int = 5) -> None:
        self.driver, self.database, self.retries = driver, database, retries
        self.label, self.rel = checked_identifier(label), checked_identifier(rel_type)
        self.chunk_label = checked_identifier(chunk_label)
        self.capabilities = self._detect_capabilities()
        self.ensure_schema()

    @classmethod
    def from_env(cls, **kwargs: Any) -> Neo4jStore:
        uri = os.environ.get("NEO4J_URI")
        if not uri:
            raise GraphStoreError("graph.store is neo4j but NEO4J_URI is not set")
        user = os.environ.get("NEO4J_USER") or os.environ.get("NEO4J_USERNAME") or "neo4j"
        driver = GraphDatabase.driver(uri, auth=(user, os.environ.get("NEO4J_PASSWORD", "")))
        return cls(driver, database=os.environ.get("NEO4J_DATABASE") or None, **kwargs)

    def _detect_capabilities(self) -> dict[str, Any]:
        agent = (self.driver.get_server_info().agent or "").lower()
        arcade = "arcade" in agent
        return {"server": agent, "fulltext_ddl": not arcade, "merge_locks": not arcade}

    # ---- plumbing ----
    def _write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return tx.run(query, **params).data()

        for attempt in range(self.retries + 1):
            try:
                with self.driver.session(database=self.database) as session:
                    return session.execute_write(work)
            except (ConstraintError, TransientError, ServiceUnavailable, SessionExpired) as exc:
                # ConstraintError: a concurrent MERGE on a server without MERGE locks (ArcadeDB); a retry MERGEs again
                if attempt == self.retries:
                    raise
                log.info("graph write retry %d after %s", attempt + 1, type(exc).__name__)
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or re-raises")

    def _read(self, query: str, **params: Any) -> list[Record]:
        records, _, _ = self.driver.execute_query(query, params, database_=self.database, routing_="r")
        return records

    def ensure_schema(self) -> None:
        L, C = self.label, self.chunk_label
        self._write(f"CREATE CONSTRAINT {L.lower()}_id IF NOT EXISTS FOR (n:{L}) REQUIRE n.id IS UNIQUE")
        self._write(f"CREATE CONSTRAINT {C.lower()}_cid IF NOT EXISTS FOR (c:{C}) REQUIRE c.cid IS UNIQUE")
        self._write(f"CREATE INDEX {L.lower()}_name IF NOT EXISTS FOR (n:{L}) ON (n.name)")
        if self.capabilities["fulltext_ddl"]:
            self._write(f"CREATE FULLTEXT INDEX {L.lower()}_names IF NOT EXISTS FOR (n:{L}) ON EACH [n.name]")

    # ---- writing ----
    @staticmethod
    def _node_merge(var: str, label: str, row: str) -> str:
        """MERGE one entity from the map `row` (id, name, type, aliases, description, source); '' keeps a field."""
        v, r = var, row
        return (f"MERGE ({v}:{label} {{id: {r}.id}}) "
                f"ON CREATE SET {v}.name = CASE WHEN {r}.name = '' THEN {r}.id ELSE {r}.name END, "
                f"{v}.type = CASE WHEN {r}.type = '' THEN 'Thing' ELSE {r}.type END, "
                f"{v}.description = {r}.description, {v}.aliases = {r}.aliases, {v}.source = {r}.source "
                f"ON MATCH SET {v}.name = CASE WHEN {r}.name = '' THEN {v}.name ELSE {r}.name END, "
                f"{v}.type = CASE WHEN {r}.type = '' THEN {v}.type ELSE {r}.type END, "
                f"{v}.description = CASE WHEN {r}.description = '' THEN {v}.description ELSE {r}.description END, "
                f"{v}.aliases = {v}.aliases + [x IN {r}.aliases WHERE NOT x IN {v}.aliases], "
                f"{v}.source = CASE WHEN {v}.source = 'text' THEN {r}.source ELSE {v}.source END ")

    def upsert(self, batch: GraphBatch) -> None:
        """Entities in one UNWIND (each once per batch), then relations in one UNWIND whose ends are MERGEd by id
        only (an end that is not yet stored gets its id as name)."""
        L, R = self.label, self.rel
        entities = list({e.id: e.to_record() for e in batch.entities}.values())
        for i in range(0, len(entities), BATCH):
            self._write("UNWIND $rows AS row " + self._node_merge("n", L, "row"), rows=entities[i:i + BATCH])
        rows = [{"s": r.subject, "o": r.object, "p": r.predicate, "c": r.confidence, "ch": r.chunks, "src": r.source,
                 "at": r.attrs} for r in batch.relations]
        for i in range(0, len(rows), BATCH):
            self._write(f"UNWIND $rows AS row MERGE (a:{L} {{id: row.s}}) "
                        "ON CREATE SET a.name = row.s, a.type = 'Thing', a.aliases = [], a.description = '', "
                        f"a.source = row.src MERGE (b:{L} {{id: row.o}}) "
                        "ON CREATE SET b.name = row.o, b.type = 'Thing', b.aliases = [], b.description = '', "
                        f"b.source = row.src MERGE (a)-[r:{R} {{predicate: row.p}}]->(b) "
                        "ON CREATE SET r.confidence = row.c, r.chunks = row.ch, r.source = row.src, r.attrs = row.at "
                        "ON MATCH SET r.confidence = CASE WHEN r.confidence < row.c THEN row.c ELSE r.confidence END, "
                        "r.chunks = r.chunks + [c IN row.ch WHERE NOT c IN r.chunks]", rows=rows[i:i + BATCH])
        C = self.chunk_label
        mentions = [{"cid": m.chunk_id, "id": m.entity_id} for m in batch.mentions]
        for i in range(0, len(mentions), BATCH):
            self._write(f"UNWIND $rows AS row MATCH (n:{L} {{id: row.id}}) MERGE (c:{C} {{cid: row.cid}}) "
                        "MERGE (c)-[:MENTIONS]->(n)", rows=mentions[i:i + BATCH])

    def remove_chunks(self, chunk_ids: Iterable[int]) -> int:
        L, R, C = self.label, self.rel, self.chunk_label
        ids = sorted(set(int(c) for c in chunk_ids))
        if not ids:
            return 0
        touched = self._write(f"MATCH (c:{C})-[:MENTIONS]->(n:{L}) WHERE c.cid IN $ids RETURN DISTINCT n.id AS id",
                              ids=ids)
        self._write(f"MATCH (c:{C}) WHERE c.cid IN $ids DETACH DELETE c", ids=ids)
        ends = self._write(f"MATCH (a:{L})-[r:{R}]->(b:{L}) WHERE any(c IN r.chunks WHERE c IN $ids) "
                           "SET r.chunks = [c IN r.chunks WHERE NOT c IN $ids] RETURN a.id AS a, b.id AS b", ids=ids)
        # Scoped to this store's label: the relationship type is shared by every knowledge base in one database.
        deleted = self._write(f"MATCH (:{L})-[r:{R}]->(:{L}) WHERE size(r.chunks) = 0 AND r.source = 'text' "
                              "DELETE r RETURN count(*) AS n")
        candidates = sorted({t["id"] for t in touched} | {e[k] for e in ends for k in ("a", "b")})
        self._write(f"MATCH (n:{L}) WHERE n.id IN $ids AND n.source = 'text' AND NOT (n)--() DETACH DELETE n",
                    ids=candidates)
        return int(deleted[0]["n"]) if deleted else 0

    # ---- reading ----
    def get_entity(self, entity_id: str) -> Entity | None:
        rows = self._read(f"MATCH (n:{self.label} {{id: $id}}) RETURN {_ENTITY_FIELDS}", id=entity_id)
        return _entity(rows[0]) if rows else None

    def iter_entities(self) -> Iterator[Entity]:
        for row in self._read(f"MATCH (n:{self.label}) RETURN {_ENTITY_FIELDS}"):
            yield _entity(row)

    def iter_relations(self) -> Iterator[Relation]:
        for row in self._read(f"MATCH (:{self.label})-[r:{self.rel}]->(:{self.label}) RETURN {_REL_LIST} AS r"):
            yield _relation(row["r"])

    def entities_in_chunks(self, chunk_ids: Iterable[int]) -> dict[int, list[str]]:
        rows = self._read(f"MATCH (c:{self.chunk_label})-[:MENTIONS]->(n:{self.label}) WHERE c.cid IN $ids "
                          "RETURN c.cid AS cid, n.id AS id", ids=[int(c) for c in chunk_ids])
        out: dict[int, list[str]] = {}
        for row in rows:
            out.setdefault(row["cid"], []).append(row["id"])
        return {k: sorted(v) for k, v in out.items()}

    def chunks_of(self, entity_id: str) -> list[int]:
        rows = self._read(f"MATCH (c:{self.chunk_label})-[:MENTIONS]->(n:{self.label} {{id: $id}}) "
                          "RETURN c.cid AS cid", id=entity_id)
        return sorted(r["cid"] for r in rows)

    def _degrees(self, ids: list[str]) -> dict[str, int]:
        rows = self._read(f"MATCH (n:{self.label}) WHERE n.id IN $ids OPTIONAL MATCH (n)-[r:{self.rel}]-() "
                          "RETURN n.id AS id, count(r) AS d", ids=ids)
        return {r["id"]: r["d"] for r in rows}

    def _edges(self, ids: list[str], predicates: list[str] | None) -> dict[str, list[tuple[Relation, str]]]:
        rows = self._read(f"MATCH (n:{self.label})-[r:{self.rel}]-(m:{self.label}) WHERE n.id IN $ids "
                          "AND ($preds IS NULL OR r.predicate IN $preds) "
                          f"RETURN n.id AS id, m.id AS other, {_REL_LIST} AS r", ids=ids, preds=predicates)
        out: dict[str, list[tuple[Relation, str]]] = {}
        for row in rows:
            out.setdefault(row["id"], []).append((_relation(row["r"]), row["other"]))
        return {node: sorted(found, key=edge_order) for node, found in out.items()}

    def _entities(self, ids: list[str]) -> dict[str, Entity]:
        rows = self._read(f"MATCH (n:{self.label}) WHERE n.id IN $ids RETURN {_ENTITY_FIELDS}", ids=ids)
        return {r["id"]: _entity(r) for r in rows}

    def neighbors(self, seeds: list[str], *, hops: int = 1, predicates: list[str] | None = None,
                  degree_cap: int = 50) -> Subgraph:
        start = list(self._entities(list(dict.fromkeys(seeds))))
        relations, visited = walk_neighbourhood(start, hops=hops, degree_cap=degree_cap, degrees=self._degrees,
                                                edges=lambda ids: self._edges(ids, predicates))
        return Subgraph(entities=self._entities(sorted(visited)), relations=relations)

    def shortest_path(self, source: str, target: str, *, max_hops: int = 4) -> Subgraph | None:
        hops = int(max_hops)
        if not 1 <= hops <= 10:
            raise GraphStoreError("max_hops must be between 1 and 10")
        L, R = self.label, self.rel
        if source == target:
            found = self._entities([source])
            return Subgraph(entities=found) if found else None
        rows = self._read(f"MATCH (a:{L} {{id: $a}}), (b:{L} {{id: $b}}) "
                          f"MATCH p = shortestPath((a)-[:{R}*..{hops}]-(b)) "
                          f"RETURN [x IN nodes(p) | x.id] AS ids, [r IN relationships(p) | {_REL_LIST}] AS rels",
                          a=source, b=target)
        if not rows:
            return None
        return Subgraph(entities=self._entities(rows[0]["ids"]), relations=[_relation(r) for r in rows[0]["rels"]])

    def stats(self) -> dict[str, Any]:
        L, R, C = self.label, self.rel, self.chunk_label
        n = self._read(f"MATCH (n:{L}) RETURN count(n) AS n")[0]["n"]
        r = self._read(f"MATCH (:{L})-[r:{R}]->(:{L}) RETURN count(r) AS n")[0]["n"]
        m = self._read(f"MATCH (:{C})-[x:MENTIONS]->(:{L}) RETURN count(x) AS n")[0]["n"]
        preds = self._read(f"MATCH (:{L})-[r:{R}]->(:{L}) "
                           "RETURN r.predicate AS p, count(r) AS n ORDER BY n DESC LIMIT 20")
        return {"entities": n, "relations": r, "mentions": m, "predicates": {x["p"]: x["n"] for x in preds}}

    # ---- which committed journal (connectors/graph_stores/journal.py) this store reflects ----
    def applied_journal(self) -> tuple[int, str] | None:
        """(knowledge-base generation, journal file name) of the last journal replayed in full, or None."""
        rows = self._read(f"MATCH (m:{_STATE_LABEL}) WHERE m.label = $label RETURN m.generation AS g, m.journal AS j",
                          label=self.label)
        return (int(rows[0]["g"]), rows[0]["j"]) if rows else None

    def mark_applied(self, generation: int, journal: str) -> None:
        self._write(f"MERGE (m:{_STATE_LABEL} {{label: $label}}) SET m.generation = $g, m.journal = $j",
                    label=self.label, g=int(generation), j=journal)

    def clear(self) -> None:
        """Delete this store's labels (tests and benchmarks use their own labels in a shared database)."""
        for label in (self.chunk_label, self.label):
            while self._write(f"MATCH (n:{label}) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n")[0]["n"]:
                pass
        self._write(f"MATCH (m:{_STATE_LABEL}) WHERE m.label = $label DELETE m", label=self.label)

    def close(self) -> None:
        self.driver.close()
