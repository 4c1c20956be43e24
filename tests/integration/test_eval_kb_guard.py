"""Issue 19.7a: a suite builds its own knowledge base and never writes its benchmark corpus into one it did not
build (a user's KB named with --kb is refused untouched). Real embedder, real ingest, a real slice of HotpotQA."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kgsolver.connectors import KGSolverError
from kgsolver.evals.datasets import HOTPOTQA_200
from kgsolver.evals.runner import SUITE_MARKER, RunSpec, build_suite_kb, default_kb, run_eval
from kgsolver.evals.suites import get_suite
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _chunks(root: Path) -> int:
    with KnowledgeBase.open(root) as kb:
        return len(kb.chunks)


def _hotpot_slice(shared: Path, target: Path, lines: int) -> Path:
    (target / HOTPOTQA_200).parent.mkdir(parents=True, exist_ok=True)
    head = (shared / HOTPOTQA_200).read_text(encoding="utf-8").splitlines()[:lines]
    (target / HOTPOTQA_200).write_text("\n".join(head) + "\n", encoding="utf-8")
    return target


@pytest.fixture
def no_graph(config):
    quick = config.model_copy(deep=True)
    quick.graph.extractor = "none"  # the guard is about the corpus; a graph would only slow the test
    return quick


def test_a_user_kb_named_with_kb_is_refused_untouched(tmp_path, demo_corpus, shared_datasets, no_graph, embedder):
    user_kb = tmp_path / "my-kb"
    corpus = tmp_path / "mine.jsonl"
    corpus.write_text(demo_corpus.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    ingest(corpus, user_kb, no_graph, embedder=embedder, show_progress=False)
    before, chunks = _snapshot(user_kb), _chunks(user_kb)
    data = _hotpot_slice(shared_datasets, tmp_path / "data", 2)
    spec = RunSpec(suite="hotpotqa", kb=user_kb, out=tmp_path / "run", limit=1, data_dir=data, show_progress=False)
    with pytest.raises(KGSolverError, match=r"my-kb is not a knowledge base built by the hotpotqa suite"):
        run_eval(spec, no_graph, embedder=embedder, ingest_embedder=embedder)
    assert _chunks(user_kb) == chunks and _snapshot(user_kb) == before  # same chunks, same bytes in every file


def test_a_suite_builds_and_reuses_its_own_kb_and_refuses_another_suites(tmp_path, shared_datasets, no_graph,
                                                                         embedder):
    data = _hotpot_slice(shared_datasets, tmp_path / "data", 2)
    suite, kb = get_suite("hotpotqa"), tmp_path / "suite-kb"
    build_suite_kb(suite, kb, data, no_graph, embedder=embedder, show_progress=False)
    built, chunks = _snapshot(kb), _chunks(kb)
    assert chunks > 0 and (kb / SUITE_MARKER).is_file()
    build_suite_kb(suite, kb, data, no_graph, embedder=embedder, show_progress=False)  # its own: reused as it is
    assert _snapshot(kb) == built
    with pytest.raises(KGSolverError, match="built by the 'hotpotqa' suite, not 'pubmedqa'"):
        build_suite_kb(get_suite("pubmedqa"), kb, shared_datasets, no_graph, embedder=embedder, show_progress=False)
    larger = _hotpot_slice(shared_datasets, tmp_path / "larger", 3)
    with pytest.raises(KGSolverError, match="from other corpus files"):
        build_suite_kb(suite, kb, larger, no_graph, embedder=embedder, show_progress=False)
    assert _snapshot(kb) == built
    assert default_kb("hotpotqa", no_graph) == no_graph.cache_dir / "eval-kbs" / "hotpotqa"
