"""The command line (pipeline/serve/cli.py): `--engine` and `--address` (issue 17), checked before any work and set
where ingest and eval read them; and `kgsolver ask` applies the API's question limits before any model or knowledge
base is touched (issue 19.7)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from kgsolver.connectors import KGSolverError
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.serve.api_models import AskRequest
from kgsolver.pipeline.serve.cli import app, use_engine


def test_local_is_the_default_and_the_environment_can_choose_ray(monkeypatch):
    assert use_engine(None, None, config := KGSolverConfig()) is False and config.ray.engine == "local"
    monkeypatch.setenv("KGSOLVER_RAY__ENGINE", "ray")
    monkeypatch.setenv("KGSOLVER_RAY__ADDRESS", "ray://head:10001")
    config = KGSolverConfig()
    assert use_engine(None, None, config) is True and config.ray.address == "ray://head:10001"
    assert use_engine("local", None, config) is False and config.ray.engine == "local"  # the option wins


def test_ray_sets_the_address_and_bad_options_are_refused():
    config = KGSolverConfig()
    assert use_engine("ray", "ray://10.0.0.5:10001", config) is True
    assert (config.ray.engine, config.ray.address) == ("ray", "ray://10.0.0.5:10001")
    with pytest.raises(typer.BadParameter, match="local, ray"):
        use_engine("spark", None, KGSolverConfig())
    with pytest.raises(typer.BadParameter, match="--engine ray"):
        use_engine("local", "ray://head:10001", KGSolverConfig())


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
