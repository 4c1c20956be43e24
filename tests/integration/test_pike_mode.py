"""PIKE-RAG decomposition with the real 0.5B model: proposals, selections, budget kept for the answer."""

from __future__ import annotations

import pytest

from kgsolver.connectors.llms.gateway import Budget
from kgsolver.pipeline.solver import Solver
from tests.helpers import bridge_records, gold_titles


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
    # The answer step ran over the pooled evidence: a context answer cites evidence, an abstention says "none".
    assert "generate" in tools and tools[-1] == "preference"
    if not result.abstained and result.preference.source_used == "context":
        assert result.citations and {c.title for c in result.citations} <= {e.title for e in result.evidence}
    else:
        assert result.abstained == (result.preference.source_used == "none")
