"""A knowledge base directory: append-only segments of chunks with their vector, keyword and sentence indexes,
tombstones, and later components (graph, atomic questions).

An ingest writes one new segment folder (pipeline/kb/segment.py) holding only what it adds, and a delete or a
replacement writes a small tombstone file of global chunk ids: the bytes a commit writes grow with the change, not
with the knowledge base. `compact()` (pipeline/kb/compact.py) merges segments and drops tombstoned rows, by hand or
when a size policy says so after a commit. Readers see the segments through `kb.chunks`, `kb.dense`, `kb.bm25` and
`kb.sentences` (pipeline/kb/views.py), by global chunk id, tombstones left out; opening reads no chunk.

Every commit writes its new files under fresh names, then swaps `manifest.json` with one atomic rename.
A process killed at any point leaves the previous manifest, and so the previous knowledge base, intact; files no
manifest names are collected at the next write.

Readers in other processes keep the generation they opened until they close it (a reader lease): each commit also
writes `.lease-<generation>.json`, listing that generation's files and segments, and an open knowledge base holds a
shared `flock` on it. The collector (run by the writer, under the write lock) frees an older generation only when it
can take that lease's exclusive lock without waiting; the files of every generation it cannot lock are kept. A reader
that finds its lease already unlinked (collected between reading the manifest and locking) reads the manifest again.
flock locks belong to an open file description, so this holds across processes and between objects of one process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.pipeline.kb import (
    CORE_COMPONENTS,
    EMPTY_IDS,
    FORMAT_VERSION,
    MANIFEST,
    as_ids,
    collect_garbage,
    generation_names,
    hold_if_asked,
    is_dead,
    lease_path,
    merge_dead,
    pin,
    read_manifest,
    versions,
    write_json_atomic,
)
from kgsolver.pipeline.kb.segment import Segment, fsync_tree, write_segment, write_sentences
from kgsolver.pipeline.kb.views import BM25View, ChunkView, DenseView, SegmentBox, SegmentSet, SentenceView

if TYPE_CHECKING:
    from kgsolver.pipeline.config import KBSettings, KGSolverConfig
    from kgsolver.pipeline.kb.sentence_index import SentenceIndex


@dataclass(frozen=True)
class DocumentInfo:
    """One stored document, as `kgsolver kb list` and `GET /kb/{name}/documents` show it."""

    doc_id: str
    title: str
    chunks: int


def _load_dead(root: Path, manifest: dict[str, Any]) -> np.ndarray:
    return merge_dead(*[np.load(root / name) for name in manifest["tombstones"]])


class KnowledgeBase:
    def __init__(self, root: Path, manifest: dict[str, Any], lease: BinaryIO | None = None):
        self.root = root
        self.manifest = manifest
        self.dimensions = int(manifest["embedder"]["dimensions"])
        self._box = SegmentBox(self._segment_set(manifest))
        self.chunks = ChunkView(self._box)
        self.dense = DenseView(self._box, self.dimensions)
        self.bm25 = BM25View(self._box)
        self.sentences = SentenceView(self._box)
        # How new segments are indexed and when a commit compacts: the writer's configuration (`configure`), never
        # one read here from the environment; a reader has none and cannot commit.
        self.index_spec: IndexSpec | None = None
        self.settings: KBSettings | None = None
        self._staged: dict[str, tuple[Callable[[Path], None], str]] = {}  # name -> (writer, file suffix)
        self._staged_deltas: dict[str, tuple[Callable[[Path], None], str]] = {}  # name -> (writer, file suffix)
        self._new_segments: list[dict[str, Any]] = []
        self._new_dead = EMPTY_IDS
        self._replaced: set[str] = set()  # segments a staged compaction replaces
        self._documents = int(manifest["counts"]["documents"])
        self._fresh = False  # created, never committed: the first commit writes the (maybe empty) manifest
        self._lease = lease  # this generation's files stay on disk while it is held
        self._after_commit: list[Callable[[], None]] = []

    @property
    def segment_set(self) -> SegmentSet:
        return self._box.segment_set

    @segment_set.setter
    def segment_set(self, value: SegmentSet) -> None:
        self._box.segment_set = value

    def _unconfigured(self) -> KnowledgeBaseError:
        return KnowledgeBaseError(f"{self.root} was opened without a configuration: a writer passes its own "
                                  "(KnowledgeBase.open(root, config), create(..., config=config) or configure)")

    def spec(self) -> IndexSpec:
        """The vector index spec new segments get: the writer's `config.vector_index`."""
        if self.index_spec is None:
            raise self._unconfigured()
        return self.index_spec

    def kb_settings(self) -> KBSettings:
        """When a commit compacts: the writer's `config.kb`."""
        if self.settings is None:
            raise self._unconfigured()
        return self.settings

    def require_embedder(self, embedder: Embedder, remedy: str) -> None:
        """Refuse an embedder whose vectors are not this knowledge base's: the model ingest recorded, by name and
        width. The runtime may differ (the query path's GGUF and ingest's torch give the same model's vectors)."""
        recorded = self.manifest["embedder"]
        if recorded["name"] != embedder.name or int(recorded["dimensions"]) != embedder.dimensions:
            raise KnowledgeBaseError(f"{self.root} was built with embedder {recorded['name']} ({recorded['dimensions']}"
                                     f" dimensions), not {embedder.name} ({embedder.dimensions}); {remedy}")

    def _segment_set(self, manifest: dict[str, Any]) -> SegmentSet:
        return SegmentSet([Segment(self.root, r, self.dimensions) for r in manifest["segments"]],
                          _load_dead(self.root, manifest))

    # ---- opening ----
    @classmethod
    def create(cls, root: Path, *, embedder: dict[str, Any], chunking: dict[str, Any],
               config: KGSolverConfig | None = None) -> KnowledgeBase:
        """A new, empty knowledge base at `root`; its first commit writes the manifest (a writer's `config`, as for
        `open`)."""
        root.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format_version": FORMAT_VERSION, "generation": 0, "next_chunk_id": 0, "embedder": embedder,
            "chunking": chunking, "counts": {"documents": 0, "chunks": 0}, "files": {}, "segments": [],
            "tombstones": [], "versions": versions(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        kb = cls(root, manifest)
        kb._fresh = True
        if config is not None:
            kb.configure(config)
        return kb

    @classmethod
    def exists(cls, root: Path) -> bool:
        return (root / MANIFEST).is_file()

    def configure(self, config: KGSolverConfig) -> None:
        """How this writer's new segments are indexed and when its commit compacts: the caller's configuration, never
        a fresh read of the environment (an API started with its own settings must compact by them)."""
        self.index_spec, self.settings = config.vector_index, config.kb

    @classmethod
    def open(cls, root: Path, config: KGSolverConfig | None = None) -> KnowledgeBase:
        """The current generation, pinned by a reader lease until `close()` (or until the object is dropped). A
        writer passes its `config` (`configure`); a reader needs none."""
        for _ in range(100):  # each retry means a commit and its collection landed between two stat calls
            manifest = read_manifest(root)
            lease = pin(root, manifest["generation"])
            if lease is not None or read_manifest(root)["generation"] == manifest["generation"]:
                break  # pinned, or the current generation was written before leases existed (its next commit adds one)
        else:
            raise KnowledgeBaseError(f"{root}: the knowledge base changed 100 times while opening it; retry")
        try:
            kb = cls(root, manifest, lease)
            if config is not None:
                kb.configure(config)
            return kb
        except BaseException:
            if lease is not None:
                lease.close()
            raise

    def close(self) -> None:
        """Release the reader lease: the next commit may then collect this generation's files."""
        lease, self._lease = getattr(self, "_lease", None), None
        if lease is not None:
            lease.close()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ----
    def _rows_of_documents(self, doc_ids: set[str]) -> list[tuple[int, str]]:
        """(global id, doc_id) of every live chunk of these documents, through each store's doc_id index."""
        out: list[tuple[int, str]] = []
        for segment in self.segment_set.segments:
            found = segment.store.positions_of(sorted(doc_ids))
            if found:
                gids = segment.ids.to_global(as_ids([row for row, _ in found]))
                alive = ~is_dead(gids, self.segment_set.dead)
                out += [(g, d) for g, (_, d), a in zip(gids.tolist(), found, alive.tolist(), strict=True) if a]
        return out

    def _documents_scan(self) -> dict[str, DocumentInfo]:
        """Every live document with its title and chunk count: one pass over the stores' doc_id and title columns."""
        docs: dict[str, DocumentInfo] = {}
        for segment in self.segment_set.segments:
            dead_rows = set(segment.ids.to_local(segment.ids.dead_in(self.segment_set.dead))[1].tolist())
            for row, doc_id, title in segment.store.documents():
                if row in dead_rows:
                    continue
                seen = docs.get(doc_id)
                docs[doc_id] = DocumentInfo(doc_id, seen.title if seen else title, (seen.chunks if seen else 0) + 1)
        return docs

    @property
    def document_ids(self) -> set[str]:
        return set(self._documents_scan())

    def list_documents(self) -> list[DocumentInfo]:
        """Every stored document, sorted by id."""
        return sorted(self._documents_scan().values(), key=lambda d: d.doc_id)

    def unknown_documents(self, doc_ids: list[str]) -> list[str]:
        """The ids among these that no live chunk belongs to, in the order given (a seek per store, not a scan)."""
        known = {d for _, d in self._rows_of_documents(set(doc_ids))}
        return [d for d in doc_ids if d not in known]

    def chunk_ids_of(self, doc_ids: set[str]) -> np.ndarray:
        return as_ids([cid for cid, _ in self._rows_of_documents(set(doc_ids))])

    def content_hashes(self, doc_ids: set[str]) -> dict[str, str | None]:
        """The stored `content_sha1` of each of these documents that is stored (ingest's change test)."""
        out: dict[str, str | None] = {}
        for segment in self.segment_set.segments:
            found = segment.store.content_hashes(sorted(doc_ids))
            if found:
                gids = segment.ids.to_global(as_ids([row for row, _, _ in found]))
                for (_, doc_id, sha), dead in zip(found, is_dead(gids, self.segment_set.dead).tolist(), strict=True):
                    if not dead:
                        out[doc_id] = sha
        return out

    def component_path(self, name: str) -> Path | None:
        rel = self.manifest["files"].get(name)
        return self.root / rel if rel else None

    def component_deltas(self, name: str) -> list[Path]:
        """The delta files of a component grown by deltas (the graph), oldest first: read its base, then each."""
        return [self.root / rel for rel in self.manifest.get("deltas", {}).get(name, [])]

    def component_generation(self, name: str) -> int | None:
        """The generation whose commit wrote this component (a component no commit rewrote is carried over)."""
        rel = self.manifest["files"].get(name)
        return int(rel.split("-")[1]) if rel else None

    # ---- staging changes ----
    def new_segment_folder(self) -> Path:
        """A fresh folder name for a segment of the next commit (`write_segment` creates it; a Ray worker may)."""
        return self.root / f"seg-{self.manifest['generation'] + 1:06d}-{uuid.uuid4().hex[:8]}"

    def adopt_segment(self, folder_name: str, record: dict[str, Any]) -> np.ndarray:
        """Stage a segment `write_segment` wrote under this knowledge base's folder: its rows get the next global
        ids (base + row), which are returned; the next commit names it in the manifest."""
        if self._replaced:
            raise KnowledgeBaseError("a compaction is staged: commit it before adding segments")
        if record.get("explicit_ids") or "/" in folder_name or not (self.root / folder_name).is_dir():
            raise KnowledgeBaseError(f"{self.root / folder_name}: not a fresh segment folder of this knowledge base")
        base = int(self.manifest["next_chunk_id"])
        staged = dict(record, name=folder_name, base=base, explicit_ids=False)
        segment = Segment(self.root, staged, self.dimensions)
        if len(segment.store) != staged["rows"]:
            raise KnowledgeBaseError(
                f"{segment.folder}: {len(segment.store)} stored rows, the record says {staged['rows']}")
        self.manifest["next_chunk_id"] = base + staged["rows"]
        self._new_segments.append(staged)
        self.segment_set.segments.append(segment)
        self._documents += int(staged["documents"])
        return np.arange(base, base + staged["rows"], dtype=np.int64)

    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray, *, embedder: Embedder | None = None,
                   sentences: SentenceIndex | None = None) -> np.ndarray:
        """Write these chunks as one new segment and stage it (with `sentences`, their index keyed by position, when
        the chunk pass made it); returns their global ids."""
        if not chunks:
            return EMPTY_IDS
        folder = self.new_segment_folder()
        record = write_segment(folder, chunks, vectors, embedder, self.spec(), sentences=sentences)
        return self.adopt_segment(folder.name, record)

    def stage_sentences(self, embedder: Embedder, *, show: bool = False) -> int:
        """Write the sentence index of every staged segment that lacks one; returns the segments done (`show`: a
        progress bar while the sentences are encoded)."""
        done = 0
        for segment in self.segment_set.segments:
            if segment.name in {r["name"] for r in self._new_segments} and not segment.has_sentences():
                chunks = segment.chunks(np.arange(segment.rows))
                write_sentences(segment.folder, [chunks[r] for r in range(segment.rows)], embedder, show=show)
                segment.__dict__.pop("sentences", None)
                done += 1
        return done

    def remove_documents(self, doc_ids: set[str]) -> int:
        """Tombstone every live chunk of these documents; returns how many."""
        found = self._rows_of_documents(set(doc_ids))
        ids = as_ids([cid for cid, _ in found])
        if len(ids):
            self._new_dead = merge_dead(self._new_dead, ids)
            self.segment_set.dead = merge_dead(self.segment_set.dead, ids)
            self._documents -= len({d for _, d in found})
        return len(ids)

    def stage_compaction(self, replaced: set[str], record: dict[str, Any]) -> None:
        """Stage a compacted segment (explicit ids) in place of the segments it merged; their tombstones go."""
        if self._new_segments or len(self._new_dead) or self._replaced:
            raise KnowledgeBaseError("compaction runs on a committed knowledge base: commit the staged changes first")
        merged = Segment(self.root, record, self.dimensions)
        gone = [s for s in self.segment_set.segments if s.name in replaced]
        dead = self.segment_set.dead
        for segment in gone:
            dead = dead[~segment.ids.to_local(dead)[0]]
        self.segment_set = SegmentSet([s for s in self.segment_set.segments if s.name not in replaced] + [merged], dead)
        self._replaced, self._new_segments = set(replaced), [record]

    def stage_component(self, name: str, writer: Callable[[Path], None], suffix: str = "") -> None:
        """A later component (graph, atomic questions) is written into a fresh path at the next commit."""
        if name in CORE_COMPONENTS:
            raise ValueError(f"{name} is a core component")
        if name in self._staged_deltas:
            raise KnowledgeBaseError(f"{name}: a delta is staged; a whole component would replace it")
        self._staged[name] = (writer, suffix)

    def stage_delta(self, name: str, writer: Callable[[Path], None], suffix: str = "") -> None:
        """One more delta file of a component (its changes of this commit), appended to its list at the next commit;
        staging the whole component (`stage_component`) starts the list again."""
        if name in CORE_COMPONENTS or name in self._staged:
            raise KnowledgeBaseError(f"{name}: a delta cannot join a core or a whole staged component")
        self._staged_deltas[name] = (writer, suffix)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run once the next commit is visible (an external store catching up with the committed generation)."""
        self._after_commit.append(action)

    # ---- committing ----
    def _new_name(self, component: str, suffix: str) -> str:
        return f"{component}-{self.manifest['generation'] + 1:06d}-{uuid.uuid4().hex[:8]}{suffix}"

    def _write_tombstones(self) -> tuple[list[str], list[str]]:
        """(the tombstone files of the next generation, those written now): one small file of this commit's new
        tombstones; after a compaction, one file of every tombstone left (or none)."""
        if self._replaced:
            if not len(self.segment_set.dead):
                return [], []
            names, dead = [self._new_name("tomb", ".npy")], self.segment_set.dead
        else:
            if not len(self._new_dead):
                return list(self.manifest["tombstones"]), []
            names, dead = list(self.manifest["tombstones"]) + [self._new_name("tomb", ".npy")], self._new_dead
        with (self.root / names[-1]).open("wb") as handle:
            np.save(handle, dead)
        return names, names[-1:]

    def _pending(self) -> bool:
        return bool(self._fresh or self._new_segments or len(self._new_dead) or self._staged or self._replaced
                    or self._staged_deltas)

    def commit(self) -> None:
        if not self._pending():
            return
        self.kb_settings()  # a commit may compact: refuse before writing anything if no configuration was given
        files = dict(self.manifest["files"])
        written = [r["name"] for r in self._new_segments]
        for name, (writer, suffix) in self._staged.items():
            files[name] = self._new_name(name, suffix)
            writer(self.root / files[name])
            written.append(files[name])
        deltas = {n: list(v) for n, v in self.manifest.get("deltas", {}).items() if n not in self._staged}
        for name, (writer, suffix) in self._staged_deltas.items():
            deltas.setdefault(name, []).append(self._new_name(f"{name}_delta", suffix))
            writer(self.root / deltas[name][-1])
            written.append(deltas[name][-1])
        tombstones, tomb_written = self._write_tombstones()
        for rel in written + tomb_written:
            fsync_tree(self.root / rel)
        segments = [r for r in self.manifest["segments"] if r["name"] not in self._replaced] + self._new_segments
        manifest = dict(self.manifest, files=files, segments=segments, tombstones=tombstones, deltas=deltas,
                        generation=self.manifest["generation"] + 1, updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        versions=versions(), counts={"documents": self._documents, "chunks": len(self.segment_set)})
        hold_if_asked()
        write_json_atomic(lease_path(self.root, manifest["generation"]),
                          {"generation": manifest["generation"], "files": sorted(generation_names(manifest))})
        write_json_atomic(self.root / MANIFEST, manifest)
        compacted = bool(self._replaced)
        self.manifest = manifest
        self._staged.clear()
        self._staged_deltas.clear()
        self._new_segments, self._new_dead, self._replaced, self._fresh = [], EMPTY_IDS, set(), False
        old, self._lease = self._lease, pin(self.root, manifest["generation"])  # this object is the new generation
        if old is not None:
            old.close()
        self.collect_garbage()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()
        if not compacted:
            from kgsolver.pipeline.kb.merge import compact_if_due  # a writer's step: opening a KB to read skips it

            compact_if_due(self)

    def collect_garbage(self) -> list[str]:
        """Remove generation files that neither the current manifest nor a reader's lease names: leftovers of
        replaced generations or killed runs. The writer calls it under the write lock."""
        return collect_garbage(self.root, self.manifest)
