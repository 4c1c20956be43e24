"""`--engine local|ray` and `--address` for `kgsolver ingest` and `kgsolver eval`: where the work runs."""

from __future__ import annotations

import typer

from kgsolver.connectors.errors import KGSolverError
from kgsolver.pipeline.config import KGSolverConfig

ENGINES = ("local", "ray")
ENGINE_OPTION = typer.Option(None, "--engine", help="local|ray: run here, or on a Ray cluster (the `ray` extra); "
                             "default: KGSOLVER_RAY__ENGINE, else local")
ADDRESS_OPTION = typer.Option(None, "--address", help="the Ray cluster: ray://HEAD:10001, HEAD:6379 or auto "
                              "(default: RAY_ADDRESS, else a local cluster for this run)")


def use_engine(engine: str | None, address: str | None, config: KGSolverConfig) -> bool:
    """Check the options and set them in `config.ray` (engine, address); True for Ray. Fails before any work when
    the extra is missing."""
    if engine is not None and engine not in ENGINES:
        raise typer.BadParameter(f"use one of {', '.join(ENGINES)}", param_hint="--engine")
    config.ray.engine = engine or config.ray.engine  # type: ignore[assignment]  # checked just above
    if config.ray.engine == "local":
        if address:
            raise typer.BadParameter("--address names a Ray cluster: add --engine ray", param_hint="--address")
        return False
    try:
        import ray  # noqa: F401 - only to fail early and clearly
    except ImportError as exc:
        raise KGSolverError("--engine ray needs the ray extra: pip install 'kgsolver[ray]'") from exc
    if address:
        config.ray.address = address
    return True
