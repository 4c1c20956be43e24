"""Bytes a small ingest and a small delete write with the networkx graph grown by deltas, on a real KB (KILT HotpotQA
mini corpus, the real embedder, the spaCy extractor). Writes benchmarks/results/graph_deltas.json.

    .venv/bin/python benchmarks/graph_deltas.py --base 300 --add 5 --delete 5

Before deltas, every commit rewrote the whole graph file (`NetworkXStore.save` of the graph after the change): that
figure is the saved size of the graph after each change, written out here beside the delta the commit did write.
Also: seconds to read the graph (base + deltas, then folded) and to fold it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from kgsolver.connectors.embedders import load_embedder
from kgsolver.evals.datasets import datasets_dir, read_jsonl
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb import write_lock
from kgsolver.pipeline.kb.admin import delete_documents
from kgsolver.pipeline.kb.compact import compact
from kgsolver.pipeline.kb.graph_build import GRAPH_COMPONENT, load_graph_file
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

CORPUS = Path("kilt/hotpotqa-dev-kilt.mini.corpus.jsonl")  # under the shared datasets folder
OUT = Path(__file__).parent / "results" / "graph_deltas.json"


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_ino, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _written(before: dict, after: dict) -> int:
    """Bytes of the files a commit created (a new inode: written, not carried over)."""
    return sum(size for p, (ino, size) in after.items() if before.get(p, (None,))[0] != ino)


def _graph_bytes(root: Path) -> dict:
    """The graph component now: its base, its deltas, and what saving the whole graph writes (the old commit)."""
    with KnowledgeBase.open(root) as kb:
        deltas = kb.component_deltas(GRAPH_COMPONENT)
        started = time.perf_counter()
        store = load_graph_file(kb)
        load_s = time.perf_counter() - started
        whole = root / ".whole-graph.tmp.jsonl.gz"
        store.save(whole)
        out = {"base_bytes": kb.component_path(GRAPH_COMPONENT).stat().st_size, "deltas": len(deltas),
               "last_delta_bytes": deltas[-1].stat().st_size if deltas else 0,
               "whole_graph_bytes": whole.stat().st_size, "load_s": round(load_s, 4),
               "entities": store.stats()["entities"], "relations": store.stats()["relations"]}
        whole.unlink()
    return out


def _commit_figures(root: Path, change) -> dict:
    before = _files(root)
    started = time.perf_counter()
    change()
    seconds = time.perf_counter() - started
    written = _written(before, _files(root))
    graph = _graph_bytes(root)
    # The same commit with the whole graph rewritten instead of its delta.
    rewrite = written - graph["last_delta_bytes"] + graph["whole_graph_bytes"]
    return {"seconds": round(seconds, 2), "bytes_written": written, "bytes_written_rewriting_graph": rewrite,
            "graph": graph}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=300, help="documents of the first ingest")
    parser.add_argument("--add", type=int, default=5, help="documents of the second ingest")
    parser.add_argument("--delete", type=int, default=5, help="documents deleted after it")
    args = parser.parse_args()
    config = KGSolverConfig()
    config.kb.auto_compact = False  # the commits measured here, not a compaction the policy might add
    embedder = load_embedder(config.embedder.model_path, device=config.embedder.device)
    docs = list(read_jsonl(datasets_dir() / CORPUS))[: args.base + args.add]
    with tempfile.TemporaryDirectory() as tmp:
        work, root = Path(tmp), Path(tmp) / "kb"
        for name, part in (("base", docs[: args.base]), ("add", docs[args.base :])):
            (work / f"{name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in part))
        started = time.perf_counter()
        ingest(work / "base.jsonl", root, config, embedder=embedder, show_progress=False)
        result = {"command": " ".join(["benchmarks/graph_deltas.py", *sys.argv[1:]]), "cpus": os.cpu_count(),
                  "corpus": CORPUS.name, "base_documents": args.base,
                  "base_ingest_s": round(time.perf_counter() - started, 1),
                  "base_graph": _graph_bytes(root)}
        result["add"] = _commit_figures(root, lambda: ingest(work / "add.jsonl", root, config, embedder=embedder,
                                                              show_progress=False))
        gone = [d["id"] for d in docs[: args.delete]]
        result["delete"] = _commit_figures(root, lambda: delete_documents(root, gone, config))
        started = time.perf_counter()
        with write_lock(root), KnowledgeBase.open(root, config) as kb:
            compact(kb)
        result["compact_s"] = round(time.perf_counter() - started, 2)
        result["folded_graph"] = _graph_bytes(root)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
