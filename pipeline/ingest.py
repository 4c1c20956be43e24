"""Ingest: read a corpus, chunk, embed only what changed, update the dense and BM25 indexes, commit atomically."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from kgsolver.connectors.corpus_readers import ReadReport, SourceDocument, read_corpus
from kgsolver.connectors.embedders import Embedder, load_embedder
from kgsolver.connectors.errors import KnowledgeBaseError
from kgsolver.pipeline.chunking import Chunk, TokenChunker, title_text_sha1
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.graph_build import GraphBuildReport, update_graph
from kgsolver.pipeline.knowledge_base import KnowledgeBase, write_lock
from kgsolver.pipeline.sentence_index import SENTENCE_COMPONENT, SentenceIndex

EMBED_BLOCK = 512


@dataclass
class IngestReport:
    documents_read: int = 0
    documents_added: int = 0
    documents_replaced: int = 0
    documents_unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    graph: GraphBuildReport | None = None


def content_hash(document: SourceDocument) -> str:
    return title_text_sha1(document.title, document.text)


def embed_with_progress(embedder: Embedder, texts: list[str], *, show: bool = True, desc: str = "embed") -> np.ndarray:
    """Encode longest-first in large blocks: the same padding efficiency as one `encode` call, plus a progress bar."""
    vectors = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    with tqdm(total=len(texts), unit="passage", desc=desc, disable=not show) as bar:
        for start in range(0, len(order), EMBED_BLOCK):
            rows = order[start : start + EMBED_BLOCK]
            vectors[rows] = embedder.encode([texts[i] for i in rows])
            bar.update(len(rows))
    return vectors


def _open_kb(root: Path, embedder: Embedder, config: KGSolverConfig) -> KnowledgeBase:
    embedder_info = {"name": embedder.name, "dimensions": embedder.dimensions}
    chunking = config.chunking.model_dump()
    if not KnowledgeBase.exists(root):
        return KnowledgeBase.create(root, embedder=embedder_info, chunking=chunking)
    kb = KnowledgeBase.open(root)
    if kb.manifest["embedder"] != embedder_info:
        raise KnowledgeBaseError(
            f"{root} was built with embedder {kb.manifest['embedder']}, not {embedder_info}; use a new --kb folder"
        )
    if kb.manifest["chunking"] != chunking:
        raise KnowledgeBaseError(f"{root} was chunked with {kb.manifest['chunking']}, not {chunking}")
    return kb


def _latest_by_id(documents: Iterable[SourceDocument]) -> dict[str, SourceDocument]:
    latest: dict[str, SourceDocument] = {}
    for document in documents:
        latest[document.id] = document  # a later record with the same id replaces the earlier one
    return latest


def _select_changed(kb: KnowledgeBase, docs: dict[str, SourceDocument], report: IngestReport) -> list[SourceDocument]:
    stored = {c.doc_id: c.metadata.get("content_sha1") for c in kb.chunks.values()}
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


def _update_sentence_index(kb: KnowledgeBase, embedder: Embedder) -> None:
    """Stage the sentence vectors of every chunk the index lacks (all of them for a KB built before it existed)."""
    path = kb.component_path(SENTENCE_COMPONENT)
    current = SentenceIndex.load(path) if path is not None else None
    current = current or SentenceIndex.empty(embedder.dimensions)
    stored = set(current.rows[:, 0].tolist())
    missing = {cid: chunk for cid, chunk in kb.chunks.items() if cid not in stored}
    if not missing and len(stored) == len(kb.chunks):
        return
    kb.stage_component(SENTENCE_COMPONENT, current.updated(set(kb.chunks), missing, embedder).save)


def ingest(corpus: str | Path | list[str | Path], kb_dir: str | Path, config: KGSolverConfig | None = None, *,
           embedder: Embedder | None = None, show_progress: bool = True, llm_session=None) -> IngestReport:
    config = config or KGSolverConfig()
    embedder = embedder or load_embedder(config.embedder.model_path, device=config.embedder.device)
    root, started = Path(kb_dir), time.perf_counter()
    report, read_report = IngestReport(), ReadReport()
    paths = corpus if isinstance(corpus, list) else [corpus]
    with write_lock(root):
        kb = _open_kb(root, embedder, config)
        docs = _latest_by_id(d for path in paths for d in read_corpus(path, read_report))
        report.documents_read = len(docs)
        changed = _select_changed(kb, docs, report)
        chunker = TokenChunker(embedder.tokenizer, config.chunking.chunk_tokens, config.chunking.overlap_tokens)
        chunks: list[Chunk] = list(chunker.chunk(changed))
        removed_ids = kb.chunk_ids_of({d.id for d in changed}).tolist()
        report.chunks_removed = kb.remove_documents({d.id for d in changed})
        embed_started = time.perf_counter()
        vectors = embed_with_progress(embedder, [c.indexed_text() for c in chunks], show=show_progress)
        report.embed_seconds = time.perf_counter() - embed_started
        new_ids = kb.add_chunks(chunks, vectors).tolist()
        report.chunks_added = len(chunks)
        _update_sentence_index(kb, embedder)
        report.graph = update_graph(kb, removed_ids, new_ids, config.graph, embedder=embedder,
                                    llm_session=llm_session)
        kb.commit()
    report.skipped = read_report.skipped
    report.seconds = time.perf_counter() - started
    return report
