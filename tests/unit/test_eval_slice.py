"""`kgsolver eval --start/--limit`: which questions a run takes (evals/runner.py::question_slice), on a small fake
suite whose items list the conditions in the outer loop, as the hotpotqa suite does."""

from pathlib import Path

from kgsolver.evals.runner import question_slice
from kgsolver.evals.suites import WorkItem


class FakeSuite:
    name = "fake"

    def items(self, data_dir: Path, limit: int | None) -> list[WorkItem]:
        qids = [f"q{n}" for n in range(1, 11)][:limit]
        return [WorkItem(qid=q, condition=c, question=q, gold=None) for c in ("rag", "oracle") for q in qids]


def keys(items: list[WorkItem]) -> list[str]:
    return [i.key for i in items]


def test_start_skips_whole_questions_under_every_condition():
    got = question_slice(FakeSuite(), Path("."), 3, 2)  # type: ignore[arg-type]
    assert keys(got) == ["q4::rag", "q5::rag", "q4::oracle", "q5::oracle"]


def test_no_start_is_the_first_limit_questions_and_no_limit_runs_to_the_end():
    assert keys(question_slice(FakeSuite(), Path("."), 0, 1)) == ["q1::rag", "q1::oracle"]  # type: ignore[arg-type]
    rest = question_slice(FakeSuite(), Path("."), 8, None)  # type: ignore[arg-type]
    assert keys(rest) == ["q9::rag", "q10::rag", "q9::oracle", "q10::oracle"]
