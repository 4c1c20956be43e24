"""Batch eval on a real local Ray cluster (2 CPUs on 127.0.0.1) with the real 0.5B model in each actor: questions
spread over two actors, predictions.jsonl written by the driver alone, and a cut-short run resumed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kgsolver.evals.datasets import OBQA_DEV, OBQA_FACTS
from kgsolver.evals.runner import RunSpec, run_eval

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.llm, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _subset(shared: Path, target: Path, relative: str, lines: int) -> None:
    (target / relative).parent.mkdir(parents=True, exist_ok=True)
    head = (shared / relative).read_text(encoding="utf-8").splitlines()[:lines]
    (target / relative).write_text("\n".join(head) + "\n", encoding="utf-8")


def test_questions_are_answered_by_ray_actors_and_a_cut_run_resumes(cluster, tmp_path, shared_datasets, config):
    data = tmp_path / "data"
    _subset(shared_datasets, data, OBQA_DEV, 3)
    _subset(shared_datasets, data, OBQA_FACTS, 120)
    run_config = config.model_copy(deep=True)
    run_config.cache_dir = tmp_path / "cache"  # a fresh LLM response cache: the actors really call the model
    run_config.cache_dir.mkdir()
    (run_config.cache_dir / "models").symlink_to(config.cache_dir / "models")
    spec = RunSpec(suite="openbookqa", kb=tmp_path / "kb", out=tmp_path / "run", limit=3, data_dir=data,
                   conditions=["rag"], show_progress=False, engine="ray")
    predictions = run_eval(spec, run_config) / "predictions.jsonl"

    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == 3 and len({r["key"] for r in rows}) == 3
    # one scored call a question: the rotations of the options share their head's forward pass
    assert all(r["prediction"] in {"A", "B", "C", "D"} and r["usage"]["llm_calls"] == 1 for r in rows), rows
    workers = {r["worker"] for r in rows}
    assert len(workers) == 2 and all(int(w.rsplit(":", 1)[1]) != os.getpid() for w in workers)

    predictions.write_text(json.dumps(rows[0]) + "\n" + '{"key": "torn', encoding="utf-8")  # killed mid-write
    run_eval(spec, run_config)
    resumed = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert resumed[0] == rows[0] and sorted(r["key"] for r in resumed) == sorted(r["key"] for r in rows)
    assert {r["key"]: r["prediction"] for r in resumed} == {r["key"]: r["prediction"] for r in rows}
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["conditions"]["rag"]["n"] == 3
