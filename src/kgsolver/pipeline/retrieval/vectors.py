"""Every vector a question needs, each computed at most once.

- Texts (the question, sub-questions, KG choices) go through a process-wide memo: the dense retriever, the relevance
  filter and the agent's tools ask for the question's vector several times and it is encoded once.
- A retrieved chunk is scored with the vector ingest stored for it in its segment, never re-encoded.
- A chunk's sentences are scored with the vectors ingest stored in its segment's sentence index
  (pipeline/kb/sentence_index.py, read through `kb.sentences`).
Whatever is not stored (a passage a filter rewrote, a user-stated fact, a KB built before the sentence index) is
encoded through the memo.

`QueryVectors` is an `Embedder` itself (encode, count_tokens, name, dimensions), so it goes wherever the embedder
went; `document_vectors` and `sentence_vectors` fall back to plain encoding when handed a bare embedder.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from langchain_core.documents import Document

from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.text import split_sentences
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.sentence_index import titled_sentence
from kgsolver.pipeline.kb.views import SentenceView


class TextMemo:
    """A bounded, thread-safe text -> vector memo in front of one embedder."""

    def __init__(self, embedder: Embedder, size: int):
        self.embedder = embedder
        self.size = size
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._memo.clear()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._memo[t] for t in texts if t in self._memo}
            for t in found:
                self._memo.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = self.embedder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    found[text] = self._memo[text] = vector
                while len(self._memo) > self.size:
                    self._memo.popitem(last=False)
        if not texts:
            return np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        return np.stack([found[t] for t in texts])


_MEMOS: dict[int, TextMemo] = {}
_MEMOS_LOCK = threading.Lock()


def text_memo(embedder: Embedder, size: int = 4096) -> TextMemo:
    """One memo per embedder object per process (the embedder itself is loaded once per process)."""
    with _MEMOS_LOCK:
        memo = _MEMOS.get(id(embedder))
        if memo is None or memo.embedder is not embedder:
            memo = _MEMOS[id(embedder)] = TextMemo(embedder, size)
        return memo


class QueryVectors:
    """The embedder as the query path sees it: memoised texts, stored chunk and sentence vectors."""

    def __init__(self, embedder: Embedder, kb: KnowledgeBase | None = None, memo_size: int = 4096):
        self.embedder = embedder
        self.kb = kb
        self.memo = text_memo(embedder, memo_size)
        self.name = embedder.name
        self.dimensions = embedder.dimensions

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        return self.memo.encode(list(texts))

    def count_tokens(self, text: str) -> int:
        return self.embedder.count_tokens(text)

    @property
    def sentences(self) -> SentenceView | None:
        """The stored sentences of the knowledge base's chunks, read from each chunk's segment."""
        return self.kb.sentences if self.kb is not None else None

    def stored_chunk(self, doc: Document) -> int | None:
        """The chunk id of a retrieved passage whose text is still the stored chunk's, else None."""
        cid = doc.metadata.get("cid")
        if self.kb is None or cid is None:
            return None
        chunk = self.kb.chunks.get(int(cid))
        return int(cid) if chunk is not None and chunk.text == doc.page_content else None


def document_vectors(embedder: Embedder, documents: list[Document]) -> np.ndarray:
    """A vector per passage, of the text the dense index holds ("title\\ntext")."""
    out = np.zeros((len(documents), embedder.dimensions), dtype=np.float32)
    stored, todo = [], []
    for i, doc in enumerate(documents):
        cid = embedder.stored_chunk(doc) if isinstance(embedder, QueryVectors) else None
        if cid is not None:
            stored.append((i, cid))
        else:
            title = doc.metadata.get("title", "")
            todo.append((i, f"{title}\n{doc.page_content}" if title else doc.page_content))
    if stored and isinstance(embedder, QueryVectors) and embedder.kb is not None:  # (stored implies both)
        out[[i for i, _ in stored]] = embedder.kb.dense.vectors([c for _, c in stored])
    if todo:
        out[[i for i, _ in todo]] = embedder.encode([t for _, t in todo])
    return out


def passage_sentences(embedder: Embedder, doc: Document) -> list[str]:
    """The sentences of a passage: cut from the spans ingest stored when it is a stored chunk, else split now."""
    if isinstance(embedder, QueryVectors) and embedder.sentences is not None:
        cid = embedder.stored_chunk(doc)
        stored = embedder.sentences.sentences_of(cid, doc.page_content) if cid is not None else None
        if stored is not None:
            return stored
    return split_sentences(doc.page_content)


def sentence_vectors(embedder: Embedder, doc: Document, sentences: list[str]) -> np.ndarray:
    """A vector per sentence of `doc` (titled), from the sentence index where the chunk's sentence is stored."""
    title = doc.metadata.get("title", "")
    out = np.zeros((len(sentences), embedder.dimensions), dtype=np.float32)
    stored: dict[str, np.ndarray] = {}
    cid = embedder.stored_chunk(doc) if isinstance(embedder, QueryVectors) else None
    if isinstance(embedder, QueryVectors) and embedder.sentences is not None and cid is not None:
        vectors = embedder.sentences.of_chunk(cid)
        texts = embedder.sentences.sentences_of(cid, doc.page_content)
        if vectors is not None and texts is not None and len(texts) == len(vectors):
            stored = dict(zip(texts, vectors, strict=True))
    todo = [i for i, s in enumerate(sentences) if s not in stored]
    for i, s in enumerate(sentences):
        if s in stored:
            out[i] = stored[s]
    if todo:
        out[todo] = embedder.encode([titled_sentence(title, sentences[i]) for i in todo])
    return out
