"""Ingest on a real local Ray cluster (2 CPUs on 127.0.0.1): the same knowledge base as the local engine, and a
worker killed mid-ingest either retried to the same result or failing cleanly with the previous KB intact."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore
from kgsolver.evals.datasets import medquad_kilt_corpus
from kgsolver.pipeline.kb.graph_read import GRAPH_COMPONENT
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.ingest_ray import RayEngine
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.timeout(1800)]
PASSAGES = 160  # MedQuAD and KILT passages, interleaved
WORKING_CPU_SECONDS = 9.0  # an embed actor past loading torch, MiniLM and spaCy (about 5 s) is embedding


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_datasets) -> Path:
    return medquad_kilt_corpus(tmp_path_factory.mktemp("ray-corpus") / "corpus.jsonl", PASSAGES, shared_datasets)


@pytest.fixture(scope="module")
def local_kb(tmp_path_factory, corpus, embedder, config) -> Path:
    kb = tmp_path_factory.mktemp("ray-local") / "kb"
    ingest(corpus, kb, config, embedder=embedder, show_progress=False)
    return kb


def kb_content(root: Path) -> tuple[dict, np.ndarray, list, list, np.ndarray]:
    kb = KnowledgeBase.open(root)
    ids = sorted(kb.chunks)
    chunks = {cid: kb.chunks[cid].to_record() for cid in ids}
    vectors = kb.dense.vectors(ids)
    sentences = np.concatenate([kb.sentences.of_chunk(cid) for cid in ids])  # None (no sentences stored) fails
    store = NetworkXStore.load(kb.component_path(GRAPH_COMPONENT))
    entities = sorted((e.to_record() for e in store.iter_entities()), key=lambda e: e["id"])
    relations = sorted((r.to_record() for r in store.iter_relations()), key=lambda r: (r["subject"], r["predicate"],
                                                                                         r["object"]))
    return chunks, vectors, entities, relations, sentences


def assert_same_kb(a: Path, b: Path) -> None:
    chunks_a, vectors_a, entities_a, relations_a, sentences_a = kb_content(a)
    chunks_b, vectors_b, entities_b, relations_b, sentences_b = kb_content(b)
    assert chunks_a == chunks_b
    assert np.allclose(vectors_a, vectors_b, atol=1e-5)
    assert sentences_a.shape == sentences_b.shape and np.allclose(sentences_a, sentences_b, atol=2e-3)  # float16
    assert entities_a == entities_b
    assert relations_a == relations_b


def test_ray_ingest_builds_the_local_engines_knowledge_base(cluster, corpus, local_kb, embedder, config, tmp_path):
    report = ingest(corpus, tmp_path / "kb", config, embedder=embedder, show_progress=False,
                    engine=RayEngine(config.ray))
    assert report.documents_added == PASSAGES and report.chunks_added > PASSAGES
    kb = KnowledgeBase.open(tmp_path / "kb")
    assert len(kb.manifest["segments"]) > 1  # written by the workers, one per batch, adopted in order
    assert report.graph is not None and report.graph.entities > 0
    assert_same_kb(local_kb, tmp_path / "kb")
    again = ingest(corpus, tmp_path / "kb", config, embedder=embedder, show_progress=False,
                   engine=RayEngine(config.ray))
    assert again.documents_unchanged == PASSAGES and again.chunks_added == 0


def _descends_from_us(pid: int) -> bool:
    """The actor belongs to this test's cluster: its raylet, and so the actor, descend from this process."""
    while pid > 1:
        if pid == os.getpid():
            return True
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return False


def stage_pids(name: str) -> set[int]:
    """The processes of this cluster's Ray actors that run `name` (Ray titles an actor's process with its class)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if name.encode() in (entry / "cmdline").read_bytes() and _descends_from_us(int(entry.name)):
                    pids.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def ingest_killing_one_actor(corpus: Path, kb: Path, embedder, config, stage: str) -> tuple[object, int]:
    """Run a Ray ingest in a thread and SIGKILL the first `stage` actor once it is past loading its models (about 5
    CPU seconds) and into its batches."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = ingest(corpus, kb, config, embedder=embedder, show_progress=False,
                                       engine=RayEngine(config.ray))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline, victim = time.monotonic() + 300, None
    while victim is None and time.monotonic() < deadline and thread.is_alive():
        pids = stage_pids(stage)
        victim = min(pids) if pids else None
        time.sleep(0.2)
    assert victim is not None, f"no {stage} actor process appeared"
    while cpu_seconds(victim) < WORKING_CPU_SECONDS and thread.is_alive():
        time.sleep(0.2)
    assert thread.is_alive(), "the ingest ended before the kill: the test would prove nothing"
    os.kill(victim, signal.SIGKILL)
    thread.join(600)
    return outcome.get("error") or outcome.get("report"), victim


def test_a_killed_embed_actor_is_restarted_and_the_ingest_completes(cluster, corpus, local_kb, embedder, config,
                                                                     tmp_path):
    result, victim = ingest_killing_one_actor(corpus, tmp_path / "kb", embedder, config, "ChunkEmbedStage")
    assert not isinstance(result, Exception), result
    assert victim not in stage_pids("ChunkEmbedStage")
    assert_same_kb(local_kb, tmp_path / "kb")


def test_a_killed_actor_without_retries_fails_clearly_and_keeps_the_previous_kb(cluster, corpus, local_kb, embedder,
                                                                                 config, tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(local_kb, kb)
    changed = tmp_path / "changed.jsonl"  # every document edited: all would be replaced
    changed.write_text(corpus.read_text(encoding="utf-8").replace('"text": "', '"text": "Edited. '), encoding="utf-8")
    before = kb_content(kb)
    strict = config.model_copy(deep=True)
    strict.ray.max_restarts, strict.ray.max_task_retries = 0, 0
    result, _ = ingest_killing_one_actor(changed, kb, embedder, strict, "ChunkEmbedStage")
    assert isinstance(result, KnowledgeBaseError), result
    assert "Ray ingest failed" in str(result) and "as it was" in str(result)
    after = kb_content(kb)
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:4] == after[2:4]
    assert np.array_equal(before[4], after[4])
