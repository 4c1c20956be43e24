"""The knowledge-conflict suite: samples built from the shared data (no LLM), then the three conditions end to end
on one real question with the real Qwen 0.5B."""

from __future__ import annotations

import pytest

from kgsolver.evals.conflicts import (CONDITIONS, build_samples, evaluate, format_table, matches,
                                      same_answer)
from kgsolver.pipeline.filters.base import normal


def test_samples_are_built_from_gold_passages(shared_datasets, embedder):
    samples = build_samples(6, embedder=embedder)
    assert len(samples) == 6 and len({normal(s.question) for s in samples}) == 6
    for s in samples:
        assert s.kind != "comparison" and normal(s.answer) not in normal(s.question)
        gold_text = " ".join(t for _, t in s.gold).lower()
        assert s.answer.lower() in gold_text
        cf = " ".join(t for _, t in s.counterfactual())
        assert s.substitute in cf and s.answer.lower() not in cf.lower()
        assert s.substitute_kind and normal(s.substitute) not in normal(s.answer)
        assert 1 <= len(s.assumptions()) <= 3 and all(normal(s.substitute) in normal(a) for a in s.assumptions())
        assert len(s.irrelevant) == 3 and all(normal(s.answer) not in normal(t) for _, t in s.irrelevant)
    # deterministic, and the nearest same-kind name: a date for a date, a person for a person
    assert [s.substitute for s in build_samples(3, embedder=embedder)] == [s.substitute for s in samples[:3]]
    kinds = {s.substitute_kind for s in samples}
    assert kinds & {"PERSON", "DATE", "GPE", "ORG", "CARDINAL", "WORK_OF_ART"}, kinds


def test_matching_rules():
    assert matches("It was Zanzibar Quintet.", "Zanzibar Quintet") and not matches("Rush", "Zanzibar Quintet")
    assert same_answer(None, None) and same_answer("Paris", "paris") and not same_answer("Paris", None)
    assert matches("1969-1974", "1969 until 1974") and matches("1986–2013", "from 1986 to 2013")
    assert matches("University of the District of Columbia", "UDC") and matches("UDC", "University of the District of Columbia")
    assert not matches("University of Dayton", "UDC") and not matches("US", "the Soviet Union")
    assert matches("2013–14 Premier League I FBS", "The 2013–14 Premier League")
    assert not matches("1972-1978", "1969 until 1974") and not matches("1969", "1972 to 1978")


@pytest.mark.llm
def test_three_conditions_end_to_end(qwen05, embedder, config, shared_datasets):
    samples = build_samples(1, seed=0, source="hotpotqa", embedder=embedder)
    result = evaluate(samples, qwen05, embedder, config, systems=("default", "closed_book"))
    rates = result["rates"]
    # irrelevant context: the policy falls back on the model's own answer, which is the closed-book answer
    assert rates[("irrelevant", "default")] == 1.0 and rates[("irrelevant", "closed_book")] == 1.0
    # a user-stated fact outranks the (contradicting) gold passages
    assert rates[("assumption", "default")] == 1.0, result["records"]
    # the closed-book model cannot know the invented substitute
    assert rates[("counterfactual", "closed_book")] == 0.0
    assert len(result["records"]) == len(CONDITIONS) * 2
    assert "counterfactual" in format_table(result, systems=("default", "closed_book"))


def test_counterfactual_renames_the_page_about_the_answer():
    from kgsolver.evals.conflicts import ConflictSample

    s = ConflictSample("q", "Who wrote These Boots?", "Barton Lee Hazlewood",
                       [("Lee Hazlewood", "Barton Lee Hazlewood (born 1929) was a singer."),
                        ("These Boots (song)", "A song by Barton Lee Hazlewood, sung by Lee Hazlewood.")],
                       substitute="Harry Lee")
    assert s.counterfactual() == [("Harry Lee", "Harry Lee (born 1929) was a singer."),
                                  ("These Boots (song)", "A song by Harry Lee, sung by Harry Lee.")]
    # every edited sentence is stated, the one nearest the question first, each naming what it is about
    assert s.assumptions() == ["These Boots: A song by Harry Lee, sung by Harry Lee.",
                               "Harry Lee (born 1929) was a singer."]


def test_unknown_system_is_refused_by_name(capsys):
    from kgsolver.evals.conflicts import main

    with pytest.raises(SystemExit) as exc:
        main(["--systems", "default,oracle"])
    assert exc.value.code == 2
    assert "--systems: unknown ['oracle']" in capsys.readouterr().err


def test_a_reply_that_breaks_its_json_is_a_miss_not_a_crash():
    """The 1.5B model once cut its plain-RAG reply off mid-JSON; the suite scores that as no answer and goes on."""
    from kgsolver.connectors.errors import StructuredOutputError
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
    import json

    from kgsolver.evals.conflicts import main

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
    main(["--table", str(saved), "--audit", str(audit)])
    table = {line[:44].strip(): line[44:].split() for line in capsys.readouterr().out.splitlines()}
    assert table["intact (control): = gold answer"] == ["0.67"]
    assert table["irrelevant: = closed-book"] == ["0.67"]
    assert table["counterfactual | intact answered"] == ["0.50", "(n=2)"]
    assert table["counterfactual | plausible substitute"] == ["1.00", "(n=2)"]  # b's "fruit" left out
    assert table["assumption | plausible, intact answered"] == ["1.00", "(n=1)"]
    audit.write_text("qid\tjudgement\na\tok\n")
    with pytest.raises(ValueError, match="audit.tsv: an audit needs the TSV columns qid and verdict"):
        main(["--table", str(saved), "--audit", str(audit)])
