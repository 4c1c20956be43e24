"""`kgsolver ask` applies the API's question limits before any model or knowledge base is touched (issue 19.7)."""

from typer.testing import CliRunner

from kgsolver.connectors.errors import KGSolverError
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.serve.api_models import AskRequest
from kgsolver.pipeline.serve.cli import app


def _ask(question: str, tmp_path) -> BaseException | None:
    result = CliRunner().invoke(app, ["ask", question, "--kb", str(tmp_path / "no-kb")])
    return result.exception


def test_a_question_over_the_limit_is_refused_with_the_limit(tmp_path):
    limit = KGSolverConfig().limits.question_chars
    error = _ask("why " * 5_000, tmp_path)  # 20,000 characters, the size that ran past 5 minutes
    assert isinstance(error, KGSolverError)
    assert str(error) == (f"the question is 20,000 characters; the limit is {limit:,} "
                          f"(set KGSOLVER_LIMITS__QUESTION_CHARS to change it)")


def test_the_cli_and_the_api_share_one_limit(tmp_path, monkeypatch):
    limit = KGSolverConfig().limits.question_chars
    assert AskRequest.model_fields["question"].metadata[-1].max_length == limit
    monkeypatch.setenv("KGSOLVER_LIMITS__QUESTION_CHARS", "10")
    assert "the limit is 10 " in str(_ask("x" * 11, tmp_path))
    # Within the limit the question goes on to the knowledge base, which does not exist here.
    assert "the question" not in str(_ask("x" * 10, tmp_path))
