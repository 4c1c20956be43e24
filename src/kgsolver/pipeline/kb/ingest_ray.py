"""Ingest on a Ray cluster (`kgsolver ingest --engine ray`): the distributed stages of pipeline/kb/ingest.py.

The driver reads and checks the corpus, picks the documents that changed and makes the one commit under the write lock
(ingest.ingest_documents); Ray Data runs the rest as two actor pools, each actor loading its model once:
chunk -> embed -> write a segment (pipeline/kb/segment.py: chunks, vectors, indexes, sentence vectors) -> graph
extraction. The driver cuts the documents into batches in order and names each batch's segment folder; it adopts
the segments in that order, so every chunk gets the id the local engine would give it. Segment folders are written
straight into the knowledge base folder, which every node must therefore reach at the same path (one machine, or a
shared volume); a folder no commit adopts is removed by the next writer's garbage collection. A graph batch is
extracted over a batch's row positions; the driver moves it to global chunk ids and resolves it as the local engine
does. An actor whose process dies is restarted and its calls retried (`ray.max_restarts`,
`ray.max_task_retries`); past that, the ingest fails with a KnowledgeBaseError before anything is staged, so the
knowledge base stays as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.corpus_readers import SourceDocument
from kgsolver.connectors.embedders import TokenizingEmbedder
from kgsolver.connectors.graph_stores import Entity, GraphBatch, Mention, Relation
from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.pipeline.config import KGSolverConfig, RaySettings, check_reachable
from kgsolver.pipeline.kb.engine import Processed
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.sentence_index import recorded_method

log = logging.getLogger(__name__)


def connect(address: str | None, timeout_s: float) -> None:
    """Join the cluster at `address` (or RAY_ADDRESS); with neither, start a local one for this process. An address
    that accepts no connection within `timeout_s` fails at once: Ray would retry it for minutes."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            check_reachable(address, timeout_s)
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:  # what Ray raises for a bad address
        raise KnowledgeBaseError(f"cannot reach the Ray cluster at {address or 'a new local cluster'}: {exc}; "
                                 "nothing was written") from exc


def actor_threads() -> int:
    """Pin this actor's torch and OpenMP threads to the CPUs Ray gave it (at least one): Ray sets OMP_NUM_THREADS
    per task, but torch sizes its pool at import, so two actors on a 2-core box would each run two threads."""
    import ray
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)  # type: ignore[no-untyped-call]
    threads = max(1, int(cpus))
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    return threads


