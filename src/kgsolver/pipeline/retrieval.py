"""Retrieval over a knowledge base: the one search protocol (`Search`), the knowledge base's LangChain retrievers
(dense, BM25, and their hybrid fusion by reciprocal rank; each returns Documents with provenance), and the query
vectors, each computed at most once per question (`QueryVectors`)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.text import split_sentences
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.sentence_index import titled_sentence
from kgsolver.pipeline.kb.views import SentenceView

# The one search protocol (`Search`): a query, optionally seed passages, in; ranked LangChain Documents with
# provenance out. The knowledge base's retrievers and the multi-hop tools (pipeline/multihop) implement it;
# every knowledge-base retriever shares `chunk_documents`, which turns scored chunk ids into Documents.


def _document(chunk: Chunk, chunk_id: int, score: float, retriever: str, extra: Mapping[str, Any]) -> Document:
    metadata = {
        "chunk_id": chunk.chunk_id, "cid": int(chunk_id), "doc_id": chunk.doc_id, "title": chunk.title,
        "start": chunk.start, "end": chunk.end, "score": float(score), "retriever": retriever,
    }
    metadata.update({k: v for k, v in chunk.metadata.items() if k not in metadata and k != "content_sha1"})
    metadata.update(extra)
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)


def chunk_documents(kb: KnowledgeBase, hits: Sequence[tuple[int, float]], retriever: str,
                    extras: Sequence[Mapping[str, Any]] | None = None) -> list[Document]:
    """One Document per (chunk id, score) hit, in the hits' order, with `extras[i]` added to hit i's metadata.
    The chunks are read in one batch (`kb.chunks.many`: one read per segment store, not one per hit); a hit on a
    chunk the knowledge base does not hold is a KeyError, as `kb.chunks[cid]` is."""
    chunks = kb.chunks.many(int(cid) for cid, _ in hits)
    missing = [int(cid) for cid, _ in hits if int(cid) not in chunks]
    if missing:
        raise KeyError(f"no live chunk with id {missing[:10]}")
    return [_document(chunks[int(cid)], cid, score, retriever, extras[i] if extras else {})
            for i, (cid, score) in enumerate(hits)]


class Search(ABC):
    """A template-method search base, after neo4j-graphrag's `Retriever`: `search` checks its arguments and calls
    the subclass's `get_search_results`. Seeds are the passages found so far: the graph tools start from them, a
    plain retriever ignores them."""

    name: str  # names the search in the trace and in each Document's `retriever`

    def search(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        """Ranked passages, at most `k`; each Document's metadata names the search (`retriever`) and why it was
        found."""
        if not isinstance(query, str):
            raise TypeError(f"{self.name}: the query is a string, not {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 0:  # numpy's ints are Integral
            raise ValueError(f"{self.name}: k is a count of passages, not {k!r}")
        if not all(isinstance(seed, Document) for seed in seeds):
            raise TypeError(f"{self.name}: seed passages are Documents")
        return self.get_search_results(query, seeds, k)

    @abstractmethod
    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        """The subclass's search, on checked arguments."""


class KBRetriever(BaseRetriever, Search):
    """A LangChain retriever over the knowledge base that is also a `Search` (`invoke` and `search` give the same
    Documents). Subclasses implement `scored_ids`; batching over many queries is what benchmarks and evals use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    kb: KnowledgeBase
    k: int = 5
    name: str = "kb"  # the Runnable's name, which LangChain's callbacks show too

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        raise NotImplementedError

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        return chunk_documents(self.kb, self.scored_ids([query], k)[0], self.name)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        return self.search(query, k=kwargs.get("k", self.k))


def valid_hits(scores: np.ndarray, ids: np.ndarray) -> list[list[tuple[int, float]]]:
    return [[(int(i), float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)]


# Reciprocal rank fusion (Cormack et al., 2009).


def rrf_score(rank: int, rrf_k: int, weight: float = 1.0) -> float:
    """The one reciprocal-rank formula (0-based rank): hybrid search here, the multi-hop evidence pools too."""
    return weight / (rrf_k + rank + 1)


class RankFusion:
    """The one rank fusion: each ranked list of chunk ids adds `rrf_score` (times its weight) to each id; ranked by
    the summed score, ties by id. Hybrid search fuses its retrievers with it, the multi-hop evidence pools
    (pipeline/multihop/__init__.py) their tools' lists."""

    def __init__(self, rrf_k: int) -> None:
        self.rrf_k = rrf_k
        self.scores: dict[int, float] = {}

    def add(self, ids: Iterable[int], weight: float = 1.0) -> None:
        for rank, cid in enumerate(ids):
            self.scores[cid] = self.scores.get(cid, 0.0) + rrf_score(rank, self.rrf_k, weight)

    def ranked(self, k: int | None = None) -> list[tuple[int, float]]:
        return sorted(self.scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], rrf_k: int, k: int) -> list[tuple[int, float]]:
    fusion = RankFusion(rrf_k)
    for ranking in rankings:
        fusion.add(cid for cid, _score in ranking)
    return fusion.ranked(k)


# The knowledge base's retrievers: dense (the embedder's cosine similarity over the faiss index), keyword (BM25 over
# titles and passages, bm25s), and hybrid (dense and BM25 candidates fused by reciprocal rank).


class DenseRetriever(KBRetriever):
    embedder: Embedder
    name: str = "dense"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        return self.search_vectors(self.embedder.encode(queries), k)

    def search_vectors(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        scores, ids = self.kb.dense.search(vectors, k)
        return valid_hits(scores, ids)


class BM25Retriever(KBRetriever):
    name: str = "bm25"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        scores, ids = self.kb.bm25.search(queries, k)
        return valid_hits(scores, ids)


class HybridRetriever(KBRetriever):
    retrievers: list[KBRetriever]
    candidates: int = 30
    rrf_k: int = 60
    name: str = "hybrid"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        per_retriever = [r.scored_ids(queries, self.candidates) for r in self.retrievers]
        return [reciprocal_rank_fusion([hits[q] for hits in per_retriever], self.rrf_k, k) for q in range(len(queries))]


# The query vectors. Every vector a question needs, each computed at most once.
#
# - Texts (the question, sub-questions, KG choices) go through a process-wide memo: the dense retriever, the relevance
#   filter and the agent's tools ask for the question's vector several times and it is encoded once.
# - A retrieved chunk is scored with the vector ingest stored for it in its segment, never re-encoded.
# - A chunk's sentences are scored with the vectors ingest stored in its segment's sentence index
#   (pipeline/kb/sentence_index.py, read through `kb.sentences`).
# Whatever is not stored (a passage a filter rewrote, a user-stated fact, a KB built before the sentence index) is
# encoded through the memo.
#
# `QueryVectors` is an `Embedder` itself (encode, count_tokens, name, dimensions), so it goes wherever the embedder
# went; `document_vectors` and `sentence_vectors` fall back to plain encoding when handed a bare embedder.


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
