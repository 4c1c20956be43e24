"""`--engine local|ray` and `--address` for `kgsolver ingest` and `kgsolver eval`: where the work runs."""

from __future__ import annotations

from typing import Optional

import typer

from kgsolver.connectors.errors import KGSolverError
from kgsolver.pipeline.config import KGSolverConfig

ENGINES = ("local", "ray")
ENGINE_OPTION = typer.Option("local", "--engine", help="local|ray: run here, or on a Ray cluster (the `ray` extra)")
ADDRESS_OPTION = typer.Option(None, "--address", help="the Ray cluster: ray://HEAD:10001, HEAD:6379 or auto "
                              "(default: RAY_ADDRESS, else a local cluster for this run)")


def use_engine(engine: str, address: Optional[str], config: KGSolverConfig) -> bool:
    """Check the options; True for Ray, with `config.ray.address` set from --address. Fails before any work when
    the extra is missing."""
    if engine not in ENGINES:
        raise typer.BadParameter(f"use one of {', '.join(ENGINES)}", param_hint="--engine")
    if engine == "local":
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
