"""The `ray` block of KGSolverConfig: how `--engine ray` ingests and evaluates (KGSOLVER_RAY__ADDRESS=..., ...)."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import BaseModel, Field


class RaySettings(BaseModel):
    engine: Literal["local", "ray"] = Field("local", description="where ingest and eval run when the command does "
                                            "not say (--engine): the API's ingests follow it too")
    address: str | None = Field(None, description="ray://HEAD:10001, HEAD:6379 or auto; None = RAY_ADDRESS, else a "
                                "local cluster started for the run")
    connect_timeout_s: float = Field(10.0, gt=0, description="seconds the cluster's address has to accept a "
                                     "connection: Ray itself retries an address where nothing listens for minutes")
    workers: int = Field(0, ge=0, description="actors per stage (embed, graph, eval); 0 = one per CPU of the cluster")
    actor_cpus: float = Field(1.0, gt=0, description="CPUs each actor reserves; torch and llama.cpp get as many "
                              "threads (at least 1), so actors never oversubscribe the cores they were given")
    batch_documents: int = Field(64, ge=1, description="documents per chunk-and-embed call of an actor: each call "
                                 "writes one segment (compaction merges them later)")
    batch_chunks: int = Field(64, ge=1, description="chunks per graph-extraction call of an actor")
    max_restarts: int = Field(3, ge=0, description="times Ray restarts an actor whose process died")
    max_task_retries: int = Field(3, ge=0, description="times a call on a died actor is retried once restarted")


def _endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of `ray://HOST:PORT` or `HOST:PORT`; None for `auto`, `local` or an address without a port."""
    host, colon, port = address.split("://", 1)[-1].rstrip("/").rpartition(":")
    return (host.strip("[]"), int(port)) if colon and host and port.isdigit() else None


def check_reachable(address: str, timeout_s: float) -> None:
    """Raise ConnectionError naming the address unless something accepts a TCP connection at its host and port
    within `timeout_s` (the addresses Ray resolves itself, `auto` and `local`, are left to it)."""
    endpoint = _endpoint(address)
    if endpoint is None:
        return
    try:
        socket.create_connection(endpoint, timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"nothing accepted a connection at {endpoint[0]}:{endpoint[1]} within "
                              f"{timeout_s:g} s ({exc})") from exc
