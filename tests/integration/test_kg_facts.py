"""kg_facts on a small real graph: HPO triples about Marfan syndrome and arachnodactyly, imported into a temp KB."""

from __future__ import annotations

import gzip

import pytest

from kgsolver.connectors.graph_stores import Entity, Relation, Subgraph
from kgsolver.graphs.kg_facts import fact_sentence
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.graph_build import import_into_kb
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

MARFAN, ARACHNODACTYLY = "OMIM:154700", "HP:0001166"


def kg_facts(kb, text, limit, **options):
    """Facts through the query path's one graph view of the knowledge base (pipeline/multihop/__init__.py)."""
    from kgsolver.pipeline.multihop import AgentResources

    return AgentResources.for_kb(kb, None, KGSolverConfig()).graph.facts(text, limit, **options)


def _sample(shared_datasets, dst, keep) -> None:
    """Real HPO rows (header kept) that `keep(fields)` selects, written as a gzipped TSV."""
    with gzip.open(shared_datasets / "kg" / "hpo_kg_triples.tsv.gz", "rt", encoding="utf-8") as src, \
            gzip.open(dst, "wt", encoding="utf-8") as out:
        out.write(next(src))
        for line in src:
            if keep(line.rstrip("\n").split("\t")):
                out.write(line)


def _empty_kb(root):
    kb = KnowledgeBase.create(root, embedder={"name": "sentence-transformers/all-MiniLM-L6-v2", "dimensions": 384},
                              chunking={"chunk_tokens": 200, "overlap_tokens": 40}, config=KGSolverConfig())
    kb.commit()
    return root


@pytest.fixture(scope="module")
def hpo_kb(tmp_path_factory, shared_datasets):
    """Marfan syndrome's phenotypes (not its inheritance), the diseases with arachnodactyly, and its is_a parents."""
    root = tmp_path_factory.mktemp("kg-facts")
    triples = root / "hpo_sample.tsv.gz"
    _sample(shared_datasets, triples, lambda f: (f[0] == MARFAN and f[2] == "has_phenotype")
            or ARACHNODACTYLY in (f[0], f[3]))
    kb_dir = _empty_kb(root / "kb")
    import_into_kb(kb_dir, triples, shared_datasets / "kg" / "hpo_terms.jsonl.gz", KGSolverConfig())
    return kb_dir


def test_fact_between_two_mentioned_entities_ranks_first(hpo_kb):
    kb = KnowledgeBase.open(hpo_kb)
    facts = kg_facts(kb, "A tall boy with spider fingers; his father has Marfan syndrome.", 5)
    assert len(facts) == 5 and len(set(facts)) == 5
    # "spider fingers" links by alias (0.95) to Arachnodactyly, "Marfan syndrome" exactly (1.0): the edge between
    # them scores both links and wins; then the exact link's facts outrank the alias link's
    assert facts[0] == "Marfan syndrome has phenotype Arachnodactyly (freq=124/197) [source: kg:hpo_sample]."
    assert all(f.startswith("Marfan syndrome has phenotype ") for f in facts[1:])
    assert all(f.endswith("[source: kg:hpo_sample].") for f in facts)


def test_equal_links_take_turns(hpo_kb):
    kb = KnowledgeBase.open(hpo_kb)
    facts = kg_facts(kb, "Marfan syndrome or isolated arachnodactyly?", 5)
    assert facts[0].startswith("Marfan syndrome has phenotype Arachnodactyly")
    rest = facts[1:]
    marfan = [f for f in rest if f.startswith("Marfan syndrome has phenotype")]
    assert 1 <= len(marfan) <= 3 and any("Arachnodactyly" in f for f in rest if f not in marfan)


def test_limit_filter_and_nothing_to_link(hpo_kb):
    kb = KnowledgeBase.open(hpo_kb)
    assert kg_facts(kb, "Marfan syndrome", 0) == []
    assert len(kg_facts(kb, "Marfan syndrome", 3)) == 3
    assert kg_facts(kb, "The weather was pleasant on Tuesday.", 10) == []
    parents = kg_facts(kb, "arachnodactyly", 10, predicates=["is_a"])
    assert parents and all(f.startswith("Arachnodactyly is a ") for f in parents)


def test_no_graph_component_gives_no_facts(tmp_path):
    kb = KnowledgeBase.open(_empty_kb(tmp_path / "kb"))
    assert kg_facts(kb, "Marfan syndrome", 5) == []


def test_new_generation_is_read_not_the_cached_graph(hpo_kb, shared_datasets, tmp_path):
    import shutil

    kb_dir = tmp_path / "kb"
    shutil.copytree(hpo_kb, kb_dir)
    question = "Marfan syndrome"
    before = kg_facts(KnowledgeBase.open(kb_dir), question, 100, predicates=["has_inheritance"])
    extra = tmp_path / "hpo_sample.tsv.gz"  # the same source name, so provenance reads the same
    _sample(shared_datasets, extra, lambda f: f[0] == MARFAN and f[2] == "has_inheritance")
    import_into_kb(kb_dir, extra, None, KGSolverConfig())
    after = kg_facts(KnowledgeBase.open(kb_dir), question, 100, predicates=["has_inheritance"])
    assert before == []
    assert after == ["Marfan syndrome has inheritance Autosomal dominant inheritance [source: kg:hpo_sample]."]


def test_medqa_suite_finds_kg_facts(hpo_kb, embedder):
    from kgsolver.evals.suites.medqa import find_kg

    kb = KnowledgeBase.open(hpo_kb)
    lookup, reason = find_kg(kb, embedder)
    assert reason == "graph" and lookup is not None
    assert lookup("Marfan syndrome and arachnodactyly", 2) == kg_facts(kb, "Marfan syndrome and arachnodactyly", 2)


def test_fact_sentence_names_text_provenance():
    sub = Subgraph(entities={"t:a": Entity("t:a", "Aspirin"), "t:b": Entity("t:b", "Reye syndrome")},
                   relations=[])
    rel = Relation("t:a", "associated_with", "t:b", chunks=[4, 9])
    assert fact_sentence(rel, sub) == "Aspirin associated with Reye syndrome [source: chunks 4, 9]."