def cluster_plan(settings: RaySettings) -> tuple[int, float]:
    """Actors per stage and CPUs per actor: the two pools run at once, so each actor gets at most half a CPU's share
    where the cluster is smaller than two actors' worth."""
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]  # ray leaves it untyped
    workers = settings.workers or max(1, int(cpus // 2))
    return workers, min(settings.actor_cpus, cpus / (2 * workers))


class ChunkEmbedStage:
    """One actor: the chunker and the embedder, loaded once. A batch of documents in; its segment written into the
    knowledge base folder; its chunks out (for the graph stage), the segment's record on the first."""

    def __init__(self, config_json: str, root: str, spec: IndexSpec, sentence_vectors: str) -> None:
        from kgsolver.connectors.embedders import load_embedder
        from kgsolver.pipeline.kb.chunking import TokenChunker

        config = KGSolverConfig.model_validate_json(config_json)
        actor_threads()
        self.root, self.spec, self.sentence_vectors = Path(root), spec, sentence_vectors
        self.embedder = load_embedder(config.embedder.model_path, device=config.embedder.device)
        self.chunker = TokenChunker(self.embedder.tokenizer, config.chunking.chunk_tokens,
                                    config.chunking.overlap_tokens)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        rows: dict[str, list[Any]] = {"batch": [], "row": [], "chunk": [], "segment": []}
        for number, folder, documents in zip(batch["batch"].tolist(), batch["folder"].tolist(),
                                             batch["documents"].tolist(), strict=True):
            chunks = list(self.chunker.chunk(SourceDocument(**d) for d in json.loads(documents)))
            record = self._write(self.root / folder, chunks) if chunks else None
            for row, chunk in enumerate(chunks):
                rows["batch"].append(number)
                rows["row"].append(row)
                rows["chunk"].append(json.dumps(chunk.to_record(), ensure_ascii=False))
                rows["segment"].append(json.dumps(record) if row == 0 else "")
        return {k: np.array(v, dtype=np.int64 if k in ("batch", "row") else object) for k, v in rows.items()}

    def _write(self, folder: Path, chunks: list[Chunk]) -> dict[str, Any]:
        from kgsolver.pipeline.kb.segment import write_segment
        from kgsolver.pipeline.kb.sentence_index import embed_chunks

        if folder.exists():  # this batch's own folder, half written by an attempt whose actor was killed
            shutil.rmtree(folder)
        vectors, sentences = embed_chunks(chunks, self.embedder, method=self.sentence_vectors)
        # with its sentence vectors: pooled in the chunk pass, or encoded by write_segment
        return write_segment(folder, chunks, vectors, self.embedder, self.spec, sentences=sentences)


class GraphStage:
    """One actor: the graph extractor, loaded once, in one process (`spacy_processes=1`: the actor is the process)."""

    def __init__(self, config_json: str) -> None:
        from kgsolver.pipeline.kb.graph_build import make_extractor

        config = KGSolverConfig.model_validate_json(config_json)
        actor_threads()
        self.extractor = make_extractor(config.graph.model_copy(update={"spacy_processes": 1}))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        chunks = [json.loads(record) for record in batch["chunk"].tolist()]
        assert self.extractor is not None, "ingest_ray adds this stage only for an extractor"
        graph = self.extractor.extract([(i, c["title"], c["text"]) for i, c in enumerate(chunks)])
        # The whole batch's graph rides on its first row, over positions in the batch: no per-chunk split to guess.
        column = [json.dumps({"size": len(chunks), **_graph_record(graph)})] + [""] * (len(chunks) - 1)
        return {**batch, "graph": np.array(column, dtype=object)}


def _graph_record(graph: GraphBatch) -> dict[str, Any]:
    return {"entities": [e.to_record() for e in graph.entities], "relations": [r.to_record() for r in graph.relations],
            "mentions": [[m.chunk_id, m.entity_id, m.text] for m in graph.mentions]}


def _graph_from(record: dict[str, Any], positions: Sequence[int]) -> GraphBatch:
    """A worker's graph batch with its batch-relative chunk positions turned into positions in the whole ingest."""
    return GraphBatch([Entity(**e) for e in record["entities"]],
                      [Relation(**{**r, "chunks": [positions[p] for p in r["chunks"]]}) for r in record["relations"]],
                      [Mention(positions[cid], eid, text) for cid, eid, text in record["mentions"]])


@dataclass
class RayEngine:
    """`ingest(..., engine=RayEngine(settings))`: chunk, embed and extract on the cluster at `settings.address`."""

    settings: RaySettings

    def __call__(self, changed: list[SourceDocument], embedder: TokenizingEmbedder, config: KGSolverConfig,
                 show_progress: bool, kb: KnowledgeBase) -> Processed:
        if not changed:
            return Processed()
        if config.graph.extractor == "llm":
            raise KnowledgeBaseError("graph.extractor=llm is not run on Ray yet: use --engine local, or the spacy "
                                     "extractor on Ray")
        connect(self.settings.address, self.settings.connect_timeout_s)
        try:
            rows = self._run(changed, config, show_progress, kb)
        except Exception as exc:  # a Ray error (an actor died past its retries): nothing was staged
            if isinstance(exc, KnowledgeBaseError):
                raise
            raise KnowledgeBaseError(f"the Ray ingest failed ({type(exc).__name__}: {str(exc)[:500]}); nothing was "
                                     "written, the knowledge base is as it was") from exc
        return _assemble(rows, config.graph.extractor != "none")

    def _run(self, changed: list[SourceDocument], config: KGSolverConfig, show_progress: bool,
             kb: KnowledgeBase) -> list[dict[str, Any]]:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the local engine's chunk order, hence its chunk ids
        context.enable_progress_bars = show_progress
        workers, cpus = cluster_plan(self.settings)
        config_json = config.model_dump_json()
        size = self.settings.batch_documents
        items = [{"batch": number, "folder": kb.new_segment_folder().name,
                  "documents": json.dumps([{"id": d.id, "title": d.title, "text": d.text, "metadata": d.metadata}
                                           for d in changed[start : start + size]], ensure_ascii=False)}
                 for number, start in enumerate(range(0, len(changed), size))]
        dataset: Any = ray.data.from_items(items, override_num_blocks=len(items))

        def pool() -> Any:  # an actor pool per stage (`concurrency=` is deprecated since Ray 2.51)
            return ray.data.ActorPoolStrategy(size=workers)

        # The stages are CPU actors, so Ray hides the GPUs from them; on a GPU node whose image has JAX's CUDA plugin
        # (seen on a lent H200 machine) the actors then died unpickling their arguments ("Unable to initialize backend
        # 'cuda'"). JAX is no part of these stages: keep it on the CPU unless the user chose otherwise.
        env = {"env_vars": {"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS") or "cpu"}}

        with warnings.catch_warnings():  # Ray 2.60 has no named parameter for an actor's restarts yet
            warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
            dataset = dataset.map_batches(ChunkEmbedStage, fn_constructor_kwargs={
                                              "config_json": config_json, "root": str(kb.root), "spec": kb.spec(),
                                              "sentence_vectors": recorded_method(kb.manifest["embedder"])},
                                          batch_size=1, batch_format="numpy",
                                          compute=pool(), num_cpus=cpus, max_restarts=self.settings.max_restarts,
                                          max_task_retries=self.settings.max_task_retries, runtime_env=env)
            if config.graph.extractor != "none":
                dataset = dataset.map_batches(GraphStage, fn_constructor_kwargs={"config_json": config_json},
                                              batch_size=self.settings.batch_chunks, batch_format="numpy",
                                              compute=pool(), num_cpus=cpus, max_restarts=self.settings.max_restarts,
                                              max_task_retries=self.settings.max_task_retries, runtime_env=env)
        rows: list[dict[str, Any]] = dataset.take_all()  # ray.data rows are dicts of column values
        return rows


def _assemble(rows: list[dict[str, Any]], with_graph: bool) -> Processed:
    """The segments in batch order (the local engine's chunk order) and the graph over chunk positions in it."""
    arrival = [(int(r["batch"]), int(r["row"])) for r in rows]
    order = sorted(range(len(rows)), key=arrival.__getitem__)
    position_of = {row: at for at, row in enumerate(order)}  # arrival index -> position in the local order
    records = sorted((arrival[i][0], json.loads(rows[i]["segment"])) for i in range(len(rows)) if rows[i]["segment"])
    segments = [(record["name"], record) for _, record in records]
    if sum(record["rows"] for _, record in segments) != len(rows):
        raise KnowledgeBaseError(f"the Ray ingest returned {len(rows)} chunks for segments of "
                                 f"{sum(r['rows'] for _, r in segments)} rows")
    graph = GraphBatch() if with_graph else None
    if graph is not None:
        parts = []
        for at, row in enumerate(rows):
            if row.get("graph"):  # a batch's first row: the batch is the rows that follow it in arrival order
                record = json.loads(row["graph"])
                positions = [position_of[i] for i in range(at, at + record["size"])]
                parts.append((positions[0], _graph_from(record, positions)))
        for _, part in sorted(parts, key=lambda p: p[0]):
            graph.extend(part)
    return Processed(graph=graph, segments=segments)
