"""One contract suite for every graph store: networkx, and a real Bolt server (ArcadeDB started here, or a real
Neo4j when NEO4J_URI is set)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from neo4j import GraphDatabase

from kgsolver.connectors.graph_stores import Entity, GraphBatch, Mention, Relation
from kgsolver.connectors.graph_stores.neo4j_store import GraphStoreError, Neo4jStore, checked_identifier
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore

NASTY = [
    'Robert "Bobby" O\'Neil', "back`tick`) RETURN 1 //", "{braces: 'x'} $param", "MATCH (n) DETACH DELETE n",
    "line one\nline two\r\n", "Zürich – 東京 🚀 ﬁ", "'); DROP TABLE x; --", "\\u0027 \\ backslash",
]


@pytest.fixture(scope="session")
def bolt_driver(bolt_server):
    driver = GraphDatabase.driver(bolt_server["uri"], auth=(bolt_server["user"], bolt_server["password"]))
    yield driver
    driver.close()


@pytest.fixture(params=["networkx", "bolt"])
def store(request):
    if request.param == "networkx":
        yield NetworkXStore()
        return
    server = request.getfixturevalue("bolt_server")
    tag = uuid.uuid4().hex[:8]
    s = Neo4jStore(request.getfixturevalue("bolt_driver"), database=server["database"], label=f"E_{tag}",
                   rel_type=f"R_{tag}", chunk_label=f"C_{tag}")
    yield s
    s.clear()


def _batch() -> GraphBatch:
    ents = [Entity("a", "Alpha", "Person", ["Al"], "first"), Entity("b", "Beta", "Org"), Entity("c", "Gamma"),
            Entity("d", "Delta"), Entity("hub", "Hub")]
    rels = [Relation("a", "works_for", "b", 0.9, [1]), Relation("b", "located_in", "c", 0.8, [2]),
            Relation("c", "near", "d", 0.7, [2, 3])]
    rels += [Relation(f"x{i}", "part_of", "hub", 1.0, [], "kg:test") for i in range(5)]
    rels.append(Relation("d", "part_of", "hub", 1.0, [], "kg:test"))
    return GraphBatch(ents, rels, [Mention(1, "a"), Mention(1, "b"), Mention(2, "c"), Mention(3, "d")])


def test_upsert_and_read_back(store):
    store.upsert(_batch())
    a = store.get_entity("a")
    assert (a.name, a.type, a.aliases, a.description) == ("Alpha", "Person", ["Al"], "first")
    assert store.get_entity("nope") is None
    stats = store.stats()
    assert stats["entities"] == 10 and stats["relations"] == 9 and stats["mentions"] == 4
    assert store.entities_in_chunks([1, 2, 99]) == {1: ["a", "b"], 2: ["c"]}
    assert store.chunks_of("d") == [3]


def test_upsert_merges_provenance_and_confidence(store):
    store.upsert(_batch())
    store.upsert(GraphBatch(relations=[Relation("a", "works_for", "b", 0.5, [7]),
                                       Relation("a", "likes", "b", 0.4, [7])]))
    rels = {(r.predicate): r for r in store.neighbors(["a"]).relations}
    assert rels["works_for"].chunks == [1, 7] and rels["works_for"].confidence == pytest.approx(0.9)
    assert rels["likes"].confidence == pytest.approx(0.4)


def test_k_hop_filters_and_degree_cap(store):
    store.upsert(_batch())
    one = store.neighbors(["a"], hops=1)
    assert set(one.entities) == {"a", "b"}
    three = store.neighbors(["a"], hops=3)
    assert set(three.entities) == {"a", "b", "c", "d"}
    # d reaches the hub at hop 3; the hub has 6 edges > cap 3 so it is not expanded
    capped = store.neighbors(["a"], hops=5, degree_cap=3)
    assert "hub" in capped.entities and "x0" not in capped.entities
    open_ = store.neighbors(["a"], hops=5, degree_cap=50)
    assert {"x0", "x4"} <= set(open_.entities)
    filtered = store.neighbors(["b"], hops=2, predicates=["located_in"])
    assert set(filtered.entities) == {"b", "c"} and {r.predicate for r in filtered.relations} == {"located_in"}


def test_shortest_path(store):
    store.upsert(_batch())
    path = store.shortest_path("a", "d", max_hops=4)
    assert [r.predicate for r in path.relations] == ["works_for", "located_in", "near"]
    assert set(path.entities) == {"a", "b", "c", "d"}
    assert store.shortest_path("a", "d", max_hops=2) is None
    assert store.shortest_path("a", "missing") is None


def test_remove_chunks_replaces_text_provenance_only(store):
    store.upsert(_batch())
    deleted = store.remove_chunks([2])
    assert deleted == 1  # located_in lost its only chunk; near keeps chunk 3
    assert store.entities_in_chunks([2]) == {}
    near = [r for r in store.neighbors(["d"]).relations if r.predicate == "near"][0]
    assert near.chunks == [3]
    assert store.remove_chunks([1]) == 1
    assert store.get_entity("a") is None  # a text entity with no mention and no edge is gone
    assert store.get_entity("x0") is not None  # imported facts never depend on chunks


@pytest.mark.parametrize("text", NASTY)
def test_hostile_names_stored_verbatim_and_never_executed(store, text):
    store.upsert(_batch())
    ent = Entity(text, text, "Thing", [text, text + "?"], text)
    store.upsert(GraphBatch([ent], [Relation(text, text, "a", 0.5, [42])], [Mention(42, text)]))
    back = store.get_entity(text)
    assert (back.id, back.name, back.description) == (text, text, text) and back.aliases == [text, text + "?"]
    rel = [r for r in store.neighbors([text]).relations][0]
    assert (rel.subject, rel.predicate, rel.object) == (text, text, "a")
    assert store.stats()["entities"] == 11  # nothing was deleted by the payloads
    assert store.entities_in_chunks([42]) == {42: [text]}


def test_labels_are_whitelisted():
    for bad in ["Entity`) DETACH DELETE n //", "E n", "1abc", "", "Ent-ity"]:
        with pytest.raises(GraphStoreError):
            checked_identifier(bad)
    assert checked_identifier("Entity_2") == "Entity_2"


def test_networkx_persistence_round_trip(tmp_path):
    store = NetworkXStore()
    store.upsert(_batch())
    store.upsert(GraphBatch([Entity(NASTY[3], NASTY[4])]))
    store.save(tmp_path / "g.jsonl.gz")
    back = NetworkXStore.load(tmp_path / "g.jsonl.gz")
    assert back.stats() == store.stats()
    assert back.get_entity(NASTY[3]).name == NASTY[4]
    assert back.neighbors(["a"], hops=3).relations == store.neighbors(["a"], hops=3).relations


def test_knowledge_bases_sharing_one_bolt_database_never_see_each_others_graph(bolt_server, tmp_path, monkeypatch,
                                                                                embedder, config):
    from kgsolver.pipeline.kb.graph_read import open_kb_graph
    from kgsolver.pipeline.kb.ingest import ingest
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    monkeypatch.setenv("NEO4J_URI", bolt_server["uri"])
    monkeypatch.setenv("NEO4J_USER", bolt_server["user"])
    monkeypatch.setenv("NEO4J_PASSWORD", bolt_server["password"])
    if bolt_server["database"]:
        monkeypatch.setenv("NEO4J_DATABASE", bolt_server["database"])
    settings = config.model_copy(deep=True)
    settings.graph.store = "neo4j"
    texts = {"alpha": "Marie Curie worked in Paris with Pierre Curie.",
             "beta": "Alan Turing worked at Bletchley Park with Joan Clarke."}
    stores = {}
    for name, text in texts.items():
        corpus = tmp_path / f"{name}.jsonl"
        corpus.write_text(f'{{"id": "{name}-1", "title": "{name}", "text": "{text}"}}\n')
        ingest(corpus, tmp_path / name, settings, embedder=embedder, show_progress=False)
        stores[name] = open_kb_graph(KnowledgeBase.open(tmp_path / name), settings.graph)
    names = {k: {e.name for e in s.iter_entities()} for k, s in stores.items()}
    try:
        assert "Marie Curie" in names["alpha"] and "Alan Turing" in names["beta"]
        assert not names["alpha"] & {"Alan Turing", "Joan Clarke"}
        assert not names["beta"] & {"Marie Curie", "Pierre Curie"}
    finally:
        for s in stores.values():
            s.clear()


def _bolt_env(monkeypatch, bolt_server) -> None:
    monkeypatch.setenv("NEO4J_URI", bolt_server["uri"])
    monkeypatch.setenv("NEO4J_USER", bolt_server["user"])
    monkeypatch.setenv("NEO4J_PASSWORD", bolt_server["password"])
    if bolt_server["database"]:
        monkeypatch.setenv("NEO4J_DATABASE", bolt_server["database"])


def _doc(path, doc_id: str, text: str):
    path.write_text(json.dumps({"id": doc_id, "title": doc_id, "text": text}) + "\n")
    return path


def _kill_at_commit(corpus, root, marker) -> None:
    """Run `kgsolver ingest` in a child that stops at the test seam (graph step done, manifest not swapped); kill -9."""
    from kgsolver.pipeline.kb import HOLD_BEFORE_COMMIT_ENV

    env = {**os.environ, HOLD_BEFORE_COMMIT_ENV: str(marker), "KGSOLVER_GRAPH__STORE": "neo4j"}
    proc = subprocess.Popen([sys.executable, "-m", "kgsolver.pipeline", "ingest", str(corpus), "--kb", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the ingest never reached its commit"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_between_graph_step_and_commit_leaves_no_graph_data_in_the_server(bolt_server, tmp_path, monkeypatch,
                                                                               embedder, config):
    """Issue 19.6: Neo4j/ArcadeDB writes are part of the knowledge base's commit (a journal replayed after it)."""
    from kgsolver.pipeline.kb.graph_read import open_kb_graph
    from kgsolver.pipeline.kb.ingest import ingest
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    _bolt_env(monkeypatch, bolt_server)
    settings = config.model_copy(deep=True)
    settings.graph.store = "neo4j"
    root = tmp_path / "kb"
    ingest(_doc(tmp_path / "a.jsonl", "alpha", "Marie Curie worked in Paris with Pierre Curie."), root, settings,
           embedder=embedder, show_progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    _kill_at_commit(_doc(tmp_path / "b.jsonl", "beta", "Alan Turing worked at Bletchley Park with Joan Clarke."),
                    root, tmp_path / "held")
    kb = KnowledgeBase.open(root)
    store = open_kb_graph(kb, settings.graph)
    try:
        assert kb.manifest == manifest  # the previous generation
        names = {e.name for e in store.iter_entities()}
        assert "Marie Curie" in names and not names & {"Alan Turing", "Joan Clarke"}
        unborn = range(kb.manifest["next_chunk_id"], kb.manifest["next_chunk_id"] + 100)
        assert store.entities_in_chunks(unborn) == {}  # no graph data for chunks that do not exist
        report = ingest(_doc(tmp_path / "c.jsonl", "gamma", "Ada Lovelace worked in London with Charles Babbage."),
                        root, settings, embedder=embedder, show_progress=False)
        kb = KnowledgeBase.open(root)
        names = {e.name for e in store.iter_entities()}
        assert kb.document_ids == {"alpha", "gamma"} and report.graph.entities == len(names)
        assert "Ada Lovelace" in names and not names & {"Alan Turing", "Joan Clarke"}
        assert set(store.entities_in_chunks(kb.chunk_ids_of({"gamma"}).tolist())) == set(kb.chunk_ids_of({"gamma"}))
    finally:
        store.clear()


def test_a_committed_journal_not_yet_replayed_is_replayed_on_open_and_replay_is_idempotent(bolt_server, tmp_path,
                                                                                             monkeypatch, embedder,
                                                                                             config):
    """The other side of 19.6: killed after the manifest swap but before the server caught up, the next open
    replays the committed journal; replaying it again changes nothing."""
    from kgsolver.connectors.graph_stores.journal import GraphJournal
    from kgsolver.pipeline.kb.graph_read import JOURNAL_COMPONENT, open_kb_graph
    from kgsolver.pipeline.kb.ingest import ingest
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    _bolt_env(monkeypatch, bolt_server)
    settings = config.model_copy(deep=True)
    settings.graph.store = "neo4j"
    root = tmp_path / "kb"
    ingest(_doc(tmp_path / "a.jsonl", "alpha", "Marie Curie worked in Paris with Pierre Curie."), root, settings,
           embedder=embedder, show_progress=False)
    kb = KnowledgeBase.open(root)
    store = open_kb_graph(kb, settings.graph)
    try:
        committed = store.stats()
        assert committed["entities"] and store.applied_journal() == (kb.manifest["generation"],
                                                                     kb.component_path(JOURNAL_COMPONENT).name)
        store.clear()  # the state a kill right after the manifest swap leaves: nothing of the journal applied
        store = open_kb_graph(KnowledgeBase.open(root), settings.graph)
        assert store.stats() == committed
        GraphJournal.load(kb.component_path(JOURNAL_COMPONENT)).replay(store)
        assert store.stats() == committed
    finally:
        store.clear()
