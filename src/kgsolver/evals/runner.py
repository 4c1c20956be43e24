"""The batch runner: resumable, deterministic, LLM-cached, parallel, with a progress bar.

One JSON row per work item is appended to `predictions.jsonl` (flushed and fsynced) as soon as it finishes; a re-run
skips the keys already there, so a killed run loses at most the items in flight. A torn last line is dropped on
resume. `config.json` records everything needed to reproduce the run; a resume with a different fingerprint
(suite, mode, model, seed, data) is refused rather than mixed into the same predictions.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from kgsolver.connectors import KGSolverError
from kgsolver.connectors.embedders import TokenizingEmbedder
from kgsolver.connectors.row_log import RowLog, read_rows
from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.run_config import EvalConfig, build_config, fingerprint_changes, sha256_file
from kgsolver.evals.suites import Suite, WorkItem, get_suite
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb import write_json_atomic
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.solver import Solver

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms.gateway import LLMGateway

PREDICTIONS = "predictions.jsonl"


@dataclass
class RunSpec:
    suite: str
    kb: Path | None  # None: the suite's own folder under the cache (default_kb)
    out: Path
    mode: str = "naive"
    llm: str | None = None
    limit: int | None = None
    start: int = 0  # questions of the set skipped first: a held-out part after the part settings were chosen on
    workers: int = 1
    data_dir: Path | None = None
    conditions: list[str] | None = None  # None = all of the suite's conditions
    command: list[str] = field(default_factory=list)
    show_progress: bool = True
    engine: str | None = None  # local|ray (Ray actors answer, evals/ray_eval.py); None: config.ray.engine


def load_done(path: Path) -> dict[str, dict[str, Any]]:
    """Completed rows by key; a torn last line (a run killed mid-write) is dropped and the file rewritten without it."""
    return read_rows(path, lambda row: row["key"], repair=True)


def evaluate_item(suite: Suite, item: WorkItem, solver: Solver, mode: str) -> dict[str, Any]:
    started = time.perf_counter()
    base = {"key": item.key, "qid": item.qid, "condition": item.condition, "group": item.group,
            "question": item.question, "gold": item.gold}
    try:
        out = suite.evaluate(item, solver, mode)
    except KGSolverError as exc:  # one failing question is recorded (and scored 0), not fatal to the run
        out = {"prediction": None, "error": f"{type(exc).__name__}: {exc}", "metrics": {}, "usage": {}, "trace": []}
    return {**base, **out, "seconds": round(time.perf_counter() - started, 3)}


SUITE_MARKER = "eval_suite.json"  # in a knowledge base a suite built: which suite, from which corpus files


def default_kb(suite: str, config: KGSolverConfig) -> Path:
    """Where a suite builds its knowledge base when no --kb is named: the cache folder, one per suite."""
    return config.cache_dir / "eval-kbs" / suite


def _check_kb_owner(kb: Path, suite: Suite) -> dict[str, Any] | None:
    """The marker of a knowledge base this suite built (None for a new, empty folder). A suite adds its benchmark
    corpus only to a knowledge base it built: any other folder with content (a user's KB) is refused untouched."""
    marker = kb / SUITE_MARKER
    if marker.is_file():
        built: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        if built.get("suite") != suite.name:
            raise KGSolverError(f"{kb} was built by the {built.get('suite')!r} suite, not {suite.name!r}; "
                                "name another --kb folder (or leave --kb out for the cache folder)")
        return built
    if kb.exists() and (not kb.is_dir() or any(kb.iterdir())):
        raise KGSolverError(f"{kb} is not a knowledge base built by the {suite.name} suite (no {SUITE_MARKER}); an "
                            "eval never adds its benchmark corpus to another knowledge base: name a new folder with "
                            "--kb, or leave --kb out for the cache folder")
    return None


def build_suite_kb(suite: Suite, kb: Path, data_dir: Path, config: KGSolverConfig, *,
                   embedder: TokenizingEmbedder | None = None,
                   show_progress: bool = True) -> Path:
    """The suite's own knowledge base at `kb`: built (or completed, after a killed ingest) from its corpus, with a
    marker of the suite and corpus written first; refused when another suite or corpus built it, or a user did."""
    built = _check_kb_owner(kb, suite)
    if built is None:  # claimed before anything is written into it, so a killed build can be completed
        kb.mkdir(parents=True, exist_ok=True)
        write_json_atomic(kb / SUITE_MARKER, built := {"suite": suite.name, "corpus": None})
    with tempfile.TemporaryDirectory() as scratch:  # derived corpora are compared before anything in kb changes
        digests = {p.name: sha256_file(p) for p in suite.corpus_files(data_dir, Path(scratch))}
    if built["corpus"] not in (None, digests):
        raise KGSolverError(f"{kb} was built by the {suite.name} suite from other corpus files "
                            f"({', '.join(built['corpus']) or 'none'}); name a new --kb folder")
    corpus: list[str | Path] = list(suite.corpus_files(data_dir, kb))
    if built["corpus"] is None:
        write_json_atomic(kb / SUITE_MARKER, {"suite": suite.name, "corpus": digests})
    from kgsolver.pipeline.kb.upgrade import upgrade_if_format_1

    upgrade_if_format_1(kb, config)  # the suite's own cached KB, pre-segments: converted in place, nothing re-embedded
    ingest(corpus, kb, config, embedder=embedder, show_progress=show_progress)  # incremental: nothing new, no work
    return kb


def _prepare(spec: RunSpec, suite: Suite, config: EvalConfig, solver: Solver, data_dir: Path,
             ingest_embedder: TokenizingEmbedder | None) -> None:
    spec.out.mkdir(parents=True, exist_ok=True)
    wanted = spec.conditions or list(suite.conditions)
    unknown = sorted(set(wanted) - set(suite.conditions))
    if unknown:
        raise KGSolverError(f"{suite.name} has no condition {unknown}; it has {', '.join(suite.conditions)}")
    if set(wanted) - set(suite.offline_conditions):
        build_suite_kb(suite, solver.kb_dir, data_dir, config, embedder=ingest_embedder,
                       show_progress=spec.show_progress)
    config_path = spec.out / "config.json"
    fresh = build_config(spec, suite, config, solver, data_dir)
    if config_path.exists():
        old = json.loads(config_path.read_text(encoding="utf-8"))
        changed = fingerprint_changes(old, fresh)
        if changed:
            raise KGSolverError(f"{spec.out} holds a run with different {', '.join(changed)}; use a new --out folder")
        fresh["invocations"] = old.get("invocations", []) + fresh["invocations"]
    write_json_atomic(config_path, fresh)


def question_slice(suite: Suite, data_dir: Path, start: int, limit: int | None) -> list[WorkItem]:
    """The items of questions start+1 .. start+limit of the set (every condition of each), in the suite's order."""
    items = suite.items(data_dir, None if limit is None else start + limit)
    skipped = set(list(dict.fromkeys(i.qid for i in items))[:start])
    return [i for i in items if i.qid not in skipped]


def run_eval(spec: RunSpec, config: KGSolverConfig | None = None, *, embedder: Embedder | None = None,
             gateway: LLMGateway | None = None, ingest_embedder: TokenizingEmbedder | None = None) -> Path:
    """Run (or resume) a suite; returns the run directory. Reports and plots are written at the end. `embedder`
    encodes questions (None: the configured query embedder); `ingest_embedder` chunks and embeds the suite's corpus
    when its knowledge base is built (None: ingest loads the configured one). The caller says which embedder does
    what: the query path's embedder may chunk nothing, and one that can do both may be passed as both."""
    from kgsolver.evals.report import write_report

    config = EvalConfig.of(config)  # a copy, with the eval-only settings
    if spec.llm:
        config.llm.name = spec.llm
    if spec.engine:  # validated: a typo is an error, not the local engine
        config.ray = type(config.ray).model_validate({**config.ray.model_dump(), "engine": spec.engine})
    suite, data_dir = get_suite(spec.suite), spec.data_dir or datasets_dir()
    kb = spec.kb or default_kb(suite.name, config)
    spec = dataclasses.replace(spec, kb=kb)
    solver = Solver(kb, config, embedder=embedder, gateway=gateway)
    _prepare(spec, suite, config, solver, data_dir, ingest_embedder)
    if config.ray.engine == "local":
        _ = solver.gateway  # load once, before worker threads share them (Ray actors load their own)
    items = [i for i in question_slice(suite, data_dir, spec.start, spec.limit)
             if not spec.conditions or i.condition in spec.conditions]
    path = spec.out / PREDICTIONS
    done = load_done(path)
    pending = [item for item in items if item.key not in done]
    scores = [r.get("metrics", {}).get(suite.headline, 0.0) for r in done.values() if not r.get("unavailable")]
    writer = RowLog(path)
    bar = tqdm(total=len(items), initial=len(items) - len(pending), unit="q", desc=spec.suite,
               disable=not spec.show_progress)
    try:
        for row in _rows(spec, suite, solver, config, pending):
            writer.write(row)
            if not row.get("unavailable"):
                scores.append(row.get("metrics", {}).get(suite.headline, 0.0))
            bar.set_postfix({suite.headline: f"{sum(scores) / len(scores):.3f}"})
            bar.update(1)
    finally:
        writer.close()
        bar.close()
    write_report(spec.out, suite, [k.key for k in items])
    return spec.out


def _rows(spec: RunSpec, suite: Suite, solver: Solver, config: EvalConfig,
          pending: list[WorkItem]) -> Iterator[dict[str, Any]]:
    """Finished rows in completion order: from this process's threads, or from Ray actors."""
    if config.ray.engine == "ray":
        from kgsolver.evals.ray_eval import ray_rows

        yield from ray_rows(suite.name, solver.kb_dir, config, pending, spec.mode)
        return
    with ThreadPoolExecutor(max_workers=max(1, spec.workers)) as pool:
        futures = [pool.submit(evaluate_item, suite, item, solver, spec.mode) for item in pending]
        for future in as_completed(futures):
            yield future.result()
