"""PIKE-RAG decomposition with the real 0.5B model: proposals, selections, budget kept for the answer."""

from __future__ import annotations

import pytest

from kgsolver.connectors.llms.gateway import Budget
from kgsolver.pipeline.solver import Solver

from test_agent_tools import bridge_records, gold_titles, hotpot_kb  # noqa: F401


@pytest.mark.llm
def test_pike_decomposes_within_budget(hotpot_kb, qwen05, embedder, config):
    record = bridge_records()[2]
    solver = Solver(hotpot_kb, config, embedder=embedder, gateway=qwen05)
    result = solver.ask(record["question"], mode="pike", budget=Budget(max_llm_calls=4))
    tools = [s.tool for s in result.trace]
    assert result.usage.llm_calls <= 4
    assert "llm:propose sub-question" in tools  # 4 calls - 2 for the answer = 2 for one round
    proposal = next(s for s in result.trace if s.tool == "llm:propose sub-question")
    assert proposal.tokens > 0 and proposal.output is not None
    assert gold_titles(record) & {e.title for e in result.evidence[:5]}
    assert result.answer and (result.abstained or result.citations or result.preference.source_used != "context")
