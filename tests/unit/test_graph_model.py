"""The graph model's records and entity resolution's bookkeeping (issue 35: both were rewritten for speed; these pin
that the output stayed what it was)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from kgsolver.connectors.graph_stores import Entity, GraphBatch, Mention, Relation, normalize_name
from kgsolver.connectors.graph_stores.journal import GraphJournal, JournaledStore
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore
from kgsolver.graphs.resolution import EntityResolver
from tests.unit.fakes import HashingEmbedder


def test_records_are_what_asdict_gives_with_their_lists_copied():
    entity = Entity("t:neil peart", "Neil Peart", "PERSON", ["Peart"], "drummer", "text")
    relation = Relation("t:neil peart", "plays", "t:drums", 0.6, [3, 1], "text", "a=1")
    for item in (entity, relation):
        record = item.to_record()
        assert record == dataclasses.asdict(item)
        assert list(record) == [f.name for f in dataclasses.fields(item)]  # a new field must be added there too
    entity.to_record()["aliases"].append("x")
    relation.to_record()["chunks"].append(9)
    assert entity.aliases == ["Peart"] and relation.chunks == [3, 1]


def test_journal_keeps_what_was_upserted_when_the_batch_changes_later(tmp_path):
    store = JournaledStore.applied_to(NetworkXStore())
    entity = Entity("t:rush", "Rush", "ORG", ["Rush band"])
    relation = Relation("t:rush", "formed_in", "t:toronto", 0.6, [1])
    store.upsert(GraphBatch([entity], [relation], [Mention(1, "t:rush", "Rush")]))
    entity.aliases.append("later")
    relation.chunks.append(2)
    store.journal.save(tmp_path / "j.jsonl.gz")
    op = GraphJournal.load(tmp_path / "j.jsonl.gz").ops[0]
    assert op["entities"][0]["aliases"] == ["Rush band"] and op["relations"][0]["chunks"] == [1]


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        self.calls.append((len(texts), batch_size))
        return super().encode(texts, batch_size=batch_size)


def _batch(names: list[str], chunk: int = 1) -> GraphBatch:
    ids = ["t:" + normalize_name(n) for n in names]
    return GraphBatch([Entity(i, n, "ORG") for i, n in zip(ids, names, strict=True)],
                      mentions=[Mention(chunk, i) for i in ids])


def test_resolution_encodes_candidate_names_once_in_the_configured_batches():
    embedder = CountingEmbedder()
    resolver = EntityResolver(embedder, threshold=0.8, batch_size=512)
    out = resolver.resolve(_batch(["Toronto Maple Leafs", "Maple Leafs Toronto", "Rush", "Rush", "Geddy Lee"]))
    assert embedder.calls == [(2, 512)]  # only the fuzzy-similar pair's names, each once, in one call
    assert [(m.drop, m.keep, m.rule) for m in resolver.log] == \
        [("t:maple leafs toronto", "t:toronto maple leafs", "embedding")]
    assert sorted(e.id for e in out.entities) == ["t:geddy lee", "t:rush", "t:toronto maple leafs"]


def test_resolution_learns_new_entities_and_maps_a_later_batch_onto_them():
    resolver = EntityResolver()
    resolver.learn([Entity("HP:1", "Seizure", aliases=["Epileptic seizure"])])
    first = resolver.resolve(_batch(["Epileptic seizure", "Geddy Lee"]))
    # the known entity gets the alias only; the new one is learnt under its own id, not the known one's
    assert [(e.id, e.name, e.aliases) for e in first.entities] == \
        [("HP:1", "", ["Epileptic seizure"]), ("t:geddy lee", "Geddy Lee", [])]
    assert resolver.alias_table["geddy lee"] == "t:geddy lee" and resolver.alias_table["seizure"] == "HP:1"
    assert "" not in resolver.alias_table  # the known entity's alias-only record is not learnt again
    second = resolver.resolve(GraphBatch([Entity("t:g-lee", "Geddy Lee", "PERSON")], mentions=[Mention(2, "t:g-lee")]))
    assert [e.id for e in second.entities] == ["t:geddy lee"]
    assert (resolver.log[-1].drop, resolver.log[-1].keep, resolver.log[-1].rule) == ("t:g-lee", "t:geddy lee", "alias")
