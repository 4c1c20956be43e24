"""Extraction, KG import, resolution, linking, algorithms and the ingest/CLI wiring, on real models and real data."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from typer.testing import CliRunner

from kgsolver.connectors import CorpusFormatError
from kgsolver.connectors.graph_stores import Entity, normalize_name
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore
from kgsolver.graphs.extract_spacy import SpacyExtractor, load_spacy
from kgsolver.graphs.import_triples import GraphImportError, import_kg
from kgsolver.graphs.linking import EntityLinker
from kgsolver.graphs.resolution import EntityResolver
from kgsolver.graphs.verbalize import verbalize, verbalize_path
from kgsolver.graphs.view import personalized_pagerank
from kgsolver.pipeline.kb.graph_read import load_graph_file
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.serve.cli import app

HPO_LIMIT = 20000


@pytest.fixture(scope="module")
def nlp():
    return load_spacy()


@pytest.fixture(scope="module")
def hpo(shared_datasets):
    kg = shared_datasets / "kg"
    store = NetworkXStore()
    counts = import_kg(store, kg / "hpo_kg_triples.tsv.gz", kg / "hpo_terms.jsonl.gz", limit=HPO_LIMIT)
    return store, counts


def test_spacy_extractor_on_real_passage(nlp):
    text = ("Neil Peart was the drummer of Rush. Peart joined the band in 1974 and wrote most of its lyrics. "
            "Rush released the album Moving Pictures in 1981.")
    batch = SpacyExtractor(nlp).extract([(7, "Neil Peart", text)])
    ids = {e.id for e in batch.entities}
    assert {"t:neil peart", "t:rush"} <= ids
    assert all(m.chunk_id == 7 for m in batch.mentions) and all(r.chunks == [7] for r in batch.relations)
    svo = {(r.subject, r.predicate, r.object) for r in batch.relations if r.predicate != "co_occurs_with"}
    assert ("t:neil peart", "was", "t:drummer") in svo
    resolved = EntityResolver().resolve(batch)
    assert "t:peart" not in {e.id for e in resolved.entities}  # "Peart" collapsed into "Neil Peart"
    kept = [e for e in resolved.entities if e.id == "t:neil peart"][0]
    assert "Peart" in kept.aliases


def test_hpo_import_with_terms(hpo):
    store, counts = hpo
    assert counts["triples"] == HPO_LIMIT and counts["terms"] > 1000
    seizure = store.get_entity("HP:0001250")
    assert seizure is not None and seizure.name == "Seizure" and "Epileptic seizure" in seizure.aliases
    assert seizure.description.startswith("A seizure is") and seizure.source == "kg:hpo_kg_triples"
    assert store.neighbors(["HP:0001250"], predicates=["is_a"]).relations


def test_malformed_tsv_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("head_id\thead_name\trelation\ttail_id\ttail_name\tattrs\nA\ta\tis_a\tB\tb\t\nC\tc\tis_a\n")
    with pytest.raises(CorpusFormatError, match=r"bad\.tsv:3"):
        import_kg(NetworkXStore(), bad)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("x,y\n1,2\n")
    with pytest.raises(GraphImportError, match=r"nohead\.csv:1"):
        import_kg(NetworkXStore(), nohead)


def test_resolution_merges_hpo_synonyms_and_keeps_unrelated_apart(hpo, embedder):
    store, _ = hpo
    resolver = EntityResolver(embedder)
    resolver.learn(store.iter_entities())
    from kgsolver.connectors.graph_stores import GraphBatch, Mention
    names = ["Epileptic seizure", "seizures", "Type 1 diabetes", "Type 2 diabetes", "Ataxia", "Abnormality of the eye",
             "Paul Simon", "Paul Simonon", "New York", "New York City", "Hearing loss", "hearing impairment"]
    batch = GraphBatch([Entity("t:" + normalize_name(n), n, "CONCEPT") for n in names],
                       mentions=[Mention(1, "t:" + normalize_name(n)) for n in names])
    out = resolver.resolve(batch)
    ids = {e.id for e in out.entities}
    assert "HP:0001250" in ids and "t:epileptic seizure" not in ids and "t:seizures" not in ids
    assert {"t:type 1 diabetes", "t:paul simon", "t:paul simonon", "t:new york", "t:new york city"} <= ids
    assert all(m.rule in {"alias", "embedding", "person-short-name"} and m.drop != m.keep for m in resolver.log)
    merged = {m.drop for m in resolver.log}
    assert not merged & {"t:type 1 diabetes", "t:paul simon", "t:paul simonon", "t:new york"}


def test_linking_precision_on_real_hpo_names(hpo, shared_datasets):
    store, _ = hpo
    linker = EntityLinker(store.iter_entities())
    named = [e for e in store.iter_entities() if e.id.startswith("HP:") and e.aliases][:200]
    correct = total = 0
    for e in named:
        links = linker.link(f"Does the patient show {e.name.lower()} at birth?", embedding=False, top=1)
        total += 1
        correct += bool(links) and links[0].entity_id == linker.names[normalize_name(e.name)]
    assert correct / total >= 0.95
    syn = linker.link("The child had an epileptic seizure last week.", embedding=False)
    assert syn[0].entity_id == "HP:0001250" and syn[0].method == "alias"
    fuzzy = linker.link("history of recurent seizures with ataxia", embedding=False)
    assert "HP:0001251" in {link.entity_id for link in fuzzy}
    assert linker.link("The weather in Paris was lovely yesterday.", embedding=False) == []


def test_ppr_and_paths_and_verbalization(hpo):
    store, _ = hpo
    ranked = personalized_pagerank(store, {"HP:0001250": 1.0, "HP:0001251": 1.0}, hops=1)
    assert ranked[0][0] in {"HP:0001250", "HP:0001251"} and len(ranked) > 2
    path = store.shortest_path("HP:0001250", "HP:0000707", max_hops=4)  # what `kgsolver graph path` prints
    assert path and verbalize_path(path).startswith(("Seizure", "Abnormality of the nervous system"))
    text = verbalize(store.neighbors(["HP:0001250"], predicates=["is_a"]))
    assert "Seizure --is a-->" in text and "[kg:hpo_kg_triples]" in text


def _kb_copy(demo_kb, tmp_path):
    kb_dir = tmp_path / "kb"
    shutil.copytree(demo_kb, kb_dir)
    return kb_dir


def test_ingest_builds_graph_and_reingest_replaces_provenance(demo_kb, demo_corpus, tmp_path, embedder, config):
    from kgsolver.pipeline.kb.ingest import ingest

    kb_dir = _kb_copy(demo_kb, tmp_path)
    kb = KnowledgeBase.open(kb_dir)
    store = load_graph_file(kb)
    assert store.stats()["relations"] > 500 and store.stats()["chunks"] == len(kb.chunks)
    first = json.loads(demo_corpus.read_text().splitlines()[0])
    old_cids = kb.chunk_ids_of({first["id"]}).tolist()
    assert store.entities_in_chunks(old_cids)
    edited = tmp_path / "edit.jsonl"
    edit = dict(first, text="Zanzibar Quokka founded the Vexillology Society of Zanzibar.")
    edited.write_text(json.dumps(edit) + "\n")
    report = ingest(edited, kb_dir, config, embedder=embedder, show_progress=False)
    assert report.documents_replaced == 1 and report.graph.chunks_extracted >= 1
    kb2 = KnowledgeBase.open(kb_dir)
    store2 = load_graph_file(kb2)  # the base file and the reingest's delta
    assert store2.entities_in_chunks(old_cids) == {}
    assert not any(set(r.chunks) & set(old_cids) for r in store2.iter_relations())
    new_cids = kb2.chunk_ids_of({first["id"]}).tolist()
    assert "t:zanzibar quokka" in store2.entities_in_chunks(new_cids)[new_cids[0]]


def test_cli_import_stats_neighbors_path(demo_kb, tmp_path, shared_datasets):
    kb_dir = _kb_copy(demo_kb, tmp_path)
    runner = CliRunner()
    sample = tmp_path / "hpo_sample.tsv.gz"
    with gzip.open(shared_datasets / "kg" / "hpo_kg_triples.tsv.gz", "rt") as src, gzip.open(sample, "wt") as dst:
        for _, line in zip(range(5001), src, strict=False):
            dst.write(line)
    res = runner.invoke(app, ["graph", "import", str(sample), "--kb", str(kb_dir),
                              "--terms", str(shared_datasets / "kg" / "hpo_terms.jsonl.gz")])
    assert res.exit_code == 0, res.output
    stats = json.loads(runner.invoke(app, ["graph", "stats", "--kb", str(kb_dir)]).stdout)
    assert stats["entity_sources"]["kg:hpo_sample"] > 1000 and stats["entity_sources"]["text"] > 100
    res = runner.invoke(app, ["graph", "neighbors", "Seizure", "--kb", str(kb_dir), "--predicate", "is_a"])
    assert res.exit_code == 0 and "Seizure --is a-->" in res.output
    res = runner.invoke(app, ["graph", "path", "HP:0000002", "HP:0001507", "--kb", str(kb_dir)])
    assert res.exit_code == 0 and "--is_a-->" in res.output


def test_spacy_extractor_workers_give_the_serial_result(monkeypatch, nlp, shared_datasets):
    import kgsolver.graphs.extract_spacy as extract_spacy

    monkeypatch.setattr(extract_spacy, "MIN_ITEMS_PER_PROCESS", 2)
    corpus = (shared_datasets / "kilt/hotpotqa-dev-kilt.mini.corpus.jsonl").open()
    rows = [json.loads(line) for _, line in zip(range(12), corpus, strict=False)]
    items = [(i, r["title"], r["text"]) for i, r in enumerate(rows)]
    serial = SpacyExtractor(nlp).extract(items)
    parallel = SpacyExtractor(n_process=2, batch_size=4).extract(items)  # 3 jobs over 2 worker processes
    assert parallel == serial and len(serial.relations) > 20
