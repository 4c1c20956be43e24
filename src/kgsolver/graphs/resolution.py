"""Entity resolution: map newly extracted entities onto existing ones before they are stored.

Rules, in order, each logged with its reason: (1) normalization (ids are normalized names), (2) alias table (an
extracted name equal to a known name or synonym, e.g. an HPO synonym), (3) short names ("Peart" ->
"Neil Peart" when exactly one multi-token named entity in the same chunk ends with it), (4) embedding similarity of
names above a threshold, only between fuzzy-similar names with the same numbers (so "Type 1" never merges with
"Type 2").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz

from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.graph_stores import Entity, GraphBatch, normalize_name

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"\d+")
UNNAMED_TYPES = {"CONCEPT", "DATE", "Thing", ""}  # spaCy types are hints: any named entity may own a short name


@dataclass
class Merge:
    drop: str
    keep: str
    rule: str
    score: float = 1.0


@dataclass
class EntityResolver:
    embedder: Embedder | None = None
    threshold: float = 0.95
    fuzzy_block: float = 85.0
    # Names per encode call (None: the embedder's own). Names are a few tokens each: in batches sized for passages
    # each forward pass is tiny, and on busy cores its fixed cost dominates (graph.resolution_batch_size).
    batch_size: int | None = None
    alias_table: dict[str, str] = field(default_factory=dict)
    log: list[Merge] = field(default_factory=list)

    def learn(self, entities: Iterable[Entity]) -> None:
        """Add known entities (names and aliases) to the alias table; the first owner of a key wins."""
        for entity in entities:
            for name in (entity.name, *entity.aliases):
                self.alias_table.setdefault(normalize_name(name), entity.id)

    def resolve(self, batch: GraphBatch) -> GraphBatch:
        mapping: dict[str, str] = {}
        self._aliases(batch, mapping)
        self._short_names(batch, mapping)
        if self.embedder is not None:
            self._embedding(batch, mapping)
        for m in self.log[-len(mapping):] if mapping else []:
            log.info("merge %r -> %r (%s, %.3f)", m.drop, m.keep, m.rule, m.score)
        out = _apply(batch, mapping)
        # the ids known before, as a set: a scan of the table's values per entity was quadratic
        known = set(self.alias_table.values())
        self.learn(e for e in out.entities if e.id not in known)
        return out

    def _record(self, mapping: dict[str, str], drop: str, keep: str, rule: str, score: float = 1.0) -> None:
        if drop != keep and drop not in mapping:
            mapping[drop] = keep
            self.log.append(Merge(drop, keep, rule, score))

    def _aliases(self, batch: GraphBatch, mapping: dict[str, str]) -> None:
        for entity in batch.entities:
            target = self.alias_table.get(normalize_name(entity.name))
            if target and target != entity.id:
                self._record(mapping, entity.id, target, "alias")

    def _short_names(self, batch: GraphBatch, mapping: dict[str, str]) -> None:
        by_chunk: dict[int, set[str]] = {}
        for m in batch.mentions:
            by_chunk.setdefault(m.chunk_id, set()).add(m.entity_id)
        types = {e.id: e for e in batch.entities}
        for ids in by_chunk.values():
            people = [types[i] for i in ids if i in types and types[i].type not in UNNAMED_TYPES]
            for short in (p for p in people if len(p.name.split()) == 1):
                key = normalize_name(short.name)
                owners = [p for p in people if len(p.name.split()) > 1 and normalize_name(p.name.split()[-1]) == key]
                if len(owners) == 1:
                    self._record(mapping, short.id, mapping.get(owners[0].id, owners[0].id), "person-short-name")

    def _candidate_pairs(self, pending: list[Entity]) -> list[tuple[int, int]]:
        """Blocking: pairs that share a word (words shared by more than 50 names are too common to block on)
        and whose names are fuzzy-similar with the same numbers."""
        blocks: dict[str, list[int]] = {}
        for i, e in enumerate(pending):
            for word in set(normalize_name(e.name).split()):
                if len(word) > 2:
                    blocks.setdefault(word, []).append(i)
        pairs = set()
        for members in blocks.values():
            if len(members) > 50:
                continue
            for x, i in enumerate(members):
                for j in members[x + 1:]:
                    a, b = pending[i].name, pending[j].name
                    if _NUMBER.findall(a) == _NUMBER.findall(b) and \
                            fuzz.token_set_ratio(normalize_name(a), normalize_name(b)) >= self.fuzzy_block:
                        pairs.add((i, j))
        return sorted(pairs)

    def _embedding(self, batch: GraphBatch, mapping: dict[str, str]) -> None:
        # A batch lists an entity once per chunk that mentions it: pair and embed each id and each name once
        # (on 600 KILT passages: 13,067 listed, 9,329 ids; a third of the pairs were an entity with itself).
        pending = list({e.id: e for e in batch.entities if e.id not in mapping}.values())
        pairs = self._candidate_pairs(pending)
        if not pairs:
            return
        names = sorted({pending[k].name for pair in pairs for k in pair})
        assert self.embedder is not None, "resolve() runs this rule only with an embedder"
        vectors_of_names = self.embedder.encode(names, batch_size=self.batch_size)
        by_name = dict(zip(names, np.asarray(vectors_of_names), strict=True))
        vectors = {k: by_name[pending[k].name] for pair in pairs for k in pair}
        for i, j in pairs:
            score = float(vectors[i] @ vectors[j])
            if score < self.threshold:
                continue
            a, b = pending[i], pending[j]
            keep, drop = (a, b) if len(a.name) >= len(b.name) else (b, a)
            self._record(mapping, drop.id, mapping.get(keep.id, keep.id), "embedding", score)


def _apply(batch: GraphBatch, mapping: dict[str, str]) -> GraphBatch:
    def m(eid: str) -> str:
        seen = set()
        while eid in mapping and eid not in seen:
            seen.add(eid)
            eid = mapping[eid]
        return eid

    entities: dict[str, Entity] = {}
    batch_ids = {x.id for x in batch.entities}
    for e in batch.entities:
        target = m(e.id)
        if target != e.id:
            kept = entities.get(target)
            if kept is not None and e.name != kept.name and e.name not in kept.aliases:
                kept.aliases.append(e.name)
            elif kept is None and target not in batch_ids:
                entities[target] = Entity(target, "", "", [e.name], "", "text")  # an existing entity: alias only
            continue
        entities.setdefault(e.id, e)
    for e in batch.entities:  # aliases of dropped entities whose keeper came later in the batch
        target = m(e.id)
        if target != e.id and target in entities and e.name not in entities[target].aliases \
                and e.name != entities[target].name:
            entities[target].aliases.append(e.name)
    rels = [type(r)(m(r.subject), r.predicate, m(r.object), r.confidence, r.chunks, r.source, r.attrs)
            for r in batch.relations if m(r.subject) != m(r.object)]
    mentions = [type(x)(x.chunk_id, m(x.entity_id), x.text) for x in batch.mentions]
    return GraphBatch(list(entities.values()), rels, mentions)
