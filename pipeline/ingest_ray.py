"""Ingest on a Ray cluster (`kgsolver ingest --engine ray`): the distributed stages of pipeline/ingest.py.

The driver reads and checks the corpus, picks the documents that changed and makes the one commit under the write lock
(ingest.ingest_documents); Ray Data runs the rest as two actor pools, each actor loading its model once:
chunk -> embed (passages and their sentences) -> graph extraction. Rows keep their order (`preserve_order`) and carry
(document position, chunk number), so the driver stores exactly the chunks, in the order, that the local engine would.
A graph batch is extracted over a batch's row positions; the driver moves it to global chunk ids and resolves it as
the local engine does. An actor whose process dies is restarted and its calls retried (`ray.max_restarts`,
`ray.max_task_retries`); past that, the ingest fails with a KnowledgeBaseError before anything is staged, so the
knowledge base stays as it was.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kgsolver.connectors.corpus_readers import SourceDocument
from kgsolver.connectors.embedders import TokenizingEmbedder
from kgsolver.connectors.errors import KnowledgeBaseError
from kgsolver.connectors.graph_stores.model import Entity, GraphBatch, Mention, Relation
from kgsolver.pipeline.chunking import Chunk
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.ingest import Processed
from kgsolver.pipeline.ray_settings import RaySettings

log = logging.getLogger(__name__)


def connect(address: str | None) -> None:
    """Join the cluster at `address` (or RAY_ADDRESS); with neither, start a local one for this process."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, log_to_driver=False)


def actor_threads() -> int:
    """Pin this actor's torch and OpenMP threads to the CPUs Ray gave it (at least one): Ray sets OMP_NUM_THREADS
    per task, but torch sizes its pool at import, so two actors on a 2-core box would each run two threads."""
    import ray
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    threads = max(1, int(cpus))
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    return threads


def cluster_plan(settings: RaySettings) -> tuple[int, float]:
    """Actors per stage and CPUs per actor: the two pools run at once, so each actor gets at most half a CPU's share
    where the cluster is smaller than two actors' worth."""
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    workers = settings.workers or max(1, int(cpus // 2))
    return workers, min(settings.actor_cpus, cpus / (2 * workers))


class ChunkEmbedStage:
    """One actor: the chunker and the embedder, loaded once; a batch of documents in, their chunks out."""

    def __init__(self, config_json: str) -> None:
        from kgsolver.connectors.embedders import load_embedder
        from kgsolver.pipeline.chunking import TokenChunker

        config = KGSolverConfig.model_validate_json(config_json)
        actor_threads()
        self.embedder = load_embedder(config.embedder.model_path, device=config.embedder.device)
        self.chunker = TokenChunker(self.embedder.tokenizer, config.chunking.chunk_tokens,
                                    config.chunking.overlap_tokens)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from kgsolver.connectors.text import split_sentences
        from kgsolver.pipeline.ingest import embed_with_progress
        from kgsolver.pipeline.sentence_index import titled_sentence

        rows: dict[str, list] = {"doc": [], "n": [], "chunk": [], "sentences": [], "sentence_vectors": []}
        chunks: list[Chunk] = []
        for position, record in zip(batch["doc"].tolist(), batch["record"].tolist()):
            document = SourceDocument(**json.loads(record))
            for n, chunk in enumerate(self.chunker.chunk([document])):
                rows["doc"].append(position)
                rows["n"].append(n)
                rows["chunk"].append(json.dumps(chunk.to_record(), ensure_ascii=False))
                chunks.append(chunk)
        vectors = embed_with_progress(self.embedder, [c.indexed_text() for c in chunks], show=False)
        sentences = [[titled_sentence(c.title, s) for s in split_sentences(c.text)] for c in chunks]
        flat = [s for texts in sentences for s in texts]
        sentence_vectors = self.embedder.encode(flat) if flat else np.zeros((0, vectors.shape[1]), np.float32)
        at = 0
        for texts in sentences:
            rows["sentences"].append(json.dumps(texts, ensure_ascii=False))
            rows["sentence_vectors"].append(np.asarray(sentence_vectors[at : at + len(texts)], np.float32).tobytes())
            at += len(texts)
        return {**{k: np.array(v, dtype=np.int64 if k in ("doc", "n") else object) for k, v in rows.items()},
                "vector": vectors.reshape(-1, self.embedder.dimensions)}


class GraphStage:
    """One actor: the graph extractor, loaded once, in one process (`spacy_processes=1`: the actor is the process)."""

    def __init__(self, config_json: str) -> None:
        from kgsolver.pipeline.graph_build import make_extractor

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


def _graph_record(graph: GraphBatch) -> dict:
    return {"entities": [e.to_record() for e in graph.entities], "relations": [r.to_record() for r in graph.relations],
            "mentions": [[m.chunk_id, m.entity_id, m.text] for m in graph.mentions]}


def _graph_from(record: dict, positions: Sequence[int]) -> GraphBatch:
    """A worker's graph batch with its batch-relative chunk positions turned into positions in the whole ingest."""
    return GraphBatch([Entity(**e) for e in record["entities"]],
                      [Relation(**{**r, "chunks": [positions[p] for p in r["chunks"]]}) for r in record["relations"]],
                      [Mention(positions[cid], eid, text) for cid, eid, text in record["mentions"]])


class KnownVectors:
    """The driver's embedder, with the sentence vectors the workers already computed: the sentence index asks for
    them by text and only texts it does not know are encoded here."""

    def __init__(self, inner: TokenizingEmbedder, known: dict[str, np.ndarray]) -> None:
        self.inner, self.known = inner, known
        self.name, self.dimensions, self.tokenizer = inner.name, inner.dimensions, inner.tokenizer

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.inner.encode(missing)))
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self.known[t] for t in texts]).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


