"""The knowledge-conflict suite: the frozen questions joined with the shared data (no LLM), the offline generator
still reproducing them, the four conditions end to end on one real question with the real Qwen 0.5B, through the
eval runner too, and the table of a saved run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgsolver.connectors import KGSolverError
from kgsolver.connectors.text import normal
from kgsolver.evals.conflicts import CONDITIONS, DATA_FILE, ConflictSample, evaluate, load_samples
from kgsolver.evals.conflicts_table import format_table

REPO = Path(__file__).resolve().parents[2]


def test_frozen_questions_join_their_gold_passages(shared_datasets):
    samples = load_samples(shared_datasets)
    assert len(samples) == 40 and len({normal(s.question) for s in samples}) == 40
    assert {s.source for s in samples[:2]} == {"hotpotqa", "kilt"}  # the two sets alternate
    assert sum(s.verdict == "plausible" for s in samples) == 31  # benchmarks/results/conflicts40_substitute_audit.tsv
    for s in samples:
        assert s.kind != "comparison" and normal(s.answer) not in normal(s.question)
        assert s.answer.lower() in " ".join(t for _, t in s.gold).lower()
        cf = " ".join(t for _, t in s.counterfactual())
        assert s.substitute in cf and s.answer.lower() not in cf.lower()
        assert 1 <= len(s.assumptions()) <= 3 and all(normal(s.substitute) in normal(a) for a in s.assumptions())
        assert len(s.irrelevant) == 3 and all(normal(s.answer) not in normal(t) for _, t in s.irrelevant)
    assert [s.qid for s in load_samples(shared_datasets, 3)] == [s.qid for s in samples[:3]]


def test_a_frozen_row_that_no_longer_fits_is_refused_with_its_line(tmp_path, shared_datasets):
    rows = DATA_FILE.read_text(encoding="utf-8").splitlines()[:2]
    changed = dict(json.loads(rows[1]), answer="Somebody Else")
    bad = tmp_path / "frozen.jsonl"
    bad.write_text(rows[0] + "\n" + json.dumps(changed) + "\n", encoding="utf-8")
    with pytest.raises(KGSolverError, match=r"frozen.jsonl:2: question .* is not in the dataset as frozen"):
        load_samples(shared_datasets, path=bad)
    bad.write_text(rows[0] + "\n{broken\n", encoding="utf-8")
    with pytest.raises(KGSolverError, match=r"frozen.jsonl:2"):
        load_samples(shared_datasets, path=bad)
    del changed["verdict"]
    bad.write_text(json.dumps(changed) + "\n", encoding="utf-8")
    with pytest.raises(KGSolverError, match=r"frozen.jsonl:1: missing field\(s\) verdict"):
        load_samples(shared_datasets, path=bad)


@pytest.mark.slow
def test_the_offline_generator_reproduces_the_frozen_rows(shared_datasets, embedder):
    from kgsolver.evals.scripts.freeze_conflicts import build_samples, frozen_row, read_audit
    audit = read_audit(REPO / "benchmarks" / "results" / "conflicts40_substitute_audit.tsv")
    rows = [frozen_row(s, audit) for s in build_samples(6, 0, "both", embedder)]
    assert rows == [json.loads(line) for line in DATA_FILE.read_text(encoding="utf-8").splitlines()[:6]]


@pytest.mark.llm
def test_four_conditions_end_to_end(qwen05, embedder, config, shared_datasets):
    result = evaluate(load_samples(shared_datasets, 1), qwen05, embedder, config, systems=("default", "closed_book"))
    rates = result["rates"]
    # irrelevant context: the policy falls back on the model's own answer, which is the closed-book answer
    assert rates[("irrelevant", "default")] == 1.0 and rates[("irrelevant", "closed_book")] == 1.0
    # a user-stated fact outranks the (contradicting) gold passages
    assert rates[("assumption", "default")] == 1.0, result["records"]
    # the closed-book model cannot know the invented substitute
    assert rates[("counterfactual", "closed_book")] == 0.0
    assert len(result["records"]) == len(CONDITIONS) * 2
    assert "counterfactual" in format_table(result, systems=("default", "closed_book"))


@pytest.mark.llm
def test_the_suite_runs_through_the_eval_runner_without_a_knowledge_base(tmp_path, qwen05, embedder, config,
                                                                         shared_datasets):
    from kgsolver.evals.conflicts_table import load_result
    from kgsolver.evals.runner import RunSpec, default_kb, run_eval

    run = run_eval(RunSpec(suite="conflicts", kb=None, out=tmp_path / "run", limit=1, show_progress=False),
                   config, embedder=embedder, gateway=qwen05, ingest_embedder=embedder)
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["condition"] for r in rows) == sorted(CONDITIONS)
    assert all(set(r["metrics"]) == {"default", "plain_rag", "closed_book"} for r in rows)
    assert not default_kb("conflicts", config).exists()  # the passages come with the questions
    # the runner's rows are the in-process evaluation's records (same prompts; the gateway's cache answers)
    same = evaluate(load_samples(shared_datasets, 1), qwen05, embedder, config)
    assert sorted(load_result(run)["records"], key=str) == sorted(same["records"], key=str)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["conditions"]["intact"]["metrics"]["default"] == same["rates"][("intact", "default")]


def test_counterfactual_renames_the_page_about_the_answer():
    s = ConflictSample("q", "Who wrote These Boots?", "Barton Lee Hazlewood",
                       [("Lee Hazlewood", "Barton Lee Hazlewood (born 1929) was a singer."),
                        ("These Boots (song)", "A song by Barton Lee Hazlewood, sung by Lee Hazlewood.")],
                       substitute="Harry Lee")
    assert s.counterfactual() == [("Harry Lee", "Harry Lee (born 1929) was a singer."),
                                  ("These Boots (song)", "A song by Harry Lee, sung by Harry Lee.")]
    # every edited sentence is stated, the one nearest the question first, each naming what it is about
    assert s.assumptions() == ["These Boots: A song by Harry Lee, sung by Harry Lee.",
                               "Harry Lee (born 1929) was a singer."]


def test_a_reply_that_breaks_its_json_is_a_miss_not_a_crash():
    """The 1.5B model once cut its plain-RAG reply off mid-JSON; the suite scores that as no answer and goes on."""
    from kgsolver.connectors import StructuredOutputError
    from kgsolver.evals.conflicts import run_closed_book, run_plain_rag
    from kgsolver.pipeline.config import KGSolverConfig

    class BrokenJSON:
        def chat_json(self, *args, **kwargs):
            raise StructuredOutputError('plain rag: constrained output did not validate: \'{"answer": ">{{{context\'')

    class Gateway:
        def session(self, budget):
            return BrokenJSON()

    assert run_plain_rag(Gateway(), "Where?", [("T", "text")], []) is None
    assert run_closed_book(Gateway(), KGSolverConfig(), "Where?") is None


def test_a_saved_run_is_re_tabled_with_an_audit_of_its_substitutes(tmp_path, capsys):
    from kgsolver.evals.conflicts_table import main

    def rec(qid, condition, answer, target):
        return {"qid": qid, "condition": condition, "system": "default", "answer": answer, "target": target,
                "ok": False}  # re-scored on load

    records = [rec("a", "intact", "Rush", "Rush"), rec("a", "counterfactual", "Yes", "Yes"),
               rec("a", "irrelevant", None, None), rec("a", "assumption", "Yes", "Yes"),
               rec("b", "intact", "Oslo", "Oslo"), rec("b", "counterfactual", "Oslo", "fruit"),
               rec("b", "irrelevant", "Bergen", "Oslo"), rec("b", "assumption", "Oslo", "fruit"),
               rec("c", "intact", "x", "Paris"), rec("c", "counterfactual", "Rome", "Rome"),
               rec("c", "irrelevant", "Lyon", "Lyon"), rec("c", "assumption", "x", "Rome")]
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"n": 3, "records": records}))
    audit = tmp_path / "audit.tsv"
    audit.write_text("qid\tanswer\tsubstitute\tverdict\twhy\na\t\t\tplausible\t\nb\t\t\timplausible\tfood\n"
                     "c\t\t\tplausible\t\n")
    main([str(saved), "--audit", str(audit)])
    table = {line[:44].strip(): line[44:].split() for line in capsys.readouterr().out.splitlines()}
    assert table["intact (control): = gold answer"] == ["0.67"]
    assert table["irrelevant: = closed-book"] == ["0.67"]
    assert table["counterfactual | intact answered"] == ["0.50", "(n=2)"]
    assert table["counterfactual | plausible substitute"] == ["1.00", "(n=2)"]  # b's "fruit" left out
    assert table["assumption | plausible, intact answered"] == ["1.00", "(n=1)"]
    audit.write_text("qid\tjudgement\na\tok\n")
    with pytest.raises(ValueError, match="audit.tsv: an audit needs the TSV columns qid and verdict"):
        main([str(saved), "--audit", str(audit)])


def test_the_saved_figures_are_reproduced_by_todays_matching_rule():
    """benchmarks/results/conflicts40_*.json were scored by the former rule with its special cases; re-scored by the
    one rule and the frozen aliases, every rate and every `readable` rate is the same."""
    from kgsolver.evals.conflicts_table import load_result
    for model in ("qwen05", "qwen15"):
        path = REPO / "benchmarks" / "results" / f"conflicts40_{model}.json"
        saved, result = json.loads(path.read_text()), load_result(path)
        assert {f"{c}/{s}": v for (c, s), v in result["rates"].items()} == saved["rates"]
        assert {f"{c}/{s}": {"rate": r, "n": n} for (c, s), (r, n) in result["readable"].items()} == saved["readable"]
