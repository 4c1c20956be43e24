"""`--engine` and `--address` (issue 17): checked before any work, and set where ingest and eval read them."""

from __future__ import annotations

import pytest
import typer

from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.serve.cli_engine import use_engine


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