@dataclass
class RayEngine:
    """`ingest(..., engine=RayEngine(settings))`: chunk, embed and extract on the cluster at `settings.address`."""

    settings: RaySettings

    def __call__(self, changed: list[SourceDocument], embedder: TokenizingEmbedder, config: KGSolverConfig,
                 show_progress: bool) -> Processed:
        if not changed:
            return Processed([], np.zeros((0, embedder.dimensions), dtype=np.float32))
        if config.graph.extractor == "llm":
            raise KnowledgeBaseError("graph.extractor=llm is not run on Ray yet: use --engine local, or the spacy "
                                     "extractor on Ray")
        connect(self.settings.address)
        try:
            rows = self._run(changed, config, show_progress)
        except Exception as exc:  # a Ray error (an actor died past its retries): nothing was staged
            if isinstance(exc, KnowledgeBaseError):
                raise
            raise KnowledgeBaseError(f"the Ray ingest failed ({type(exc).__name__}: {str(exc)[:500]}); nothing was "
                                     "written, the knowledge base is as it was") from exc
        return _assemble(rows, embedder, config.graph.extractor != "none")

    def _run(self, changed: list[SourceDocument], config: KGSolverConfig, show_progress: bool) -> list[dict]:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the local engine's chunk order, hence its chunk ids
        context.enable_progress_bars = show_progress
        workers, cpus = cluster_plan(self.settings)
        retry = {"max_restarts": self.settings.max_restarts, "max_task_retries": self.settings.max_task_retries}
        config_json = config.model_dump_json()
        items = [{"doc": i, "record": json.dumps({"id": d.id, "title": d.title, "text": d.text,
                                                  "metadata": d.metadata}, ensure_ascii=False)}
                 for i, d in enumerate(changed)]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items) // 16, 4 * workers)))

        def pool() -> Any:  # an actor pool per stage (`concurrency=` is deprecated since Ray 2.51)
            return ray.data.ActorPoolStrategy(size=workers)

        with warnings.catch_warnings():  # Ray 2.60 has no named parameter for an actor's restarts yet
            warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
            dataset = dataset.map_batches(ChunkEmbedStage, fn_constructor_kwargs={"config_json": config_json},
                                          batch_size=self.settings.batch_documents, batch_format="numpy",
                                          compute=pool(), num_cpus=cpus, **retry)
            if config.graph.extractor != "none":
                dataset = dataset.map_batches(GraphStage, fn_constructor_kwargs={"config_json": config_json},
                                              batch_size=self.settings.batch_chunks, batch_format="numpy",
                                              compute=pool(), num_cpus=cpus, **retry)
        return dataset.take_all()


def _assemble(rows: list[dict], embedder: TokenizingEmbedder, with_graph: bool) -> Processed:
    """The workers' rows in the local engine's order: chunks, vectors, the graph over positions, sentence vectors."""
    arrival = [(int(r["doc"]), int(r["n"])) for r in rows]
    order = sorted(range(len(rows)), key=arrival.__getitem__)
    position_of = {row: at for at, row in enumerate(order)}  # arrival index -> position in the local order
    chunks = [Chunk(**json.loads(rows[i]["chunk"])) for i in order]
    vectors = np.stack([np.asarray(rows[i]["vector"], dtype=np.float32) for i in order]) if rows else \
        np.zeros((0, embedder.dimensions), dtype=np.float32)
    known: dict[str, np.ndarray] = {}
    for row in rows:
        texts = json.loads(row["sentences"])
        known.update(zip(texts, np.frombuffer(row["sentence_vectors"], np.float32).reshape(-1, embedder.dimensions)))
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
    return Processed(chunks, vectors, graph, KnownVectors(embedder, known))


def ray_ingest(corpus: Any, kb_dir: Any, config: KGSolverConfig | None = None, **kwargs: Any) -> Any:
    """`ingest` with the Ray engine at `config.ray.address`."""
    from kgsolver.pipeline.ingest import ingest

    config = config or KGSolverConfig()
    return ingest(corpus, kb_dir, config, engine=RayEngine(config.ray), **kwargs)

