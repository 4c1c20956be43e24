"""The knowledge base and everything that writes it: ingest (local and Ray), chunking, segments, compaction, format
upgrade, document admin, the sentence and atomic indexes, the graph build and the atomize job.

Here, what every module of the package shares, readers and writers alike:
- the files of a knowledge base folder around its data: the manifest and its atomic swap, reader leases, the write
  lock and the garbage collector (pipeline/kb/knowledge_base.py explains the protocol);
- the arithmetic of global chunk ids over segments, and tombstones. A chunk's global id never changes (graph
  provenance, atomic questions and sentence rows refer to it). A segment written by an ingest holds the ids
  `base .. base + rows - 1` in row order, `base` assigned when the knowledge base adopts it; a segment written by
  compaction keeps the ids of the rows it copied, listed explicitly (sorted). Deleted and replaced chunks are
  tombstones: a sorted array of global ids, dropped from every read until compaction removes their rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from kgsolver.connectors import KnowledgeBaseError

# Global chunk ids over segments, and tombstones.

EMPTY_IDS = np.zeros(0, dtype=np.int64)


def as_ids(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def merge_dead(*parts: np.ndarray) -> np.ndarray:
    """The sorted union of tombstone arrays."""
    arrays = [as_ids(p) for p in parts if len(p)]
    return np.unique(np.concatenate(arrays)) if arrays else EMPTY_IDS


def is_dead(ids: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """A mask over `ids`: True where the id is in the sorted array `dead`."""
    ids = as_ids(ids)
    if not len(dead) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(dead, ids), len(dead) - 1)
    mask: np.ndarray = dead[at] == ids
    return mask


class SegmentIds:
    """The global ids of one segment's rows: `base + row`, or an explicit sorted array (a compacted segment)."""

    def __init__(self, rows: int, base: int | None = None, explicit: np.ndarray | None = None) -> None:
        if (base is None) == (explicit is None):
            raise ValueError("a segment's ids are either a base or an explicit array")
        if explicit is not None and len(explicit) != rows:
            raise ValueError(f"{len(explicit)} explicit ids for {rows} rows")
        self.rows, self.base, self.explicit = rows, base, explicit
        if explicit is not None and rows:
            self.lo, self.hi = int(explicit[0]), int(explicit[-1])
        else:
            self.lo, self.hi = (base or 0), (base or 0) + rows - 1

    def to_global(self, rows: np.ndarray) -> np.ndarray:
        rows = as_ids(rows)
        return as_ids(self.explicit[rows]) if self.explicit is not None else rows + self.base

    def all(self) -> np.ndarray:
        return as_ids(self.explicit) if self.explicit is not None else np.arange(self.lo, self.lo + self.rows)

    def to_local(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask over `ids` of those in this segment, their rows)."""
        ids = as_ids(ids)
        inside = (ids >= self.lo) & (ids <= self.hi)
        if self.explicit is None:
            return inside, ids[inside] - self.base
        at = np.searchsorted(self.explicit, ids[inside])
        found = np.zeros(len(ids), dtype=bool)
        hit = at < self.rows
        hit[hit] = np.asarray(self.explicit[at[hit]]) == ids[inside][hit]
        found[np.flatnonzero(inside)[hit]] = True
        return found, as_ids(at[hit])

    def dead_in(self, dead: np.ndarray) -> np.ndarray:
        """The tombstones that fall in this segment."""
        mask, _ = self.to_local(dead)
        inside: np.ndarray = as_ids(dead)[mask]
        return inside


def pick_for_compaction(rows: list[int], dead: list[int], max_segments: int, dead_ratio: float) -> list[int]:
    """Which segments (positions in the lists) a size-based compaction merges; [] when none is due.

    All of them once tombstones exceed `dead_ratio` of the stored rows (every search over-fetches past them). Else,
    past `max_segments`, the smallest ones, so that the count falls to half the limit: each row is rewritten about
    log(n) times over the life of the knowledge base, not once per ingest."""
    total = sum(rows)
    if total and sum(dead) / total > dead_ratio:
        return list(range(len(rows)))
    if len(rows) <= max_segments:
        return []
    order = sorted(range(len(rows)), key=lambda i: (rows[i], i))
    return sorted(order[: len(rows) - max(1, max_segments // 2) + 1])


# The folder's files around its data: manifest, leases, write lock, garbage collection.

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
# Format 1's whole-KB components: a format-2 manifest has segments instead (`kgsolver kb upgrade` converts).
CORE_COMPONENTS = ("chunks", "dense", "bm25")
# The atomic-question index (pipeline/kb/atomic_index.py), written by `kgsolver kb atomize`: named here so that a
# question on a knowledge base without one need not import its module to find that out.
ATOMIC_COMPONENT = "atomic"
# Only names this module writes are ever collected; anything else a user keeps in the folder is left alone.
_GENERATION_FILE = re.compile(r"^(\w+-\d{6}-[0-9a-f]{8}(\.\w+)*|\.(manifest|lease-\d{6})\.json\.[0-9a-f]{8}\.tmp)$")
_LEASE_FILE = re.compile(r"^\.lease-(\d{6})\.json$")
# A test seam, for crash tests only: when this variable names a path, commit writes that path (the pid) once every
# component, the graph step's included, is on disk, then waits to be killed before the lease and manifest are written.
HOLD_BEFORE_COMMIT_ENV = "KGSOLVER_TEST_HOLD_BEFORE_COMMIT"


def versions() -> dict[str, str]:
    out = {}
    for dist in ("kgsolver", "faiss-cpu", "bm25s", "sentence-transformers", "torch"):
        with contextlib.suppress(PackageNotFoundError):
            out[dist] = version(dist)
    return out


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
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


def lease_path(root: Path, generation: int) -> Path:
    return root / f".lease-{generation:06d}.json"


def pin(root: Path, generation: int) -> BinaryIO | None:
    """A shared lock on this generation's lease, or None when the lease is gone (collected, or never written)."""
    try:
        handle = lease_path(root, generation).open("rb")
    except FileNotFoundError:
        return None
    fcntl.flock(handle, fcntl.LOCK_SH)  # waits only while a collector holds it to delete this generation
    if os.fstat(handle.fileno()).st_nlink == 0:  # it did: the files are gone
        handle.close()
        return None
    return handle


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise KnowledgeBaseError(f"{root}: not a knowledge base (no {MANIFEST}); run `kgsolver ingest` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KnowledgeBaseError(f"{path}: damaged manifest ({exc})") from exc
    if manifest.get("format_version") == 1:
        raise KnowledgeBaseError(f"{path}: format 1 (one chunk file and index per generation); this kgsolver reads "
                                 f"format {FORMAT_VERSION}: convert it in place with `kgsolver kb upgrade --kb {root}`")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KnowledgeBaseError(
            f"{path}: format {manifest.get('format_version')}, this kgsolver reads {FORMAT_VERSION}")
    checked: dict[str, Any] = manifest  # a JSON object of this format (checked above)
    return checked


def hold_if_asked() -> None:
    marker = os.environ.get(HOLD_BEFORE_COMMIT_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        while True:
            time.sleep(1)


def manifest_stamp(root: Path) -> tuple[int, int, int]:
    """Changes with every commit (the manifest is replaced by rename: a new inode): one stat, cheap per question."""
    st = (root / MANIFEST).stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def generation_names(manifest: dict[str, Any]) -> set[str]:
    """Every file and folder a generation reads: its components and their deltas, segments and tombstone files."""
    return (set(manifest["files"].values()) | {s["name"] for s in manifest["segments"]}
            | set(manifest["tombstones"]) | {rel for rels in manifest.get("deltas", {}).values() for rel in rels})


def collect_garbage(root: Path, manifest: dict[str, Any]) -> list[str]:
    """Remove generation files that neither the current manifest nor a reader's lease names: leftovers of
    replaced generations or killed runs. The writer calls it under the write lock."""
    keep = generation_names(manifest)
    freed: list[tuple[Path, BinaryIO]] = []
    try:
        for path in sorted(root.iterdir()):
            match = _LEASE_FILE.match(path.name)
            if not match or int(match[1]) == manifest["generation"]:
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
        for path in root.iterdir():
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


class WriteLockHeld(KnowledgeBaseError):
    """Another process holds the knowledge base's write lock."""


@contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time per knowledge base; readers never block."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise WriteLockHeld(f"{root}: another process is writing this knowledge base") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
