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

from pydantic import BaseModel, Field

from kgsolver.connectors.llms.registry import MODELS
from kgsolver.pipeline.config import KGSolverConfig

if TYPE_CHECKING:
    from kgsolver.evals.runner import RunSpec
    from kgsolver.evals.suites import Suite
    from kgsolver.pipeline.solver import Solver


class ChoiceSettings(BaseModel):
    """Multiple-choice questions (the OpenBookQA, MedQA and PubMedQA suites): each option's letter is scored, not
    generated (evals/suites/common.py), and these settings decide among the scores (evals/suites/choice_bias.py).
    Only the eval suites score choices, so the block is the eval configuration's, not the product's."""

    parametric_weight: float = Field(0.7, ge=0.0, le=1.0, description="the rag+closed-book condition: weight of the "
                                     "closed-book letter distribution, mixed log-linearly with the passage-conditioned "
                                     "one; chosen with the 1.5B on the first 100 questions of OpenBookQA and of MedQA")
    permutations: int = Field(4, ge=1, description="score the options this many times, their texts rotated over the "
                              "letters, and average each option's log-probability over the rotations (position bias); "
                              "at most one per option, so 4 is every rotation of OpenBookQA's and MedQA's four options "
                              "and PubMedQA's three labels. One scored call a prompt: the rotations share the prompt "
                              "up to the options, evaluated once. 4 won the first 100 OpenBookQA questions with the "
                              "1.5B (rag and rag+closed-book; docs/RESULTS.md, ninth session)")


class EvalConfig(KGSolverConfig):
    """The configuration of an eval run: the product's settings and the eval-only ones (KGSOLVER_CHOICE__...)."""

    choice: ChoiceSettings = ChoiceSettings()

    @classmethod
    def of(cls, config: KGSolverConfig | None) -> EvalConfig:
        """A copy of `config` as an eval configuration: an EvalConfig keeps its eval settings; a product
        configuration (or None: the environment's) gets the environment's, as the product configuration did when it
        held them."""
        if isinstance(config, EvalConfig):
            return config.model_copy(deep=True)
        return cls(**config.model_dump()) if config is not None else cls()


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


def build_config(spec: RunSpec, suite: Suite, config: EvalConfig, solver: Solver, data_dir: Path) -> dict[str, Any]:
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
