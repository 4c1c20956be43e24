"""Suite loaders on the real shared files, and the run bookkeeping (torn rows, summaries) on hand-made rows."""

from __future__ import annotations

import json

import pytest

from kgsolver.evals.datasets import HOTPOTQA_200, OBQA_FACTS, dataset_path, read_jsonl, read_openbook_facts
from kgsolver.evals.report import summarize
from kgsolver.evals.runner import load_done
from kgsolver.evals.suites import get_suite
from kgsolver.evals.suites.hotpotqa import pooled_paragraphs
from kgsolver.evals.suites.kilt_hotpotqa import kilt_output


def test_kilt_items(shared_datasets):
    items = get_suite("kilt-hotpotqa").items(shared_datasets, None)
    assert len(items) == 2 * 235 and len({i.key for i in items}) == 2 * 235  # rag and oracle
    assert all(i.gold["answers"] and i.gold["provenance"] for i in items)
    assert all(all(len(s) >= 1 for s in i.gold["provenance"]) for i in items)
    oracle = [i for i in items if i.condition == "oracle"]
    assert len(oracle) == 235 and all(i.payload["passages"] and all(p["text"] for p in i.payload["passages"]) and
                                      {p["title"] for p in i.payload["passages"]} | set(i.payload["missing_pages"])
                                      == set(i.gold["provenance"][0]) for i in oracle)
    assert sum(len(i.payload["missing_pages"]) for i in oracle) == 7  # the datasets README: 463 of 470 present


def test_kilt_output_format_dedupes_titles():
    row = kilt_output("q1", "Who?", "Rush", ["A", "B", "A"])
    assert row == {"id": "q1", "input": "Who?", "output": [{"answer": "Rush", "provenance": [{"title": "A"},
                                                                                            {"title": "B"}]}]}


def test_hotpotqa_items_and_pool(shared_datasets):
    items = get_suite("hotpotqa").items(shared_datasets, 50)
    assert len(items) == 100 and {i.group for i in items} == {"bridge", "comparison"}
    assert [i.condition for i in items] == ["rag"] * 50 + ["oracle"] * 50
    assert all({p["title"] for p in i.payload["passages"]} == set(i.gold["titles"]) for i in items[50:])
    records = list(read_jsonl(dataset_path(HOTPOTQA_200, shared_datasets)))
    pool = pooled_paragraphs(records)
    titles = {p["title"] for p in pool}
    assert len(titles) == len(pool) > 1500  # 200 x 10 paragraphs, a few shared between questions
    assert all(set(i.gold["titles"]) <= titles for i in get_suite("hotpotqa").items(shared_datasets, None))


def test_openbookqa_items_and_facts(shared_datasets):
    items = get_suite("openbookqa").items(shared_datasets, None)
    assert len(items) == 3 * 500 and {i.condition for i in items} == {"closed-book", "rag", "rag+closed-book"}
    assert all(list(i.payload["options"]) == ["A", "B", "C", "D"] and i.gold in "ABCD" for i in items)
    facts = read_openbook_facts(dataset_path(OBQA_FACTS, shared_datasets))
    assert len(facts) == 1326 and facts[0] == "A bee is a pollinating animal"
    assert not any(f.startswith('"') or f.endswith('"') for f in facts)


def test_medqa_items_have_four_conditions(shared_datasets):
    items = get_suite("medqa").items(shared_datasets, None)
    assert len(items) == 1200
    assert {i.condition for i in items} == {"closed-book", "rag", "rag+kg", "rag+closed-book"}
    assert {i.group for i in items} == {"step1", "step2&3"}
    assert all(i.gold in i.payload["options"] for i in items)


def test_pubmedqa_items(shared_datasets):
    items = get_suite("pubmedqa").items(shared_datasets, None)
    assert len(items) == 5 * 500 and len({i.qid for i in items}) == 500
    assert {i.condition for i in items} == {"closed-book", "context", "rag", "context+closed-book", "rag+closed-book"}
    assert {i.gold for i in items} == {"yes", "no", "maybe"}
    assert all(i.payload["contexts"] for i in items)


def test_pubmedqa_pooled_abstracts_are_not_titled_by_their_question(shared_datasets, tmp_path):
    """PQA-L questions are the articles' titles: as a title, a question would find its own abstract by itself."""
    corpus = get_suite("pubmedqa").corpus_files(shared_datasets, tmp_path)[0]
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    questions = {i.question for i in get_suite("pubmedqa").items(shared_datasets, None)}
    assert len(records) == 500 and not questions & {r["title"] for r in records}
    assert all(r["title"] == f"PMID {r['id']}" for r in records)


