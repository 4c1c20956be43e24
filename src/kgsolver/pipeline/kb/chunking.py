"""Token-window chunking with overlap, measured in the embedder's own word pieces so no chunk is truncated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.chunk_store import Chunk

if TYPE_CHECKING:  # only the chunker (a writer) takes documents: a question reads chunks, never a corpus
    from kgsolver.connectors.corpus_documents import SourceDocument


def title_text_sha1(title: str, text: str) -> str:
    """Content identity of a document or chunk: decides what must be re-embedded or re-atomized."""
    return hashlib.sha1(f"{title}\x00{text}".encode()).hexdigest()


class TokenChunker:
    def __init__(self, tokenizer: Any, chunk_tokens: int = 200, overlap_tokens: int = 40) -> None:
        if overlap_tokens >= chunk_tokens:
            raise ValueError(f"overlap_tokens ({overlap_tokens}) must be smaller than chunk_tokens ({chunk_tokens})")
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.stride = chunk_tokens - overlap_tokens

    def _spans(self, offsets: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
        n = len(offsets)
        for first in range(0, max(n, 1), self.stride):
            last = min(first + self.chunk_tokens, n) - 1
            yield offsets[first][0], offsets[last][1]
            if last >= n - 1:
                break

    def chunk(self, documents: Iterable[SourceDocument], batch: int = 256) -> Iterator[Chunk]:
        pending: list[SourceDocument] = []
        for document in documents:
            pending.append(document)
            if len(pending) >= batch:
                yield from self._chunk_batch(pending)
                pending = []
        if pending:
            yield from self._chunk_batch(pending)

    def _chunk_batch(self, documents: list[SourceDocument]) -> Iterator[Chunk]:
        encoded = self.tokenizer(
            [d.text for d in documents], add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        for document, offsets in zip(documents, encoded["offset_mapping"], strict=True):
            if not offsets:
                continue  # whitespace only
            for n, (start, end) in enumerate(self._spans(offsets)):
                yield Chunk(f"{document.id}::{n}", document.id, document.title, document.text[start:end],
                            start, end, dict(document.metadata))
