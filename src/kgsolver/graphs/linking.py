"""Entity linking: which KG entities a question or chunk mentions, with scores.

Candidate spans are word n-grams; each is matched exactly (normalized name, score 1.0), by alias (0.95), fuzzily
(rapidfuzz, score = ratio/100 * 0.9) and, for what is still unmatched, by embedding similarity of the span to the
entity names (score = cosine * 0.85). Longer spans win over the spans they contain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.graph_stores import Entity, normalize_name
from kgsolver.connectors.text import english_stop_words

_WORD = re.compile(r"[\w'’\-]+", re.UNICODE)


@dataclass
class Link:
    entity_id: str
    name: str
    span: str
    method: str
    score: float


class EntityLinker:
    def __init__(self, entities: Iterable[Entity], *, embedder: Embedder | None = None, fuzzy_cutoff: float = 90.0,
                 embedding_cutoff: float = 0.8, max_ngram: int = 6) -> None:
        self.names: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        self.display: dict[str, str] = {}
        for e in entities:
            self.display[e.id] = e.name
            self.names.setdefault(normalize_name(e.name), e.id)
            for alias in e.aliases:
                self.aliases.setdefault(normalize_name(alias), e.id)
        self.keys = list(self.names) + [k for k in self.aliases if k not in self.names]
        self.key_ids = [self.names.get(k) or self.aliases[k] for k in self.keys]
        self.embedder, self.fuzzy_cutoff, self.embedding_cutoff = embedder, fuzzy_cutoff, embedding_cutoff
        self.max_ngram = max_ngram
        self._vectors: np.ndarray | None = None

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        words = [m.group(0) for m in _WORD.finditer(text)]
        stop, spans = english_stop_words(), []
        for n in range(min(self.max_ngram, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                if gram[0].lower() in stop or gram[-1].lower() in stop:
                    continue
                spans.append((i, i + n, " ".join(gram)))
        return spans

    def _match(self, span: str, *, fuzzy: bool) -> tuple[str, str, float] | None:
        key = normalize_name(span)
        if len(key) < 3 and not key.isupper():
            return None
        if key in self.names:
            return self.names[key], "exact", 1.0
        if key in self.aliases:
            return self.aliases[key], "alias", 0.95
        if fuzzy and len(key) >= 5:
            hit = process.extractOne(key, self.keys, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff)
            if hit:
                return self.key_ids[hit[2]], "fuzzy", round(hit[1] / 100 * 0.9, 4)
        return None

    def link(self, text: str, *, fuzzy: bool = True, embedding: bool = True, top: int = 10) -> list[Link]:
        taken: set[int] = set()
        links: dict[str, Link] = {}
        unmatched: list[str] = []
        for start, end, span in self._spans(text):
            if taken.intersection(range(start, end)):
                continue
            hit = self._match(span, fuzzy=fuzzy and end - start > 1)
            if hit is None:
                if end - start > 1:
                    unmatched.append(span)
                continue
            taken.update(range(start, end))
            eid, method, score = hit
            if eid not in links or links[eid].score < score:
                links[eid] = Link(eid, self.display.get(eid, eid), span, method, score)
        if embedding and self.embedder is not None and unmatched:
            for link in self._embedding_links(unmatched):
                links.setdefault(link.entity_id, link)
        return sorted(links.values(), key=lambda link: -link.score)[:top]

    def _embedding_links(self, spans: list[str]) -> list[Link]:
        assert self.embedder is not None, "link() asks for embedding links only with an embedder"
        if self._vectors is None:
            self._vectors = np.asarray(self.embedder.encode(self.keys))
        sims = np.asarray(self.embedder.encode(spans)) @ self._vectors.T
        out = []
        for row, span in zip(sims, spans, strict=True):
            j = int(row.argmax())
            if row[j] >= self.embedding_cutoff:
                eid = self.key_ids[j]
                out.append(Link(eid, self.display.get(eid, eid), span, "embedding", round(float(row[j]) * 0.85, 4)))
        return out
