"""Batch eval on a Ray cluster (`kgsolver eval SUITE --engine ray`): questions spread over actors, each with its own
Solver, so each loads its own local GGUF model (threads pinned to the actor's CPUs) or talks to one shared
OpenAI-compatible endpoint (`--llm openai:MODEL` with `llm.base_url`). The actors only answer: they return rows, and
the driver (evals/runner.py) appends each to predictions.jsonl as it arrives, so resume works as for the local engine.
The knowledge base folder must be readable at the same path on every node (one machine, or a shared volume).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgsolver.evals.run_config import EvalConfig
from kgsolver.evals.suites import WorkItem, get_suite


class EvalActor:
    """One Solver per actor, loaded once; `answer` is the local engine's `evaluate_item`."""

    def __init__(self, suite: str, kb: str, config_json: str) -> None:
        from kgsolver.pipeline.kb.ingest_ray import actor_threads
        from kgsolver.pipeline.solver import Solver

        config = EvalConfig.model_validate_json(config_json)  # the eval-only settings too
        config.llm.n_threads = actor_threads()  # llama.cpp would otherwise take every core of the node
        self.suite, self.solver = get_suite(suite), Solver(Path(kb), config)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def answer(self, item: WorkItem, mode: str) -> dict[str, Any]:
        from kgsolver.evals.runner import evaluate_item

        return {**evaluate_item(self.suite, item, self.solver, mode), "worker": self.worker}


def ray_rows(suite: str, kb: Path, config: EvalConfig, items: list[WorkItem],
             mode: str) -> Iterator[dict[str, Any]]:
    """Rows of `items` as the actors finish them (any order). Actors are restarted and calls retried as
    `config.ray` says; an actor lost past that raises, after the rows already yielded were written."""
    import ray
    from ray.util import ActorPool

    from kgsolver.pipeline.kb.ingest_ray import connect

    if not items:
        return
    settings = config.ray
    connect(settings.address, settings.connect_timeout_s)
    cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]  # ray leaves it untyped
    count = min(len(items), settings.workers or max(1, int(cpus // settings.actor_cpus)))
    remote = ray.remote(num_cpus=settings.actor_cpus, max_restarts=settings.max_restarts,
                        max_task_retries=settings.max_task_retries)(EvalActor)
    actors = [remote.remote(suite, str(kb.resolve()), config.model_dump_json()) for _ in range(count)]
    try:
        yield from ActorPool(actors).map_unordered(lambda actor, item: actor.answer.remote(item, mode), items)
    finally:
        for actor in actors:
            ray.kill(actor)  # type: ignore[arg-type]  # ray's remote() overloads type the actor as its class
