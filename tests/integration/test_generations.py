"""Readers racing a writer (issue 19.5): a reader process loops over open + lazy component loads while a writer
process commits real ingests; a long-lived Solver opened before the writer sees the new documents after it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore
from kgsolver.evals.datasets import read_jsonl
from kgsolver.pipeline.kb import generation_names, write_lock
from kgsolver.pipeline.kb.graph_read import GRAPH_COMPONENT
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.multihop import AgentResources
from kgsolver.pipeline.solver import Solver

INITIAL_DOCS, BATCH_DOCS, COMMITS = 8, 4, 6

WRITER = """
import json, sys, time
from pathlib import Path
from kgsolver.connectors.embedders import load_embedder
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
root, work, commits = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
config = KGSolverConfig()
embedder = load_embedder(config.embedder.model_path, device=config.embedder.device)
(work / "writer-ready").touch()
while not (work / "go").exists():
    time.sleep(0.05)
for i in range(commits):
    ingest(work / f"batch-{i}.jsonl", root, config, embedder=embedder, show_progress=False)
    with KnowledgeBase.open(root) as kb:
        print(json.dumps([kb.manifest["generation"], len(kb.chunks)]), flush=True)
"""

# The lazy loads are where a reader of a collected generation used to fail (FileNotFoundError) or, through
# open_store's "missing file means empty graph", silently got nothing.
READER = """
import json, random, sys, time
from pathlib import Path
from kgsolver.pipeline.kb.graph_read import load_graph_file
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
root, work = Path(sys.argv[1]), Path(sys.argv[2])
reads, failures, seen = 0, [], {}
(work / "reader-ready").touch()
while not (work / "stop").exists():
    reads += 1
    try:
        with KnowledgeBase.open(root) as kb:
            time.sleep(random.random() * 0.05)  # a question's worth of work before the lazy components load
            graph = load_graph_file(kb)  # the base and every delta of this generation
            sentences = kb.sentences.chunk_ids().tolist()  # every segment's sentence index, read now
            if not set(graph.mentions) <= set(kb.chunks) or set(sentences) != set(kb.chunks):
                failures.append(f"generation {kb.manifest['generation']}: components of another generation")
            seen.setdefault(kb.manifest["generation"], set()).add(len(kb.chunks))
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
(work / "reader.json").write_text(json.dumps({"reads": reads, "failures": failures,
                                               "seen": {g: sorted(n) for g, n in seen.items()}}))
"""


def _write_batches(work: Path, shared_datasets: Path) -> list[list[dict]]:
    docs = list(read_jsonl(shared_datasets / "kilt" / "hotpotqa-dev-kilt.mini.corpus.jsonl"))
    docs = docs[: INITIAL_DOCS + BATCH_DOCS * COMMITS]
    batches = [docs[:INITIAL_DOCS]] + [docs[INITIAL_DOCS + i * BATCH_DOCS:][:BATCH_DOCS] for i in range(COMMITS)]
    for i, batch in enumerate(batches):
        name = "initial.jsonl" if i == 0 else f"batch-{i - 1}.jsonl"
        (work / name).write_text("".join(json.dumps(d) + "\n" for d in batch))
    return batches


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    import time

    deadline = time.monotonic() + 180
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.1)


def test_readers_racing_a_writer_never_fail_and_a_long_lived_solver_reloads(tmp_path, shared_datasets, embedder,
                                                                            config):
    root, work = tmp_path / "kb", tmp_path / "work"
    work.mkdir()
    batches = _write_batches(work, shared_datasets)
    ingest(work / "initial.jsonl", root, config, embedder=embedder, show_progress=False)
    solver = Solver(root, config, embedder=embedder)
    first = solver.kb
    pinned = KnowledgeBase.open(root)  # a reader that stays open across every commit
    initial_graph = NetworkXStore.load(pinned.component_path(GRAPH_COMPONENT)).stats()
    committed = {first.manifest["generation"]: len(first.chunks)}

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(work), str(COMMITS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root), str(work)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(work / "writer-ready", writer)
        _wait_for(work / "reader-ready", reader)
        (work / "go").touch()
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err[-2000:]
    finally:
        (work / "stop").touch()
        reader.wait(timeout=120)
        writer.kill()
    committed.update({g: n for g, n in (json.loads(line) for line in out.splitlines())})
    result = json.loads((work / "reader.json").read_text())
    print(f"race loop: {result['reads']} reads, {COMMITS} commits, {len(result['failures'])} failed reads, "
          f"{len(result['seen'])} generations seen")
    assert len(committed) == COMMITS + 1
    assert result["failures"] == []
    assert result["reads"] >= 20 and len(result["seen"]) >= 2  # the loop really ran across commits
    for generation, counts in result["seen"].items():
        assert counts == [committed[int(generation)]], (generation, counts, committed)

    # The reader that stayed open still has its whole generation, graph included.
    assert NetworkXStore.load(pinned.component_path(GRAPH_COMPONENT)).stats() == initial_graph
    # The long-lived Solver reloaded: it answers from the last generation, graph included.
    last = max(committed)
    assert solver.kb.manifest["generation"] == last and len(solver.kb.chunks) == committed[last]
    new_doc = batches[-1][0]
    hits = solver.retriever(k=5).invoke(f"{new_doc['title']} {new_doc['text'][:200]}")
    assert new_doc["id"] in {d.metadata["doc_id"] for d in hits}
    store = AgentResources.for_kb(solver.kb, solver.vectors, config).store
    assert store.entities_in_chunks(solver.kb.chunk_ids_of({d["id"] for d in batches[-1]}).tolist())

    # Files are collected once no reader needs them: only the current generation is left.
    pinned.close()
    del first
    with write_lock(root):
        kb = KnowledgeBase.open(root)
        kb.collect_garbage()
    names = {p.name for p in root.iterdir()}
    current = generation_names(kb.manifest)  # components and their deltas, segments, tombstones
    assert names == current | {"manifest.json", ".lock", f".lease-{last:06d}.json"}
