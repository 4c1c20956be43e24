"""A knowledge base directory: chunks, a faiss index, a BM25 index and later components (graph, atomic questions).

Every commit writes a new generation of files under fresh names, then swaps `manifest.json` with one atomic rename.
A process killed at any point leaves the previous manifest, and so the previous knowledge base, intact; files no
manifest names are collected at the next write.

Readers in other processes keep the generation they opened until they close it (a reader lease): each commit also
writes `.lease-<generation>.json`, listing that generation's files, and an open knowledge base holds a shared
`flock` on it. The collector (run by the writer, under the write lock) frees an older generation only when it can
take that lease's exclusive lock without waiting; the files of every generation it cannot lock are kept. A reader
that finds its lease already unlinked (collected between reading the manifest and locking) reads the manifest again.
flock locks belong to an open file description, so this holds across processes and between objects of one process.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from kgsolver.connectors.errors import KnowledgeBaseError
from kgsolver.connectors.keyword_index import BM25Index
from kgsolver.connectors.vector_index import FaissIndex
from kgsolver.pipeline.chunking import Chunk

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CORE_COMPONENTS = ("chunks", "dense", "bm25")
# Only names this module writes are ever collected; anything else a user keeps in the folder is left alone.
_GENERATION_FILE = re.compile(r"^(\w+-\d{6}-[0-9a-f]{8}(\.\w+)*|\.(manifest|lease-\d{6})\.json\.[0-9a-f]{8}\.tmp)$")
_LEASE_FILE = re.compile(r"^\.lease-(\d{6})\.json$")
# A test seam, for crash tests only: when this variable names a path, commit writes that path (the pid) once every
# component, the graph step's included, is on disk, then waits to be killed before the lease and manifest are written.
HOLD_BEFORE_COMMIT_ENV = "KGSOLVER_TEST_HOLD_BEFORE_COMMIT"


@dataclass(frozen=True)
class DocumentInfo:
    """One stored document, as `kgsolver kb list` and `GET /kb/{name}/documents` show it."""

    doc_id: str
    title: str
    chunks: int


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("kgsolver", "faiss-cpu", "bm25s", "sentence-transformers", "torch"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def _fsync_tree(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in paths:
        with p.open("rb") as handle:
            os.fsync(handle.fileno())


def write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _lease_path(root: Path, generation: int) -> Path:
    return root / f".lease-{generation:06d}.json"


def _pin(root: Path, generation: int) -> BinaryIO | None:
    """A shared lock on this generation's lease, or None when the lease is gone (collected, or never written)."""
    try:
        handle = _lease_path(root, generation).open("rb")
    except FileNotFoundError:
        return None
    fcntl.flock(handle, fcntl.LOCK_SH)  # waits only while a collector holds it to delete this generation
    if os.fstat(handle.fileno()).st_nlink == 0:  # it did: the files are gone
        handle.close()
        return None
    return handle


