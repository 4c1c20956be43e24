"""End to end over real data with the real 0.5B model: a small OpenBookQA run in process, a HotpotQA run killed
with SIGKILL and resumed, the KG condition reported as unavailable, and `eval compare` from the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgsolver.connectors.llms.registry import MODELS
from kgsolver.evals.datasets import HOTPOTQA_200, OBQA_DEV, OBQA_FACTS, read_jsonl
from kgsolver.evals.run_config import EvalConfig
from kgsolver.evals.runner import RunSpec, run_eval
from kgsolver.evals.suites import WorkItem
from kgsolver.evals.suites.medqa import MedQASuite
from kgsolver.pipeline.solver import Solver

KGSOLVER = Path(sys.executable).parent / "kgsolver"


def _subset(shared: Path, target: Path, relative: str, lines: int) -> None:
    """A small real slice of a shared file (the first lines), for a knowledge base that builds in seconds."""
    (target / relative).parent.mkdir(parents=True, exist_ok=True)
    head = (shared / relative).read_text(encoding="utf-8").splitlines()[:lines]
    (target / relative).write_text("\n".join(head) + "\n", encoding="utf-8")


@pytest.mark.llm
@pytest.mark.slow
def test_openbookqa_run_writes_everything_and_resumes_without_llm_calls(tmp_path, shared_datasets, config,
                                                                        embedder, qwen05):
    data = tmp_path / "data"
    _subset(shared_datasets, data, OBQA_DEV, 3)
    _subset(shared_datasets, data, OBQA_FACTS, 120)
    spec = RunSpec(suite="openbookqa", kb=tmp_path / "kb", out=tmp_path / "run", limit=3, data_dir=data,
                   conditions=["rag"], show_progress=False)
    run = run_eval(spec, config, embedder=embedder, gateway=qwen05, ingest_embedder=embedder)

    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    gold = {r["id"]: r["answerKey"] for r in read_jsonl(data / OBQA_DEV)}
    assert sorted(r["qid"] for r in rows) == sorted(gold)
    assert all(r["prediction"] in {"A", "B", "C", "D"} for r in rows), rows
    rotations = min(EvalConfig.of(config).choice.permutations, 4)  # every rotation of the options, scored in one call
    assert all(r["usage"]["llm_calls"] == 1 and r["trace"] and r["evidence"] for r in rows)
    assert all(len(r.get("rotation_logprobs", [r["letter_logprobs"]])) == rotations for r in rows)
    metrics = json.loads((run / "metrics.json").read_text())
    expected = sum(r["prediction"] == gold[r["qid"]] for r in rows) / 3
    assert metrics["conditions"]["rag"]["metrics"]["accuracy"] == round(expected, 4)

    config_json = json.loads((run / "config.json").read_text())
    assert config_json["model"]["sha256"] == MODELS["qwen2.5-coder-0.5b-instruct"].sha256
    assert config_json["data"][OBQA_DEV] == hashlib.sha256((data / OBQA_DEV).read_bytes()).hexdigest()
    assert config_json["mode"] == "naive" and config_json["limit"] == 3 and config_json["seed"] == 0
    for png in ("score_by_condition.png", "latency_hist.png", "llm_calls_hist.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| rag | **all** | 3 |" in (run / "report.md").read_text()

    calls = qwen05.total.llm_calls
    # everything is done: nothing is asked again
    run_eval(spec, config, embedder=embedder, gateway=qwen05, ingest_embedder=embedder)
    assert qwen05.total.llm_calls == calls
    assert (run / "predictions.jsonl").read_text().splitlines() == [json.dumps(r, ensure_ascii=False) for r in rows]

    other = RunSpec(suite="openbookqa", kb=tmp_path / "kb", out=tmp_path / "run", limit=3, data_dir=data,
                    mode="pike", conditions=["rag"], show_progress=False)
    with pytest.raises(Exception, match="different mode"):
        run_eval(other, config, embedder=embedder, gateway=qwen05, ingest_embedder=embedder)


def _wait_for_rows(path: Path, count: int, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        assert process.poll() is None, log.read_text()[-2000:]
        time.sleep(0.2)
    raise AssertionError(f"no {count} rows within {timeout}s")


@pytest.mark.llm
@pytest.mark.slow
def test_killed_run_resumes_without_duplicates_or_losses(tmp_path, shared_datasets, config):
    data = tmp_path / "data"
    _subset(shared_datasets, data, HOTPOTQA_200, 3)
    cache = tmp_path / "cache"  # a fresh LLM cache; the assembled model files are shared
    cache.mkdir()
    (cache / "models").symlink_to(config.cache_dir / "models")
    env = {**os.environ, "KGSOLVER_CACHE_DIR": str(cache)}
    run = tmp_path / "run"
    command = [str(KGSOLVER), "eval", "hotpotqa", "--kb", str(tmp_path / "kb"), "--out", str(run), "--limit", "3",
               "--data-dir", str(data), "--llm", "qwen2.5-coder-0.5b-instruct", "--condition", "rag"]
    log = tmp_path / "first.log"
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would stall the child
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        _wait_for_rows(run / "predictions.jsonl", 1, first, log, timeout=600)
    finally:
        os.kill(first.pid, signal.SIGKILL)  # mid-run when the rows arrived; never left running on a failure
        first.wait()
    before = []
    for line in (run / "predictions.jsonl").read_text().splitlines():
        try:
            before.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line: the resume drops it and redoes that question
            assert line == (run / "predictions.jsonl").read_text().splitlines()[-1]
    assert 1 <= len(before) < 3 and not (run / "metrics.json").exists()

    subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
    after = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    keys = [r["key"] for r in after]
    expected = [f"{r['_id']}::rag" for r in read_jsonl(data / HOTPOTQA_200)]
    assert len(keys) == len(set(keys)) == 3 and set(keys) == set(expected)
    assert after[: len(before)] == before  # completed rows kept as they were
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["conditions"]["rag"]["n"] == 3
    assert len(json.loads((run / "config.json").read_text())["invocations"]) == 2

    table = subprocess.run([str(KGSOLVER), "eval", "compare", str(run)], env=env, check=True, capture_output=True,
                           text=True).stdout
    f1 = metrics["conditions"]["rag"]["metrics"]["f1"]
    assert f"| hotpotqa | naive | qwen2.5-coder-0.5b-instruct | 3 | rag | 3 | f1={f1:.3f} |" in table


BAND_QUESTION = WorkItem(qid="1", condition="rag+kg", question="Which band recorded Nobody's Hero?", gold="A",
                         payload={"options": {"A": "Rush", "B": "Yes", "C": "Genesis", "D": "Queen"}})


def test_kg_condition_is_unavailable_without_a_graph(tmp_path, demo_corpus, config, embedder):
    from kgsolver.pipeline.kb.ingest import ingest

    no_graph = config.model_copy(deep=True)
    no_graph.graph.extractor = "none"
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(demo_corpus.read_text(encoding="utf-8").splitlines()[:20]) + "\n", encoding="utf-8")
    ingest(corpus, tmp_path / "kb", no_graph, embedder=embedder, show_progress=False)
    out = MedQASuite().evaluate(BAND_QUESTION, Solver(tmp_path / "kb", no_graph, embedder=embedder), "naive")
    assert out["prediction"] is None and "graph" in out["unavailable"]
    assert out["evidence"]  # retrieval ran; no answer was produced another way


@pytest.mark.llm
def test_kg_condition_adds_graph_facts_to_the_passages(demo_kb, config, embedder):
    from kgsolver.pipeline.multihop import AgentResources

    solver = Solver(demo_kb, config, embedder=embedder)  # the demo KB has a spaCy graph
    query = BAND_QUESTION.question + "\n" + " | ".join(BAND_QUESTION.payload["options"].values())
    facts = AgentResources.for_kb(solver.kb, embedder, config).graph.facts(query, 10)
    assert facts and all("[source: chunks " in f for f in facts)
    out = MedQASuite().evaluate(BAND_QUESTION, solver, "naive")
    assert "unavailable" not in out and out["prediction"] in {"A", "B", "C", "D", ""}
    choose = [step for step in out["trace"] if step["tool"] == "choose"][-1]
    assert choose["input"]["passages"] == len(out["evidence"]) + len(facts)


@pytest.mark.llm
def test_pubmedqa_closed_book_reads_no_passage_and_needs_no_kb(tmp_path, config, embedder, qwen05):
    from kgsolver.evals.suites.pubmedqa import PubMedQASuite

    item = WorkItem(qid="1", condition="closed-book", question="Do statins lower LDL cholesterol?", gold="yes",
                    payload={"contexts": ["An abstract the closed-book condition must not show the model."]})
    out = PubMedQASuite().evaluate(item, Solver(tmp_path / "no-kb", config, embedder=embedder, gateway=qwen05), "naive")
    choose = [step for step in out["trace"] if step["tool"] == "choose"][-1]
    assert choose["input"]["passages"] == 0 and out["evidence"] == []
    assert out["prediction"] in {"yes", "no", "maybe"}
    assert out["metrics"]["accuracy"] == float(out["prediction"] == "yes")
    assert out["usage"]["llm_calls"] == 1  # one scored call for the rotations, no retrieval call


@pytest.mark.llm
def test_pubmedqa_context_mixture_scores_the_abstract_and_the_closed_book_prompt(tmp_path, config, embedder, qwen05):
    from kgsolver.evals.suites.pubmedqa import PubMedQASuite

    item = WorkItem(qid="1", condition="context+closed-book", question="Do statins lower LDL cholesterol?", gold="yes",
                    payload={"contexts": ["Statins reduced LDL cholesterol by 40% against placebo in 2,000 adults."]})
    solver = Solver(tmp_path / "no-kb", config, embedder=embedder, gateway=qwen05)
    out = PubMedQASuite().evaluate(item, solver, "naive")
    choice = EvalConfig.of(config).choice
    assert out["parametric_weight"] == choice.parametric_weight and set(out["parametric_logprobs"]) == set("ABC")
    assert out["usage"]["llm_calls"] == 2  # the abstract's prompt and the closed-book one, each with its rotations
    assert len(out["rotation_logprobs"]) == min(choice.permutations, 3)
    choose = [step for step in out["trace"] if step["tool"] == "choose"][-1]
    assert choose["input"]["passages"] == 1 and out["prediction"] in {"yes", "no", "maybe"}
