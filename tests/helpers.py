"""Plain helpers several test modules share (fixtures live in conftest.py; test modules never import each other)."""

from __future__ import annotations

import socket
import time

from kgsolver.evals.datasets import HOTPOTQA_200, dataset_path, read_jsonl


def bridge_records(n: int = 4) -> list[dict]:
    """The first n HotpotQA bridge questions of the shared dev set."""
    return [r for r in read_jsonl(dataset_path(HOTPOTQA_200)) if r["type"] == "bridge"][:n]


def gold_titles(record: dict) -> set[str]:
    return {t for t, _ in record["supporting_facts"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, seconds: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {seconds}s")
