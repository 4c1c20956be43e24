"""The resumable log of a long job: one JSON row per finished item, appended (flushed and fsynced) as soon as it
finishes, so that a killed job loses at most the items in flight and a re-run skips the keys already there.

Used by the atomize job (`.atomize/progress.jsonl`) and the eval runner (`predictions.jsonl`). A job killed mid-write
leaves a torn last line: readers skip a line that is not JSON, and a writer opening a log whose last line is torn
starts on a fresh line, so that its first row is not glued to the torn one.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def read_rows(path: Path, key: Callable[[dict[str, Any]], K], *, repair: bool = False) -> dict[K, dict[str, Any]]:
    """Rows by `key(row)`, the last row per key winning; lines that are not JSON are skipped. With `repair` a file
    that had any is rewritten without them (for readers that refuse a bad line); only while no writer has it open."""
    if not path.exists():
        return {}
    rows: dict[K, dict[str, Any]] = {}
    good, bad = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad = True
            continue
        good.append(line)
        rows[key(row)] = row
    if bad and repair:
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")
        os.replace(tmp, path)
    return rows


class RowLog:
    """Appends rows to a log, one whole line each, from any number of threads."""

    def __init__(self, path: Path) -> None:
        torn = False
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                torn = handle.read(1) != b"\n"
        self._handle = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        if torn:
            self._handle.write("\n")

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RowLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
