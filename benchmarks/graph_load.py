"""Load the HPO triples into networkx and into a Bolt server (ArcadeDB started here, or NEO4J_URI), beside a raw
driver UNWIND baseline of the same rows; then 1-hop/2-hop latency p50 over 100 linked entities and the spaCy
extractor's passages/s on the KILT mini corpus against spaCy's parse alone.
Usage: .venv/bin/python benchmarks/graph_load.py [--limit N] [--passages N] [--extractor-only]"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

from neo4j import GraphDatabase

from kgsolver.connectors.graph_stores import GraphBatch
from kgsolver.connectors.graph_stores.arcadedb_server import ArcadeDBServer
from kgsolver.connectors.graph_stores.neo4j_store import BATCH, Neo4jStore
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore
from kgsolver.evals.datasets import datasets_dir
from kgsolver.graphs.extract_spacy import SpacyExtractor, load_spacy
from kgsolver.graphs.import_triples import import_kg, iter_terms, iter_triples
from kgsolver.graphs.linking import EntityLinker


def raw_baseline(driver, database, path, limit) -> float:
    tag = uuid.uuid4().hex[:6]
    driver.execute_query(f"CREATE CONSTRAINT raw_{tag} IF NOT EXISTS FOR (n:Raw_{tag}) REQUIRE n.id IS UNIQUE",
                         database_=database)
    started, n = time.perf_counter(), 0
    with driver.session(database=database) as session:
        for batch in iter_triples(path, limit=limit):
            names = {e.id: e.name for e in batch.entities}
            rows = [{"s": r.subject, "sn": names.get(r.subject), "p": r.predicate, "o": r.object,
                     "on": names.get(r.object), "at": r.attrs} for r in batch.relations]
            for i in range(0, len(rows), BATCH):
                session.execute_write(lambda tx, part: tx.run(
                    f"UNWIND $rows AS r MERGE (a:Raw_{tag} {{id: r.s}}) SET a.name = coalesce(r.sn, a.name) "
                    f"MERGE (b:Raw_{tag} {{id: r.o}}) SET b.name = coalesce(r.on, b.name) "
                    f"MERGE (a)-[x:RAWREL {{predicate: r.p}}]->(b) SET x.attrs = r.at", rows=part).consume(),
                                      rows[i:i + BATCH])
            n += len(rows)
    return n / (time.perf_counter() - started)


def p50(fn, ids) -> float:
    times = []
    for eid in ids:
        t = time.perf_counter()
        fn(eid)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="HPO triples to load")
    parser.add_argument("--passages", type=int, default=None, help="KILT passages for the extractor")
    parser.add_argument("--extractor-only", action="store_true", help="only the spaCy extractor's passages/s")
    args = parser.parse_args()
    if args.extractor_only:
        extractor_throughput(args.passages)
        return
    kg = datasets_dir() / "kg"
    triples, terms = kg / "hpo_kg_triples.tsv.gz", kg / "hpo_terms.jsonl.gz"

    nx_store, t = NetworkXStore(), time.perf_counter()
    counts = import_kg(nx_store, triples, terms, limit=args.limit)
    nx_rate = counts["triples"] / (time.perf_counter() - t)
    print(f"networkx: {counts['triples']} triples, {counts['entities']} entities in "
          f"{time.perf_counter() - t:.1f}s = {nx_rate:,.0f} triples/s")

    linker = EntityLinker(nx_store.iter_entities())
    names = [e.name for e in nx_store.iter_entities() if e.id.startswith("HP:")][:100]
    linked = [linker.link(f"patient with {n}", embedding=False, top=1) for n in names]
    ids = [links[0].entity_id for links in linked if links]
    print(f"linked {len(ids)}/100 HPO names; "
          f"networkx 1-hop p50 {p50(lambda e: nx_store.neighbors([e], hops=1), ids):.2f} ms,"
          f" 2-hop p50 {p50(lambda e: nx_store.neighbors([e], hops=2), ids):.2f} ms")

    with ArcadeDBServer(heap="2g") as server:
        driver = GraphDatabase.driver(server.uri, auth=(server.user, server.password))
        raw = raw_baseline(driver, server.database, triples, args.limit)
        print(f"bolt raw UNWIND baseline (ids, names, predicate, attrs): {raw:,.0f} triples/s")
        store, t, n = Neo4jStore(driver, database=server.database), time.perf_counter(), 0
        for batch in iter_triples(triples, limit=args.limit, source="kg:hpo"):
            store.upsert(batch)
            n += len(batch.relations)
        rate = n / (time.perf_counter() - t)
        print(f"bolt store (GraphStore.upsert: names, types, source, confidence, provenance): {rate:,.0f} triples/s "
              f"= {rate / raw:.2f} x raw")
        t = time.perf_counter()
        ids_seen = {e.id for e in nx_store.iter_entities()}
        store.upsert(GraphBatch(entities=list(iter_terms(terms, source="kg:hpo", ids=ids_seen))))
        print(f"bolt store: HPO terms (definitions, synonyms) added in {time.perf_counter() - t:.1f}s")
        print(f"bolt 1-hop p50 {p50(lambda e: store.neighbors([e], hops=1), ids):.1f} ms, "
              f"2-hop p50 {p50(lambda e: store.neighbors([e], hops=2), ids):.1f} ms ({store.capabilities['server']})")
        driver.close()
    extractor_throughput(args.passages)


def extractor_throughput(limit: int | None) -> None:
    """Passages/s of the extractor (parse + entities, SVO, co-occurrence) with 2 worker processes and with 1, against
    the baseline of spaCy's own `nlp.pipe` parse alone in one process, in the same run."""
    rows = [json.loads(line) for line in (datasets_dir() / "kilt/hotpotqa-dev-kilt.mini.corpus.jsonl").open()][:limit]
    items = [(i, r["title"], r["text"]) for i, r in enumerate(rows)]
    nlp = load_spacy()
    t = time.perf_counter()
    for _ in nlp.pipe((text for _, _, text in items), batch_size=64):
        pass
    parse = len(rows) / (time.perf_counter() - t)
    print(f"baseline, spaCy nlp.pipe parse only, 1 process: {parse:.1f} passages/s")
    for procs in (2, 1):
        ex = SpacyExtractor(n_process=procs)
        t = time.perf_counter()
        batch = ex.extract(items)
        rate = len(rows) / (time.perf_counter() - t)
        print(f"spaCy extractor, {procs} process(es): {len(rows)} passages = {rate:.1f} passages/s "
              f"({rate / parse:.2f} x the parse-only baseline); {len(batch.entities)} entity mentions, "
              f"{len(batch.relations)} relations")


if __name__ == "__main__":
    main()
