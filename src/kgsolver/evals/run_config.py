"""`config.json` of a run: everything needed to reproduce it (versions, model and data sha256s, settings)."""

from __future__ import annotations

import contextlib
import hashlib
import platform
import shlex
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.llms.registry import MODELS

if TYPE_CHECKING:
    from kgsolver.evals.runner import RunSpec
    from kgsolver.evals.suites import Suite
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.solver import Solver

# A resumed run must agree on these, or its rows would mix two experiments.
FINGERPRINT_KEYS = ("suite", "mode", "model", "embedder", "seed", "policy", "answering", "data")
DISTRIBUTIONS = ("kgsolver", "llama_cpp_python", "torch", "sentence-transformers", "faiss-cpu", "bm25s",
                 "langchain-core", "pydantic", "numpy")

_sha_cache: dict[tuple[str, float, int], str] = {}


def sha256_file(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_mtime, stat.st_size)
    if key not in _sha_cache:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in DISTRIBUTIONS:
        with contextlib.suppress(PackageNotFoundError):
            out[dist] = version(dist)
    return out


def model_info(name: str) -> dict[str, Any]:
    """The registry entry (file, size, sha256, carrying packages) for a local model; just the name otherwise."""
    model = MODELS.get(name)
    if model is None:
        return {"name": name}
    return {"name": name, "filename": model.filename, "size": model.size, "sha256": model.sha256,
            "packages": [f"{d}=={model.version}" for d in model.distributions]}


def fingerprint_changes(old: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """The fingerprint keys on which a resume disagrees with the run folder. A run begun without a knowledge base
    (only offline conditions, e.g. MedQA closed-book before the corpus was ingested) recorded no knowledge-base
    embedder; its rows used none, so adding conditions that need the knowledge base later is no disagreement."""
    changed = [k for k in FINGERPRINT_KEYS if old.get(k) != fresh.get(k)]
    # A folder from before the answer settings were recorded: its multiple-choice rows were scored once each, so only
    # a resume that scores once too agrees with them.
    if ("answering" in changed and "answering" not in old
            and ((fresh.get("answering") or {}).get("choice") or {}).get("permutations", 1) == 1):
        changed.remove("answering")
    if ("embedder" in changed and (old.get("embedder") or {}).get("knowledge_base") is None
            and dict(old["embedder"], knowledge_base=None) == dict(fresh.get("embedder") or {}, knowledge_base=None)):
        changed.remove("embedder")
    return changed


def build_config(spec: RunSpec, suite: Suite, config: KGSolverConfig, solver: Solver, data_dir: Path) -> dict[str, Any]:
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    kb = solver.kb_dir
    kb_embedder = KnowledgeBase.open(kb).manifest.get("embedder") if (kb / "manifest.json").exists() else None
    return {
        "suite": suite.name,
        "mode": spec.mode,
        "model": model_info(config.llm.name),
        "embedder": {"settings": config.embedder.model_dump(mode="json"), "knowledge_base": kb_embedder},
        "seed": config.llm.seed,
        "policy": {"llm": config.llm.model_dump(mode="json", exclude={"api_key_env", "request_timeout_s"}),
                   "retrieval": config.retrieval.model_dump(mode="json"),
                   "chunking": config.chunking.model_dump(mode="json"),
                   "budget": config.budget.model_dump(mode="json"), "llm_cache": config.llm_cache},
        # What decides an answer from the evidence (the rag+closed-book mixing weight among them).
        "answering": {name: getattr(config, name).model_dump(mode="json")
                      for name in ("preference", "filters", "answer_form", "choice", "agent")},
        "data": {rel: sha256_file(data_dir / rel) for rel in suite.files},
        "limit": spec.limit,
        "start": spec.start,
        "workers": spec.workers,
        "kb": str(spec.kb),
        "datasets_dir": str(data_dir),
        "versions": versions(),
        "hardware": {"machine": platform.machine(), "cpus": _cpus(), "system": platform.system()},
        "invocations": [{"command": shlex.join(spec.command) if spec.command else None,
                         "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "limit": spec.limit,
                         "start": spec.start, "git": git_state()}],
    }


def git_state(root: Path | None = None) -> dict[str, Any] | None:
    """The commit the code ran from and whether tracked files differed from it; None outside a git checkout."""
    import subprocess

    root = root or Path(__file__).resolve().parent  # git finds the checkout from any folder in it
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": sorted(line[3:] for line in dirty.splitlines() if line.strip())}


def _cpus() -> int | None:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()
