"""The KG model: entities, relations with provenance, and chunk <-> entity mentions. It lives beside the graph stores
(connectors/ is the lowest layer): the stores read and write it, graphs/ builds and walks it.

Every entity and relation names where it came from: `source` is "text" (extracted from chunks, whose ids are in
`chunks`) or "kg:<name>" (imported from an external KG file).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019]s$")


def normalize_name(name: str) -> str:
    """The key that alias tables and exact linking compare: NFKC, casefold, no article, possessive or edge
    punctuation."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = _POSSESSIVE.sub("", text)
    text = _LEADING_ARTICLE.sub("", text)
    text = _EDGE_PUNCT.sub("", text)
    return _SPACE.sub(" ", text)


def text_entity_id(name: str) -> str:
    return "t:" + normalize_name(name)


@dataclass
class Entity:
    id: str
    name: str
    type: str = "Thing"
    aliases: list[str] = field(default_factory=list)
    description: str = ""
    source: str = "text"

    def to_record(self) -> dict[str, Any]:
        # Field by field, lists copied: what dataclasses.asdict gives, without its recursive deep copy of every
        # string (a third of a graph upsert's time on KILT passages, issue 35). A field added above goes here too.
        return {"id": self.id, "name": self.name, "type": self.type, "aliases": list(self.aliases),
                "description": self.description, "source": self.source}


@dataclass
class Relation:
    subject: str
    predicate: str
    object: str
    confidence: float = 1.0
    chunks: list[int] = field(default_factory=list)
    source: str = "text"
    attrs: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject, self.predicate, self.object)

    def to_record(self) -> dict[str, Any]:
        # as Entity.to_record: asdict's output, built directly
        return {"subject": self.subject, "predicate": self.predicate, "object": self.object,
                "confidence": self.confidence, "chunks": list(self.chunks), "source": self.source,
                "attrs": self.attrs}


@dataclass
class Mention:
    chunk_id: int
    entity_id: str
    text: str = ""


@dataclass
class GraphBatch:
    """What an extractor or importer produces; stores upsert it in one go."""

    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    def extend(self, other: GraphBatch) -> None:
        self.entities += other.entities
        self.relations += other.relations
        self.mentions += other.mentions


@dataclass
class Subgraph:
    """A neighbourhood or path read back from a store."""

    entities: dict[str, Entity] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
