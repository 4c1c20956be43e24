"""The Knowledge-Solver walk with the real 0.5B model choosing hops from numbered choice lists."""

from __future__ import annotations

import pytest

from kgsolver.connectors.llms.gateway import Budget
from kgsolver.pipeline.answer import Tracer
from kgsolver.pipeline.config import AgentSettings
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.multihop import AgentResources
from kgsolver.pipeline.multihop.kg_walker import KGWalker
from kgsolver.pipeline.solver import Solver
from tests.helpers import bridge_records, gold_titles


@pytest.mark.llm
def test_walk_asks_the_llm_once_per_hop_and_records_the_decision(hotpot_kb, qwen05, embedder, config):
    res = AgentResources(KnowledgeBase.open(hotpot_kb), embedder, config.graph, config.agent)
    session, tracer = qwen05.session(Budget(max_llm_calls=2)), Tracer()
    settings = AgentSettings(hop_policy="combine", max_hops=2, beams=2, choices=6)
    paths = KGWalker(res, settings, session=session, tracer=tracer).walk(bridge_records()[0]["question"])
    llm_steps = [s for s in tracer.steps if s.tool == "kg_walk:llm"]
    assert 1 <= session.usage.llm_calls <= 2 and len(llm_steps) == session.usage.llm_calls
    assert all(s.decision and s.tokens > 0 for s in llm_steps)
    assert paths and all(p.stopped or p.relations for p in paths)


@pytest.mark.llm
def test_walk_respects_the_reserve(hotpot_kb, qwen05, embedder, config):
    res = AgentResources(KnowledgeBase.open(hotpot_kb), embedder, config.graph, config.agent)
    session = qwen05.session(Budget(max_llm_calls=6))
    KGWalker(res, AgentSettings(hop_policy="llm"), session=session, can_call=lambda: False).walk(
        bridge_records()[2]["question"])
    assert session.usage.llm_calls == 0


@pytest.mark.llm
def test_ksl_mode_end_to_end(hotpot_kb, qwen05, embedder, config):
    record = bridge_records()[3]
    result = Solver(hotpot_kb, config, embedder=embedder, gateway=qwen05).ask(record["question"], mode="ksl")
    assert result.mode == "ksl" and result.usage.llm_calls <= 6
    walk = [s for s in result.trace if s.tool == "kg_walk"]
    # The walk ran (a KB without a graph records a "skipped" kg_walk step, which must not pass here) and the LLM
    # chose at least one hop.
    assert walk and not (walk[0].decision or "").startswith("skipped"), walk
    assert any(s.tool == "kg_walk:llm" for s in result.trace) and result.trace[-1].tool == "preference"
    assert gold_titles(record) & {e.title for e in result.evidence}
