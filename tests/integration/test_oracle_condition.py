"""The oracle condition of the hotpotqa suite with the real 0.5B: the gold passages reach the answer step."""

from __future__ import annotations

import pytest

from kgsolver.connectors.text import normal
from kgsolver.evals.suites import get_suite
from kgsolver.pipeline.solver import Solver


@pytest.mark.llm
def test_oracle_answers_from_the_gold_passages(tmp_path, shared_datasets, config, embedder, qwen05):
    suite = get_suite("hotpotqa")
    oracle = [i for i in suite.items(shared_datasets, 2) if i.condition == "oracle"]
    solver = Solver(tmp_path / "no-kb", config, embedder=embedder, gateway=qwen05)  # opens no knowledge base
    rows = [suite.evaluate(item, solver, "naive") for item in oracle]
    assert len(rows) == 2 and all(r["usage"]["llm_calls"] >= 1 for r in rows)
    for item, row in zip(oracle, rows, strict=True):
        assert set(row["cited_titles"]) <= set(item.gold["titles"])
        assert set(row["metrics"]) == {"em", "f1"}  # nothing was retrieved, so no recall is reported
    answered = [(item, row) for item, row in zip(oracle, rows, strict=True)
                if row["prediction"] and row["cited_titles"]]
    assert answered, rows  # an answer the answer step grounded in a gold passage it was given
    for item, row in answered:
        gold_text = normal(" ".join(p["title"] + " " + p["text"] for p in item.payload["passages"]))
        assert normal(row["prediction"]) in gold_text
