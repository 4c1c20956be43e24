"""End to end on real HotpotQA bridge questions with the real 0.5B model: the agent within 6 LLM calls, its trace,
its evidence against naive's, and `kgsolver ask --mode agent --json`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgsolver.evals.metrics import title_recall_at_k
from kgsolver.pipeline.serve.cli import app
from kgsolver.pipeline.solver import Solver
from tests.helpers import bridge_records, gold_titles


@pytest.mark.llm
@pytest.mark.slow
def test_agent_multihop_recall_and_budget(hotpot_kb, qwen05, embedder, config):
    cfg = config.model_copy(deep=True)
    cfg.retrieval.top_k = 10
    solver = Solver(hotpot_kb, cfg, embedder=embedder, gateway=qwen05)
    agent_recall, naive_recall = [], []
    for record in bridge_records()[2:4]:  # limit 2
        result = solver.ask(record["question"], mode="agent")
        assert result.usage.llm_calls <= 6
        steps = result.trace
        assert [s.step for s in steps] == list(range(1, len(steps) + 1))
        wanted = {"dense_search", "bm25_search", "neighbourhood", "ppr", "evidence", "preference"}
        assert wanted <= {s.tool for s in steps}
        assert sum(s.tokens for s in steps) > 0 and all(e.source for e in result.evidence)
        agent_recall.append(title_recall_at_k([e.title for e in result.evidence], gold_titles(record), 5))
        naive = solver.ask(record["question"], mode="naive")
        naive_recall.append(title_recall_at_k([e.title for e in naive.evidence], gold_titles(record), 5))
    assert sum(agent_recall) >= sum(naive_recall) and sum(agent_recall) >= 1.5


@pytest.mark.llm
def test_cli_ask_agent_json(hotpot_kb, config, monkeypatch, run_cache):
    monkeypatch.setenv("KGSOLVER_LLM__NAME", config.llm.name)
    monkeypatch.setenv("KGSOLVER_LLM_CACHE_PATH", str(run_cache / "cli.sqlite"))
    monkeypatch.setenv("KGSOLVER_AGENT__MAX_LLM_CALLS", "2")  # the answer's calls only
    record = bridge_records()[3]
    out = CliRunner().invoke(app, ["ask", record["question"], "--kb", str(hotpot_kb), "--mode", "agent", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)  # stderr carries progress bars (the first question converts the query model)
    assert payload["mode"] == "agent" and payload["usage"]["llm_calls"] <= 2
    assert {"tool", "input", "output", "decision", "tokens", "seconds"} <= set(payload["trace"][0])
    assert gold_titles(record) <= {e["title"] for e in payload["evidence"][:5]}
