"""On-disk LLM response cache keyed by content (model id, messages, decoding parameters)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, TypedDict


class CachedReply(TypedDict):
    """What the cache keeps of a reply: its text (a scored group's: the scores as JSON) and its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def cache_key(model_id: str, messages: list[tuple[str, str]] | list[list[tuple[str, str]]],
              params: dict[str, Any]) -> str:
    """The response's key: the model, the messages (a scored group's prompts, each its messages) and the parameters."""
    blob = json.dumps({"model": model_id, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """SQLite so that parallel evaluation workers and processes can share one cache safely."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()

    def get(self, key: str) -> CachedReply | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        reply: CachedReply = json.loads(row[0])  # written by `put` from a CachedReply
        return reply

    def put(self, key: str, value: CachedReply) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(value)))
            self._db.commit()