def _read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.is_file():
        raise KnowledgeBaseError(f"{root}: not a knowledge base (no {MANIFEST}); run `kgsolver ingest` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KnowledgeBaseError(f"{path}: damaged manifest ({exc})") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KnowledgeBaseError(f"{path}: format {manifest.get('format_version')}, this kgsolver reads {FORMAT_VERSION}")
    return manifest


def _hold_if_asked() -> None:
    marker = os.environ.get(HOLD_BEFORE_COMMIT_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        while True:
            time.sleep(1)


def manifest_stamp(root: Path) -> tuple[int, int, int]:
    """Changes with every commit (the manifest is replaced by rename: a new inode): one stat, cheap per question."""
    st = (root / MANIFEST).stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


class KnowledgeBase:
    def __init__(self, root: Path, manifest: dict, chunks: dict[int, Chunk], dense: FaissIndex, bm25: BM25Index,
                 lease: BinaryIO | None = None):
        self.root = root
        self.manifest = manifest
        self.chunks = chunks
        self.dense = dense
        self.bm25 = bm25
        self._by_doc: dict[str, list[int]] = {}
        for cid, chunk in chunks.items():
            self._by_doc.setdefault(chunk.doc_id, []).append(cid)
        self._staged: dict[str, tuple[Callable[[Path], None], str]] = {}  # name -> (writer, file suffix)
        self._core_dirty = False
        self._lease = lease  # this generation's files stay on disk while it is held
        self._after_commit: list[Callable[[], None]] = []

    # ---- opening ----
    @classmethod
    def create(cls, root: Path, *, embedder: dict, chunking: dict) -> "KnowledgeBase":
        root.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format_version": FORMAT_VERSION, "generation": 0, "next_chunk_id": 0, "embedder": embedder,
            "chunking": chunking, "counts": {"documents": 0, "chunks": 0}, "files": {}, "versions": _versions(),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        kb = cls(root, manifest, {}, FaissIndex(embedder["dimensions"]), BM25Index.build(np.zeros(0), []))
        kb._core_dirty = True
        return kb

    @classmethod
    def exists(cls, root: Path) -> bool:
        return (root / MANIFEST).is_file()

    @classmethod
    def open(cls, root: Path) -> "KnowledgeBase":
        """The current generation, pinned by a reader lease until `close()` (or until the object is dropped)."""
        for _ in range(100):  # each retry means a commit and its collection landed between two stat calls
            manifest = _read_manifest(root)
            lease = _pin(root, manifest["generation"])
            if lease is not None or _read_manifest(root)["generation"] == manifest["generation"]:
                break  # pinned, or the current generation was written before leases existed (its next commit adds one)
        else:
            raise KnowledgeBaseError(f"{root}: the knowledge base changed 100 times while opening it; retry")
        try:
            return cls._load(root, manifest, lease)
        except BaseException:
            if lease is not None:
                lease.close()
            raise

    @classmethod
    def _load(cls, root: Path, manifest: dict, lease: BinaryIO | None) -> "KnowledgeBase":
        files = manifest["files"]
        chunks: dict[int, Chunk] = {}
        with (root / files["chunks"]).open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                cid = record.pop("cid")
                chunks[cid] = Chunk(**record)
        dense = FaissIndex.load(root / files["dense"], manifest["embedder"]["dimensions"])
        bm25 = BM25Index.load(root / files["bm25"])
        if len(dense) != len(chunks) or len(bm25) != len(chunks):
            raise KnowledgeBaseError(f"{root}: index sizes disagree ({len(dense)} dense, {len(bm25)} bm25, {len(chunks)} chunks)")
        return cls(root, manifest, chunks, dense, bm25, lease)

    def close(self) -> None:
        """Release the reader lease: the next commit may then collect this generation's files."""
        lease, self._lease = getattr(self, "_lease", None), None
        if lease is not None:
            lease.close()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- reading ----
    @property
    def document_ids(self) -> set[str]:
        return set(self._by_doc)

    def list_documents(self) -> list[DocumentInfo]:
        """Every stored document, sorted by id."""
        return [DocumentInfo(doc_id, self.chunks[cids[0]].title, len(cids)) for doc_id, cids in sorted(self._by_doc.items())]

    def chunk_ids_of(self, doc_ids: set[str]) -> np.ndarray:
        return np.array([cid for d in doc_ids for cid in self._by_doc.get(d, [])], dtype=np.int64)

    def component_path(self, name: str) -> Path | None:
        rel = self.manifest["files"].get(name)
        return self.root / rel if rel else None

    def component_generation(self, name: str) -> int | None:
        """The generation whose commit wrote this component (a component no commit rewrote is carried over)."""
        rel = self.manifest["files"].get(name)
        return int(rel.split("-")[1]) if rel else None

    # ---- staging changes ----
    def remove_documents(self, doc_ids: set[str]) -> int:
        ids = self.chunk_ids_of(doc_ids)
        self.dense.remove(ids)
        for cid in ids.tolist():
            del self.chunks[cid]
        for doc_id in doc_ids:
            self._by_doc.pop(doc_id, None)
        self._core_dirty = self._core_dirty or bool(len(ids))
        return len(ids)

    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray) -> np.ndarray:
        start = self.manifest["next_chunk_id"]
        ids = np.arange(start, start + len(chunks), dtype=np.int64)
        self.manifest["next_chunk_id"] = start + len(chunks)
        self.dense.add(ids, vectors)
        for cid, chunk in zip(ids.tolist(), chunks):
            self.chunks[cid] = chunk
            self._by_doc.setdefault(chunk.doc_id, []).append(cid)
        self._core_dirty = self._core_dirty or bool(len(chunks))
        return ids

    def stage_component(self, name: str, writer: Callable[[Path], None], suffix: str = "") -> None:
        """A later component (graph, atomic questions) is written into a fresh path at the next commit."""
        if name in CORE_COMPONENTS:
            raise ValueError(f"{name} is a core component")
        self._staged[name] = (writer, suffix)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run once the next commit is visible (an external store catching up with the committed generation)."""
        self._after_commit.append(action)

    # ---- committing ----
    def _new_name(self, component: str, suffix: str) -> str:
        return f"{component}-{self.manifest['generation'] + 1:06d}-{uuid.uuid4().hex[:8]}{suffix}"

    def _write_core(self, files: dict[str, str]) -> None:
        files["chunks"] = self._new_name("chunks", ".jsonl")
        with (self.root / files["chunks"]).open("w", encoding="utf-8") as handle:
            for cid, chunk in self.chunks.items():
                handle.write(json.dumps({"cid": cid, **chunk.to_record()}, ensure_ascii=False) + "\n")
        files["dense"] = self._new_name("dense", ".faiss")
        self.dense.save(self.root / files["dense"])
        ids = np.fromiter(self.chunks.keys(), dtype=np.int64, count=len(self.chunks))
        self.bm25 = BM25Index.build(ids, [c.indexed_text() for c in self.chunks.values()])
        files["bm25"] = self._new_name("bm25", "")
        self.bm25.save(self.root / files["bm25"])

    def commit(self) -> None:
        if not self._core_dirty and not self._staged:
            return
        files = dict(self.manifest["files"])
        written = []
        if self._core_dirty:
            self._write_core(files)
            written += [files[c] for c in CORE_COMPONENTS]
        for name, (writer, suffix) in self._staged.items():
            files[name] = self._new_name(name, suffix)
            writer(self.root / files[name])
            written.append(files[name])
        for rel in written:
            _fsync_tree(self.root / rel)
        manifest = dict(self.manifest, files=files, generation=self.manifest["generation"] + 1,
                        updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), versions=_versions(),
                        counts={"documents": len(self._by_doc), "chunks": len(self.chunks)})
        _hold_if_asked()
        write_json_atomic(_lease_path(self.root, manifest["generation"]),
                          {"generation": manifest["generation"], "files": sorted(set(files.values()))})
        write_json_atomic(self.root / MANIFEST, manifest)
        self.manifest = manifest
        self._staged.clear()
        self._core_dirty = False
        old, self._lease = self._lease, _pin(self.root, manifest["generation"])  # this object is the new generation
        if old is not None:
            old.close()
        self.collect_garbage()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def collect_garbage(self) -> list[str]:
        """Remove generation files that neither the current manifest nor a reader's lease names: leftovers of
        replaced generations or killed runs. The writer calls it under the write lock."""
        keep = set(self.manifest["files"].values())
        freed: list[tuple[Path, BinaryIO]] = []
        try:
            for path in sorted(self.root.iterdir()):
                match = _LEASE_FILE.match(path.name)
                if not match or int(match[1]) == self.manifest["generation"]:
                    continue
                handle: BinaryIO = path.open("rb")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a reader still has this generation open: keep its files
                    keep.update(json.loads(handle.read().decode("utf-8"))["files"])
                    handle.close()
                    continue
                freed.append((path, handle))
            removed = []
            for path in self.root.iterdir():
                if path.name in keep or not _GENERATION_FILE.match(path.name):
                    continue
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                removed.append(path.name)
            for path, _ in freed:  # unlinked while still locked: a reader waiting on it sees st_nlink 0 and retries
                path.unlink()
                removed.append(path.name)
            return removed
        finally:
            for _, handle in freed:
                handle.close()


@contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time per knowledge base; readers never block."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise KnowledgeBaseError(f"{root}: another process is writing this knowledge base") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
