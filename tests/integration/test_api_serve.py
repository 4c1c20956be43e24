"""`kgsolver serve` as a real process: the command a container runs (Dockerfile CMD)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_until_up

KGSOLVER = Path(sys.executable).with_name("kgsolver")


def test_kgsolver_serve_starts_the_api_from_the_environment(tmp_path):
    port = free_port()
    root = tmp_path / "kbs"
    key = {"X-API-Key": "serve-test-key"}
    env = dict(os.environ, KGSOLVER_KB_ROOT=str(root), KGSOLVER_API_PORT=str(port), KGSOLVER_API__KEY=key["X-API-Key"],
               KGSOLVER_LLM__NAME="openai:served-model", KGSOLVER_LLM__BASE_URL="http://127.0.0.1:9/v1")
    process = subprocess.Popen([str(KGSOLVER), "serve", "--host", "127.0.0.1"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, seconds=90)
        health = httpx.get(f"{url}/health")  # open without the key: a container's health check
        assert health.json()["llm"] == "openai:served-model" and health.json()["auth"] is True
        assert health.json()["knowledge_bases"] == 0 and not health.json()["embedder_loaded"]
        assert str(tmp_path) not in health.text  # no server paths
        assert httpx.get(f"{url}/kb").status_code == 401 and httpx.get(f"{url}/kb", headers=key).json() == []
        assert root.is_dir()
        assert httpx.get(f"{url}/openapi.json", headers=key).json()["info"]["title"] == "kgsolver"
        assert httpx.post(f"{url}/ask", json={"kb": "none", "question": "q"}).status_code == 401
        missing = httpx.post(f"{url}/ask", json={"kb": "none", "question": "q"}, headers=key)
        assert missing.status_code == 404
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert process.returncode in (0, -15), output
    assert "Uvicorn running" in output or "Application startup complete" in output, output
