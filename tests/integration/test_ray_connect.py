"""`--engine ray` with an address where nothing listens fails within seconds with an error naming the address, for
`kgsolver ingest` and for the eval path (Ray alone retries such an address for over five minutes); nothing is
written. Each runs in its own process, so no Ray session of another test is joined instead."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")
pytestmark = [pytest.mark.ray]

EVAL_PATH = """
import sys
from pathlib import Path
from kgsolver.connectors import KGSolverError
from kgsolver.evals.ray_eval import ray_rows
from kgsolver.evals.suites import WorkItem
from kgsolver.pipeline.config import KGSolverConfig
config = KGSolverConfig()
config.ray.engine, config.ray.address = "ray", sys.argv[1]
try:
    next(ray_rows("openbookqa", Path(sys.argv[2]), config, [WorkItem("q1", "rag", "Why?", "A")], "naive"))
except KGSolverError as exc:
    print(exc)
    sys.exit(2)
"""


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    return done, time.monotonic() - started


def test_ingest_with_an_unreachable_address_fails_fast_naming_it(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "title": "A", "text": "Alan Turing worked at Bletchley Park."}) + "\n")
    address = f"127.0.0.1:{_unused_port()}"
    done, seconds = _run(["-m", "kgsolver.pipeline", "ingest", str(corpus), "--kb", str(tmp_path / "kb"),
                          "--engine", "ray", "--address", address])
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot reach the Ray cluster at {address}" in done.stderr and "nothing was written" in done.stderr
    assert seconds < 30 and not (tmp_path / "kb" / "manifest.json").exists()


def test_the_eval_path_with_an_unreachable_address_fails_fast_naming_it(tmp_path):
    address = f"ray://127.0.0.1:{_unused_port()}"
    done, seconds = _run(["-c", EVAL_PATH, address, str(tmp_path / "kb")])
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot reach the Ray cluster at {address}" in done.stdout and seconds < 30