def test_load_done_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "predictions.jsonl"
    rows = [{"key": "a::rag", "prediction": "x"}, {"key": "b::rag", "prediction": "y"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"key": "c::rag", "predi', encoding="utf-8")
    done = load_done(path)
    assert list(done) == ["a::rag", "b::rag"]
    assert path.read_text(encoding="utf-8").splitlines() == [json.dumps(r) for r in rows]


def test_summary_scores_errors_as_zero_and_leaves_out_unavailable():
    rows = [
        {"key": "1::rag", "qid": "1", "condition": "rag", "group": "step1", "metrics": {"accuracy": 1.0}},
        {"key": "2::rag", "qid": "2", "condition": "rag", "group": "step2&3", "metrics": {"accuracy": 1.0}},
        {"key": "3::rag", "qid": "3", "condition": "rag", "group": "step1", "metrics": {}, "error": "boom"},
        {"key": "1::rag+kg", "qid": "1", "condition": "rag+kg", "group": "step1", "metrics": {},
         "unavailable": "no graph"},
    ]
    summary = summarize(rows, "accuracy")
    rag = summary["conditions"]["rag"]
    assert rag["n"] == 3 and rag["errors"] == 1 and rag["metrics"]["accuracy"] == round(2 / 3, 4)
    assert rag["groups"]["step1"]["metrics"]["accuracy"] == 0.5
    assert summary["conditions"]["rag+kg"] == {"n": 0, "errors": 0, "metrics": {}, "groups": {},
                                               "unavailable": ["no graph"]}
    assert summary["questions"] == 3


def test_ci95_wilson_for_accuracy_and_normal_for_f1():
    from kgsolver.evals.report import ci95

    # Wilson, 3 of 10 by hand: centre (0.3 + 0.19208) / 1.38416 = 0.35551,
    # half-width 1.96 * sqrt(0.021 + 0.009604) / 1.38416 = 0.24772
    assert ci95([1.0] * 3 + [0.0] * 7) == [0.1078, 0.6032]
    assert ci95([1.0] * 5) == [0.5655, 1.0]  # all correct: the interval still reaches well below 1
    assert ci95([0.5, 0.5, 0.5]) == [0.5, 0.5]  # F1-like scores, no spread
    assert ci95([]) == [0.0, 0.0]
    rows = [{"key": f"{i}::rag", "qid": str(i), "condition": "rag", "group": "all",
             "metrics": {"accuracy": float(i < 3)}} for i in range(10)]
    assert summarize(rows, "accuracy")["conditions"]["rag"]["ci95"] == [0.1078, 0.6032]


def test_paired_counts_which_condition_got_which_question():
    def row(qid, condition, score):
        return {"key": f"{qid}::{condition}", "qid": qid, "condition": condition, "group": "all",
                "metrics": {"accuracy": score}}

    rows = [row("1", "closed-book", 1.0), row("1", "rag", 0.0), row("2", "closed-book", 0.0), row("2", "rag", 1.0),
            row("3", "closed-book", 1.0), row("3", "rag", 1.0), row("4", "closed-book", 0.0),  # 4: rag not run yet
            {**row("1", "rag+kg", 0.0), "unavailable": "no graph"}]
    pairs = summarize(rows, "accuracy")["paired"]
    assert pairs == [{"a": "closed-book", "b": "rag", "n": 3, "both": 1, "only_a": 1, "only_b": 1, "neither": 0}]


def test_medqa_corpus_keeps_every_medquad_passage(shared_datasets, tmp_path):
    corpus = get_suite("medqa").corpus_files(shared_datasets, tmp_path)[0]
    ids = [json.loads(line)["id"] for line in corpus.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == 16407 and len(set(ids)) == len(ids)
    assert ids[0] == "CancerGov/0000001_1-1"  # the released id stays readable, qualified by its source


def test_resume_accepts_a_knowledge_base_added_after_offline_conditions():
    from kgsolver.evals.run_config import fingerprint_changes

    settings = {"model_path": None, "device": "cpu", "batch_size": 64}
    kb = {"name": "sentence-transformers/all-MiniLM-L6-v2", "dimensions": 384}
    closed_book = {"suite": "medqa", "embedder": {"settings": settings, "knowledge_base": None}}
    with_kb = {"suite": "medqa", "embedder": {"settings": settings, "knowledge_base": kb}}
    assert fingerprint_changes(closed_book, with_kb) == []
    other_kb = {"suite": "medqa", "embedder": {"settings": settings, "knowledge_base": dict(kb, dimensions=768)}}
    assert fingerprint_changes(with_kb, other_kb) == ["embedder"]  # a different embedder is still refused
    other_settings = {"suite": "medqa", "embedder": {"settings": dict(settings, model_path="/x"), "knowledge_base": kb}}
    assert fingerprint_changes(closed_book, other_settings) == ["embedder"]
    assert fingerprint_changes(with_kb, dict(with_kb, suite="pubmedqa")) == ["suite"]


def test_resume_refuses_other_answer_settings_but_not_a_folder_that_predates_them():
    from kgsolver.evals.run_config import fingerprint_changes

    once = {"suite": "openbookqa", "answering": {"choice": {"parametric_weight": 0.7, "permutations": 1}}}
    other = {"suite": "openbookqa", "answering": {"choice": {"parametric_weight": 0.5, "permutations": 1}}}
    rotating = {"suite": "openbookqa", "answering": {"choice": {"parametric_weight": 0.7, "permutations": 2}}}
    assert fingerprint_changes(once, other) == ["answering"]
    # A folder from before the settings were recorded scored each prompt once: a resume that rotates would mix rows.
    assert fingerprint_changes({"suite": "openbookqa"}, once) == []
    assert fingerprint_changes({"suite": "openbookqa"}, rotating) == ["answering"]


def test_git_state_names_the_commit_and_modified_files(tmp_path):
    import re
    import subprocess

    from kgsolver.evals.run_config import git_state

    assert git_state(tmp_path) is None  # not a checkout
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("one\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a"],
                   check=True)
    (tmp_path / "a.txt").write_text("two\n")
    state = git_state(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", state["commit"]) and state["dirty"] == ["a.txt"]


def test_every_registered_suite_is_an_eval_command_named_as_it_names_itself():
    from kgsolver.evals.suites import SUITES
    from kgsolver.pipeline.serve.cli_eval import eval_app

    assert "conflicts" in SUITES.names()
    assert [c.name for c in eval_app.registered_commands] == [*SUITES.names(), "compare"]
    assert all(get_suite(name).name == name for name in SUITES.names())
    with pytest.raises(ValueError, match="unknown eval suite 'nope'; available: conflicts, hotpotqa"):
        get_suite("nope")
