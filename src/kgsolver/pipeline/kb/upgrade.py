"""`kgsolver kb upgrade`: convert a format-1 knowledge base (one chunks.jsonl, faiss and BM25 index per
generation) in place to format 2 (segments), atomically.

The chunks become one segment that keeps their ids (explicit ids, as a compacted segment's); its vectors are the
ones the old faiss index stored (nothing is re-embedded), and its sentence index is the old sentence component's
rows (an older sentence format is dropped: the query path then encodes those sentences when it needs them). The
other components (graph, graph journal, atomic questions) are kept as they are. The new files are written first
and the manifest is swapped last, as in every commit: a process killed half-way leaves the format-1 knowledge base,
and the next write collects the leftovers.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.vector_index import FaissIndex
from kgsolver.pipeline.kb import (
    CORE_COMPONENTS,
    FORMAT_VERSION,
    MANIFEST,
    generation_names,
    lease_path,
    versions,
    write_json_atomic,
    write_lock,
)
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.segment import SENTENCES_DIR, fsync_tree, write_segment
from kgsolver.pipeline.kb.sentence_index import SENTENCE_COMPONENT, SentenceIndex

if TYPE_CHECKING:
    from kgsolver.pipeline.config import KGSolverConfig


def _format(root: Path) -> int | None:
    path = root / MANIFEST
    if not path.is_file():
        raise KnowledgeBaseError(f"{root}: not a knowledge base (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    version: int | None = manifest.get("format_version")
    return version


def _read_chunks(path: Path) -> tuple[np.ndarray, list[Chunk]]:
    rows: list[tuple[int, Chunk]] = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
                cid = int(record.pop("cid"))
                rows.append((cid, Chunk(**record)))
            except (ValueError, KeyError, TypeError) as exc:
                raise KnowledgeBaseError(f"{path}:{lineno}: not a chunk record ({exc}); nothing was changed") from exc
    rows.sort(key=lambda r: r[0])
    return np.array([cid for cid, _ in rows], dtype=np.int64), [chunk for _, chunk in rows]


def _stored_vectors(path: Path, dimensions: int, ids: np.ndarray) -> np.ndarray:
    """The vectors the format-1 faiss index holds, in the order of `ids`."""
    index: Any = FaissIndex.load(path, dimensions).index  # an IndexIDMap2 (swig classes carry no attribute types)
    if len(ids) != index.ntotal:
        raise KnowledgeBaseError(f"{path}: {index.ntotal} vectors for {len(ids)} chunks; nothing was changed")
    if not len(ids):
        return np.zeros((0, dimensions), dtype=np.float32)
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None
    if inner is not None and hasattr(inner, "reconstruct_n"):  # one pass over the stored rows, in insertion order
        held = faiss.vector_to_array(index.id_map).astype(np.int64)
        rows = inner.reconstruct_n(0, index.ntotal)
        order = np.argsort(held)
        if not np.array_equal(held[order], ids):
            raise KnowledgeBaseError(f"{path}: its ids are not the chunk file's; nothing was changed")
        return np.ascontiguousarray(rows[order], dtype=np.float32)
    return np.stack([index.reconstruct(int(i)) for i in ids.tolist()]).astype(np.float32)


def _write_sentences(root: Path, files: dict[str, Any], folder: Path, ids: np.ndarray, dimensions: int) -> bool:
    rel = files.get(SENTENCE_COMPONENT)
    old = SentenceIndex.load(root / rel) if rel else None
    if old is None:
        return False
    SentenceIndex.concatenated([(old, ids, np.arange(len(ids)))], dimensions).save(folder / SENTENCES_DIR)
    return True


def upgrade(root: Path, config: KGSolverConfig) -> dict[str, Any]:
    """Convert the format-1 knowledge base at `root` in place; returns the new manifest. Holds the write lock. The new
    segment's vector index is the caller's `config.vector_index`, as every writer's (never a default)."""
    root = Path(root)
    with write_lock(root):
        found = _format(root)
        if found == FORMAT_VERSION:
            raise KnowledgeBaseError(f"{root}: already format {FORMAT_VERSION}; nothing to upgrade")
        if found != 1:
            raise KnowledgeBaseError(f"{root}: format {found}; `kgsolver kb upgrade` converts format 1 only")
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        files, dims, generation = manifest["files"], int(manifest["embedder"]["dimensions"]), manifest["generation"] + 1
        ids, chunks = _read_chunks(root / files["chunks"])
        vectors = _stored_vectors(root / files["dense"], dims, ids)
        segments = []
        if chunks:
            folder = root / f"seg-{generation:06d}-{uuid.uuid4().hex[:8]}"
            segments.append(write_segment(folder, chunks, vectors, None, config.vector_index, ids=ids))
            _write_sentences(root, files, folder, ids, dims)
            fsync_tree(folder)
        kept = {k: v for k, v in files.items() if k not in CORE_COMPONENTS and k != SENTENCE_COMPONENT}
        new = dict(manifest, format_version=FORMAT_VERSION, generation=generation, files=kept, segments=segments,
                   tombstones=[], versions=versions(), updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   upgraded_from=1,
                   next_chunk_id=max(int(manifest["next_chunk_id"]), int(ids[-1]) + 1 if len(ids) else 0))
        write_json_atomic(lease_path(root, generation), {"generation": generation,
                                                          "files": sorted(generation_names(new))})
        write_json_atomic(root / MANIFEST, new)
        with KnowledgeBase.open(root) as kb:
            kb.collect_garbage()
        return new


def upgrade_if_format_1(root: Path, config: KGSolverConfig) -> bool:
    """Upgrade a format-1 knowledge base (an eval suite's cached one, with the suite's `config`); False when there is
    nothing to do."""
    if not (Path(root) / MANIFEST).is_file() or _format(Path(root)) != 1:
        return False
    upgrade(root, config)
    return True
