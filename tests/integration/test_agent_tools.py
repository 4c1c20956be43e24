"""The multi-hop tools and policies on a tiny real KB: the pooled paragraphs of 4 HotpotQA bridge questions, ingested
with the real embedder and the spaCy graph. No LLM here (see test_agent_e2e.py, test_ksl*.py, test_pike*.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kgsolver.connectors.llms.gateway import Budget
from kgsolver.pipeline.answer import BudgetSplit, QuestionAnalysis, QuestionContext, QuestionInputs
from kgsolver.pipeline.config import AgentSettings
from kgsolver.pipeline.kb.atomic_index import AtomicIndex
from kgsolver.pipeline.multihop import EvidencePool, HopEvidence, agent_limits, spare_calls
from kgsolver.pipeline.multihop.hop_policy import embedding_scores
from kgsolver.pipeline.multihop.kg_walk import KGWalkTool
from kgsolver.pipeline.multihop.kg_walker import KGWalker
from kgsolver.pipeline.multihop.tools import NeighbourhoodTool, PageRankTool, Search, bm25_search, dense_search
from kgsolver.pipeline.solver import Solver
from tests.helpers import bridge_records, gold_titles


def titles(docs) -> list[str]:
    return [d.metadata["title"] for d in docs]


def test_search_tools_rank_gold_passages_with_provenance(resources):
    record = bridge_records()[3]  # Hugo Rodriguez Romero / FC Cartagena
    for tool in (dense_search(resources), bm25_search(resources)):
        assert isinstance(tool, Search)
        docs = tool.search(record["question"], k=5)
        assert len(docs) == 5 and all(d.metadata["retriever"] == tool.name for d in docs)
        assert "Hugo Rodríguez Romero" in titles(docs)
        assert all(isinstance(d.metadata["cid"], int) and d.metadata["doc_id"] for d in docs)


def test_neighbourhood_follows_title_links_from_a_seed(resources):
    seed = dense_search(resources).search("Hugo Rodríguez Romero Spanish footballer winger", k=1)
    assert titles(seed) == ["Hugo Rodríguez Romero"]
    docs = NeighbourhoodTool(resources).search("autonomous community of the team", seeds=seed, k=5)
    linked = {d.metadata["title"]: d.metadata["via"] for d in docs}
    assert "FC Cartagena" in linked and linked["FC Cartagena"].startswith("title 'FC Cartagena'")
    assert "Hugo Rodríguez Romero" not in linked  # seeds are not returned as their own neighbours


def test_title_links_strip_club_suffix(resources):
    seed = [d for d in dense_search(resources).search("Len Worley amateur footballer", k=3)
            if d.metadata["title"] == "Len Worley"]
    docs = NeighbourhoodTool(resources).search("commonly referred to as", seeds=seed, k=10)
    assert "Tottenham Hotspur F.C." in titles(docs)


def test_ppr_ranks_passages_around_linked_entities(resources):
    record = bridge_records()[2]  # Carsten Olsen / S. P. L. Sorensen
    tool = PageRankTool(resources)
    seeds = tool.seeds(record["question"], [])
    assert seeds, "the question's entities link to the graph"
    docs = tool.search(record["question"], k=10)
    assert docs and all(d.metadata["retriever"] == "ppr" for d in docs)
    assert gold_titles(record) & set(titles(docs))


def test_kg_walk_embedding_policy_keeps_beams_with_provenance(resources):
    settings = AgentSettings(hop_policy="embedding", beams=2, max_hops=2)
    record = bridge_records()[0]
    paths = KGWalker(resources, settings).walk(record["question"])
    assert 1 <= len(paths) <= 2
    assert all(p.relations and p.chunks for p in paths)
    assert all(len(p.relations) <= 2 and len(p.facts) == len(p.relations) for p in paths)
    docs = KGWalkTool(resources, settings, question=record["question"]).search(record["question"], k=5)
    assert docs and all(d.metadata["path"] for d in docs)


def test_embedding_scores_prefer_the_relevant_relation(embedder):
    scores = embedding_scores(embedder, ["Neil Peart plays drums in Rush", "Paris is in France"],
                              "Which band was the drummer in?", "Who is the drummer of Rush?")
    assert scores[0] > scores[1]


def test_atomic_index_search_and_roundtrip(tmp_path, embedder):
    questions = ["Who founded FC Cartagena?", "Where is FC Cartagena based?", "When was Len Worley born?"]
    index = AtomicIndex([7, 7, 9], questions, embedder.encode(questions), {7: "a", 9: "b"})
    hits = index.search(embedder.encode(["In which city does FC Cartagena play?"])[0], k=2)
    assert [h.cid for h in hits] == [7, 9] and hits[0].question == "Where is FC Cartagena based?"
    index.save(tmp_path / "atomic")
    again = AtomicIndex.load(tmp_path / "atomic")
    assert again.questions == questions and again.hashes == {7: "a", 9: "b"}
    assert np.allclose(again.vectors, index.vectors)


def test_evidence_pool_fuses_and_keeps_provenance(resources):
    dense = dense_search(resources).search("FC Cartagena Murcia", k=3)
    bm25 = bm25_search(resources).search("FC Cartagena Murcia", k=3)
    pool = EvidencePool(rrf_k=10)
    pool.add(dense)
    pool.add(bm25)
    top = pool.ranked(1)[0]
    assert top.metadata["title"] == "FC Cartagena"
    assert set(top.metadata["found_by"]) == {"dense_search", "bm25_search"}


def test_hop_evidence_anchors_are_the_titles_the_question_names(resources):
    hops = HopEvidence(rrf_k=10)
    hops.anchor(resources.title_linker,
                QuestionAnalysis("Which club did Len Worley play for, and where is FC Cartagena based?"))
    titles = {resources.kb.chunks[c].title for c in resources.kb.chunk_ids_of(hops.anchors).tolist()}
    assert {"Len Worley", "FC Cartagena"} <= titles


def test_budget_tightening_and_reserve(hotpot_kb, embedder, config, qwen05):
    cfg = config.model_copy(deep=True)
    cfg.agent.max_llm_calls = 4
    solver = Solver(hotpot_kb, cfg, embedder=embedder, gateway=qwen05)
    limits = agent_limits(Budget(max_llm_calls=10), cfg.agent)
    assert limits.max_llm_calls == 4
    inputs = QuestionInputs(solver.kb, embedder, qwen05.session(limits), cfg, solver.retriever)
    ctx = QuestionContext(inputs, QuestionAnalysis("q"), BudgetSplit(limits, answer_calls=2))
    assert spare_calls(ctx) == 2
    ctx.session.usage.llm_calls = 3
    assert spare_calls(ctx) == 0


@pytest.mark.parametrize("mode", ["pike", "ksl", "agent"])
def test_modes_without_llm_calls_still_return_traced_evidence(mode, hotpot_kb, embedder, config, qwen05):
    """A zero-call budget: every LLM step is skipped, the LLM-free tools still gather evidence with provenance."""
    record = bridge_records()[3]
    solver = Solver(hotpot_kb, config, embedder=embedder, gateway=qwen05)
    result = solver.ask(record["question"], mode=mode, budget=Budget(max_llm_calls=0))
    assert result.usage.llm_calls == 0 and result.abstained
    assert gold_titles(record) & {e.title for e in result.evidence[:5]}
    tools = [s.tool for s in result.trace]
    assert "dense_search" in tools and "evidence" in tools
    assert all(s.seconds >= 0 for s in result.trace)
    if mode == "agent":
        assert "neighbourhood" in tools and "ppr" in tools
        assert gold_titles(record) <= {e.title for e in result.evidence[:5]}


def test_quoted_phrase_search_keeps_only_passages_containing_the_phrase(resources):
    from kgsolver.pipeline.answer import Tracer
    from kgsolver.pipeline.multihop.tools import quoted_passages

    question = bridge_records()[0]["question"]  # '... released a song called "Counterparts" and ...'
    tracer = Tracer()
    docs = quoted_passages(QuestionAnalysis(question).quoted, resources, tracer, k=3)
    assert titles(docs) == ["Nobody's Hero"]  # the keyword hits without the whole phrase are dropped
    assert [(s.tool, s.input["query"]) for s in tracer.steps] == [("bm25_search", "counterparts")]
    assert quoted_passages(QuestionAnalysis(question).quoted, resources, Tracer(), k=0) == []
    nothing_quoted = QuestionAnalysis("Which band released Counterparts?").quoted
    assert quoted_passages(nothing_quoted, resources, Tracer(), k=3) == []
