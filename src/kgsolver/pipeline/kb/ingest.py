"""Ingest: read and check a corpus, chunk, embed only what changed, update the dense and BM25 indexes and the graph,
commit atomically.

Every document is read and checked (ids unique, text not empty) before the knowledge base is opened, so a bad corpus
raises with nothing written. Duplicate ids are an error unless `on_duplicate` says `warn` (the later record replaces
the earlier, with a warning naming both) or `skip` (the first is kept, the later listed as skipped).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kgsolver.connectors import CorpusFormatError, KnowledgeBaseError
from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.corpus_readers import ReadReport, SourceDocument, read_corpus
from kgsolver.connectors.embedders import Embedder, TokenizingEmbedder, load_embedder
from kgsolver.connectors.graph_stores import GraphBatch
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb import WriteLockHeld, write_lock
from kgsolver.pipeline.kb.chunking import TokenChunker, title_text_sha1
from kgsolver.pipeline.kb.engine import Engine, Processed
from kgsolver.pipeline.kb.graph_build import GraphBuildReport, make_extractor, update_graph
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.sentence_index import embed_chunks, recorded_method

GRAPH_BLOCK = 64  # chunks per call of an extractor that does not report its own progress (the LLM one)
ON_DUPLICATE = ("error", "warn", "skip")


@dataclass
class IngestReport:
    documents_read: int = 0
    documents_added: int = 0
    documents_replaced: int = 0
    documents_unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    graph: GraphBuildReport | None = None


def content_hash(document: SourceDocument) -> str:
    return title_text_sha1(document.title, document.text)


def _open_kb(root: Path, embedder: Embedder, config: KGSolverConfig) -> KnowledgeBase:
    embedder_info = {"name": embedder.name, "dimensions": embedder.dimensions,
                     "sentence_vectors": config.embedder.sentence_vectors}
    chunking = config.chunking.model_dump()
    kb = (KnowledgeBase.open(root) if KnowledgeBase.exists(root)
          else KnowledgeBase.create(root, embedder=embedder_info, chunking=chunking))
    kb.configure(config)  # new segments, compaction and graph folds follow this ingest's configuration
    kb.require_embedder(embedder, "use a new --kb folder")
    if kb.manifest["chunking"] != chunking:
        raise KnowledgeBaseError(f"{root} was chunked with {kb.manifest['chunking']}, not {chunking}")
    return kb


def collect_documents(documents: Iterable[SourceDocument], report: IngestReport,
                      on_duplicate: str = "error") -> dict[str, SourceDocument]:
    """The documents to ingest by id: empty ones listed as skipped, duplicate ids handled as `on_duplicate` says."""
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}, not {on_duplicate!r}")
    kept: dict[str, SourceDocument] = {}
    for document in documents:
        if not document.text.strip():
            report.skipped.append(f"{document.where}: document {document.id!r} has no text, skipped")
            continue
        first = kept.get(document.id)
        if first is not None:
            message = f"{document.where}: duplicate id {document.id!r} (first at {first.where})"
            if on_duplicate == "error":
                raise CorpusFormatError(f"{message}; ids must be unique (--on-duplicate=warn keeps the last record, "
                                        f"--on-duplicate=skip the first)")
            if on_duplicate == "skip":
                report.skipped.append(f"{message}, skipped")
                continue
            report.warnings.append(f"{message}: this record replaces it")
        kept[document.id] = document
    return kept


class ProgressExtractor:
    """Runs a graph extractor under a progress bar, like the embedding step: an extractor that reports its own
    progress (`on_progress`, the spaCy one) runs in one call, so its worker pool starts once; any other runs block by
    block."""

    def __init__(self, inner: Any, show: bool) -> None:
        self.inner, self.show = inner, show
        self.name = getattr(inner, "name", type(inner).__name__)

    def extract(self, chunks: Iterable[tuple[int, str, str]]) -> GraphBatch:
        items = list(chunks)
        with tqdm(total=len(items), unit="chunk", desc="graph", disable=not self.show) as bar:
            if hasattr(self.inner, "on_progress"):
                self.inner.on_progress = bar.update
                try:
                    batch: GraphBatch = self.inner.extract(items)  # `inner` is any extractor (Any)
                    return batch
                finally:
                    self.inner.on_progress = None
            batch = GraphBatch()
            for start in range(0, len(items), GRAPH_BLOCK):
                batch.extend(self.inner.extract(items[start : start + GRAPH_BLOCK]))
                bar.update(min(GRAPH_BLOCK, len(items) - start))
                if getattr(self.inner, "stopped", None):  # the LLM extractor ran out of budget: the rest would too
                    break
        return batch


def _select_changed(kb: KnowledgeBase, docs: dict[str, SourceDocument], report: IngestReport) -> list[SourceDocument]:
    stored = kb.content_hashes(set(docs))  # these documents' rows only, through the stores' doc_id index
    changed = []
    for doc_id, document in docs.items():
        digest = content_hash(document)
        document.metadata["content_sha1"] = digest
        if doc_id not in stored:
            report.documents_added += 1
        elif stored[doc_id] == digest:
            report.documents_unchanged += 1
            continue
        else:
            report.documents_replaced += 1
        changed.append(document)
    return changed


def _nothing_changed(root: Path, embedder: Embedder, config: KGSolverConfig, docs: dict[str, SourceDocument],
                     report: IngestReport) -> bool:
    """Asked only when another process holds the write lock: True when the knowledge base exists and already holds
    every document as it is (its counts then go into `report`). Such an ingest writes nothing, so it reads without
    the lock, and ingests of one unchanged corpus (two evals of one suite) never conflict."""
    if not KnowledgeBase.exists(root):
        return False
    probe = IngestReport()
    with _open_kb(root, embedder, config) as kb:  # a reader: the embedder and chunking are checked all the same
        if _select_changed(kb, docs, probe):
            return False
    report.documents_unchanged = probe.documents_unchanged
    return True


def _update_sentence_index(kb: KnowledgeBase, embedder: Embedder, show_progress: bool) -> None:
    """Write the sentence index of each segment this ingest adds: only the new chunks' sentences are encoded (several
    a chunk: on a large corpus this takes as long as the passages did, or longer, so it has its own progress bar)."""
    kb.stage_sentences(embedder, show=show_progress)


def local_engine(changed: list[SourceDocument], embedder: TokenizingEmbedder, config: KGSolverConfig,
                 show_progress: bool, kb: KnowledgeBase) -> Processed:
    """Chunk and embed in this process, the sentence vectors pooled in the same pass where the knowledge base makes
    them so; the graph is extracted later, by `update_graph`, over the stored ids."""
    chunker = TokenChunker(embedder.tokenizer, config.chunking.chunk_tokens, config.chunking.overlap_tokens)
    chunks: list[Chunk] = list(chunker.chunk(changed))
    vectors, sentences = embed_chunks(chunks, embedder, method=recorded_method(kb.manifest["embedder"]),
                                      show=show_progress)
    return Processed(chunks, vectors, sentences=sentences)


def configured_engine(config: KGSolverConfig) -> Engine:
    """The engine `config.ray.engine` names (KGSOLVER_RAY__ENGINE): local unless it says ray."""
    if config.ray.engine == "local":
        return local_engine
    from kgsolver.pipeline.kb.ingest_ray import RayEngine

    return RayEngine(config.ray)


def at_chunk_ids(batch: GraphBatch, ids: list[int]) -> GraphBatch:
    """A batch extracted over chunk positions, its mentions and provenance moved to the ids the chunks got."""
    for mention in batch.mentions:
        mention.chunk_id = ids[mention.chunk_id]
    for relation in batch.relations:
        relation.chunks = [ids[position] for position in relation.chunks]
    return batch


def ingest(corpus: str | Path | list[str | Path], kb_dir: str | Path, config: KGSolverConfig | None = None, *,
           embedder: TokenizingEmbedder | None = None, show_progress: bool = True, llm_session: Any = None,
           corpus_format: str = "auto", on_duplicate: str = "error", engine: Engine | None = None) -> IngestReport:
    """Read files or folders as `corpus_format` (see connectors/corpus_readers.py) and ingest their documents."""
    paths = corpus if isinstance(corpus, list) else [corpus]
    read_report = ReadReport()
    documents = (d for path in paths for d in read_corpus(path, read_report, corpus_format))
    return ingest_documents(documents, kb_dir, config, embedder=embedder, show_progress=show_progress,
                            llm_session=llm_session, on_duplicate=on_duplicate, read_report=read_report, engine=engine)


def ingest_documents(documents: Iterable[SourceDocument], kb_dir: str | Path, config: KGSolverConfig | None = None, *,
                     embedder: TokenizingEmbedder | None = None, show_progress: bool = True, llm_session: Any = None,
                     on_duplicate: str = "error", read_report: ReadReport | None = None,
                     engine: Engine | None = None) -> IngestReport:
    """Ingest documents already read (the API's); all are checked before the knowledge base is touched. The engine
    runs chunk, embed (and maybe extract); reading, choosing what changed and the one commit stay here, under the
    write lock, so an engine that fails leaves the knowledge base as it was."""
    config = config or KGSolverConfig()
    root, started = Path(kb_dir), time.perf_counter()
    report, read_report = IngestReport(), read_report or ReadReport()
    docs = collect_documents(documents, report, on_duplicate)
    report.skipped[:0], report.notes = read_report.skipped, read_report.notes
    report.documents_read = len(docs)
    embedder = embedder or load_embedder(config.embedder.model_path, device=config.embedder.device)
    existed = KnowledgeBase.exists(root)
    with ExitStack() as held:
        try:
            held.enter_context(write_lock(root))
        except WriteLockHeld:  # another writer: the documents are selected without the lock, only in this case
            if _nothing_changed(root, embedder, config, docs, report):
                report.seconds = time.perf_counter() - started
                return report
            raise
        kb = _open_kb(root, embedder, config)
        if (recorded := recorded_method(kb.manifest["embedder"])) != config.embedder.sentence_vectors:
            report.notes.append(f"{root}: sentence vectors are made {recorded}, as this knowledge base's manifest "
                                f"records (embedder.sentence_vectors={config.embedder.sentence_vectors} applies to a "
                                "new knowledge base)")
        changed = _select_changed(kb, docs, report)
        if existed and not changed:  # every document stored as it is: nothing to write, as without the lock
            kb.close()
            report.seconds = time.perf_counter() - started
            return report
        embed_started = time.perf_counter()
        processed = (engine or configured_engine(config))(changed, embedder, config, show_progress, kb)
        report.embed_seconds = time.perf_counter() - embed_started
        removed_ids = kb.chunk_ids_of({d.id for d in changed}).tolist()
        report.chunks_removed = kb.remove_documents({d.id for d in changed})
        _store(kb, processed, removed_ids, report, config, embedder, llm_session, show_progress)
        kb.commit()
    report.seconds = time.perf_counter() - started
    return report


def _store(kb: KnowledgeBase, processed: Processed, removed_ids: list[int], report: IngestReport,
           config: KGSolverConfig, embedder: TokenizingEmbedder, llm_session: Any, show_progress: bool) -> None:
    """Stage the new chunks, their sentences and the graph update for the commit."""
    if processed.segments:  # written by the engine's workers, adopted in order: the ids the local engine gives
        new_ids = [int(i) for name, record in processed.segments for i in kb.adopt_segment(name, record)]
    elif processed.chunks:
        new_ids = kb.add_chunks(processed.chunks, processed.vectors, sentences=processed.sentences).tolist()
    else:
        new_ids = []
    report.chunks_added = len(new_ids)
    _update_sentence_index(kb, embedder, show_progress)
    if processed.graph is not None:
        report.graph = update_graph(kb, removed_ids, new_ids, config.graph, embedder=embedder,
                                    batch=at_chunk_ids(processed.graph, new_ids))
        return
    extractor = make_extractor(config.graph, llm_session=llm_session) if new_ids else None
    report.graph = update_graph(kb, removed_ids, new_ids, config.graph, embedder=embedder, llm_session=llm_session,
                                extractor=ProgressExtractor(extractor, show_progress) if extractor else None)
