"""Where an ingest's time goes: the first N KILT mini passages ingested into a fresh knowledge base (default
configuration, the embedder loaded and warmed first), with the graph, encode and total seconds; --dump writes the
stored graph (entities, relations, mentions, merges) as sorted JSON, to compare two commits' graphs for identity.

    .venv/bin/python -m cProfile -o ingest.prof benchmarks/ingest_profile.py 800 [--dump graph.json]
    .venv/bin/python -c "import pstats; pstats.Stats('ingest.prof').sort_stats('cumtime').print_stats(40)"
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from kgsolver.connectors.corpus_readers import read_corpus
from kgsolver.connectors.embedders import load_embedder
from kgsolver.evals.datasets import KILT_CORPUS, dataset_path
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.graph_read import load_graph_file
from kgsolver.pipeline.kb.ingest import ingest_documents
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


def dump_graph(kb_dir: Path, merges: list, out: Path) -> None:
    with KnowledgeBase.open(kb_dir) as kb:
        store = load_graph_file(kb)
        graph = {"entities": sorted(json.dumps(e.to_record(), sort_keys=True) for e in store.iter_entities()),
                 "relations": sorted(json.dumps(r.to_record(), sort_keys=True) for r in store.iter_relations()),
                 "mentions": sorted(f"{c}\t{e}" for c, es in store.mentions.items() for e in es),
                 "merges": sorted(f"{m.drop}\t{m.keep}\t{m.rule}\t{m.score:.6f}" for m in merges)}
    out.write_text(json.dumps(graph))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("passages", type=int, help="how many KILT mini passages, from the first")
    parser.add_argument("--dump", type=Path, default=None, help="write the stored graph here (sorted JSON)")
    args = parser.parse_args()
    config = KGSolverConfig()
    embedder = load_embedder()
    embedder.encode(["warm up"] * 8)
    docs = list(itertools.islice(read_corpus(dataset_path(KILT_CORPUS)), args.passages))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = ingest_documents(docs, Path(tmp) / "kb", config, embedder=embedder, show_progress=False)
        print(f"ingest {len(docs)} passages: {time.perf_counter() - started:.1f} s; graph {report.graph.seconds:.1f} "
              f"s; encode {report.embed_seconds:.1f} s; merges {len(report.graph.merges)}", file=sys.stderr)
        if args.dump:
            dump_graph(Path(tmp) / "kb", report.graph.merges, args.dump)


if __name__ == "__main__":
    main()
