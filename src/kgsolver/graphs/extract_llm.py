"""The LLM extractor: schema-guided triples with JSON-constrained output through the LLM gateway (which caches),
several passages per call, optional allowed entity and relation types, and a checkpoint file so that a stopped run
(budget, crash) resumes where it was. Triples whose subject or object does not occur in the passage are dropped."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from kgsolver.connectors import BudgetExceeded, StructuredOutputError
from kgsolver.connectors.graph_stores import Entity, GraphBatch, Mention, Relation, normalize_name, text_entity_id
from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.graphs import extract_llm_prompt as prompt

log = logging.getLogger(__name__)
LLM_CONFIDENCE = 0.8


class LLMTriple(BaseModel):
    passage: int = Field(0, ge=0)
    subject: str
    subject_type: str = "Thing"
    predicate: str
    object: str
    object_type: str = "Thing"


class LLMExtraction(BaseModel):
    triples: list[LLMTriple] = Field(default_factory=list)


TRIPLES_PER_PASSAGE = 8


def extraction_schema(relation_types: list[str], entity_types: list[str], passages: int) -> type[LLMExtraction]:
    """The reply schema, so the grammar itself enforces allowed types and a bounded list: a small model otherwise
    repeats triples until it runs out of tokens and the JSON is cut."""
    fields: dict[str, Any] = {}
    if relation_types:
        fields["predicate"] = (Literal[tuple(relation_types)], ...)
    if entity_types:
        etype: Any = Literal[tuple(entity_types)]
        fields["subject_type"], fields["object_type"] = (etype, entity_types[0]), (etype, entity_types[0])
    triple = create_model("LLMTriple", __base__=LLMTriple, **fields) if fields else LLMTriple
    # `triple` is a model built at run time: mypy cannot check a type it only sees as a variable
    triples = list[triple]  # type: ignore[valid-type]
    return create_model("LLMExtraction", __base__=LLMExtraction,
                        triples=(triples, Field(default_factory=list, max_length=TRIPLES_PER_PASSAGE * passages)))


class LLMExtractor:
    name = "llm"

    def __init__(self, session: LLMSession, *, entity_types: list[str] | None = None,
                 relation_types: list[str] | None = None, batch_chunks: int = 4, checkpoint: Path | None = None,
                 max_tokens: int = 384) -> None:
        self.session, self.batch_chunks = session, batch_chunks
        self.checkpoint, self.max_tokens = checkpoint, max_tokens
        self.entity_types, self.relation_types = list(entity_types or []), list(relation_types or [])
        self.failed: list[int] = []
        self.stopped: str | None = None

    def _done(self) -> dict[int, list[dict[str, Any]]]:
        if not self.checkpoint or not self.checkpoint.exists():
            return {}
        out = {}
        for line in self.checkpoint.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out[record["chunk_id"]] = record["triples"]
        return out

    def _save(self, chunk_id: int, triples: list[dict[str, Any]]) -> None:
        if self.checkpoint:
            with self.checkpoint.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"chunk_id": chunk_id, "triples": triples}, ensure_ascii=False) + "\n")

    def _call(self, group: list[tuple[int, str, str]]) -> dict[int, list[dict[str, Any]]]:
        messages = [SystemMessage(prompt.SYSTEM),
                    HumanMessage(prompt.user_message(group, self.entity_types, self.relation_types))]
        schema = extraction_schema(self.relation_types, self.entity_types, len(group))
        parsed, _ = self.session.chat_json(messages, schema, purpose="graph.extract", max_tokens=self.max_tokens)
        out: dict[int, list[dict[str, Any]]] = {cid: [] for cid, _, _ in group}
        for t in parsed.triples:
            if t.passage < len(group) and self._keep(t, group[t.passage][2]):
                out[group[t.passage][0]].append(t.model_dump())
        return out

    def _keep(self, t: LLMTriple, text: str) -> bool:
        haystack = normalize_name(text)
        grounded = all(normalize_name(x) and normalize_name(x) in haystack for x in (t.subject, t.object))
        allowed = not self.relation_types or t.predicate in self.relation_types
        typed = not self.entity_types or {t.subject_type, t.object_type} <= set(self.entity_types)
        return grounded and allowed and typed and normalize_name(t.subject) != normalize_name(t.object)

    def extract(self, chunks: Iterable[tuple[int, str, str]]) -> GraphBatch:
        items = list(chunks)
        results = self._done()
        todo = [c for c in items if c[0] not in results]
        for start in range(0, len(todo), self.batch_chunks):
            group = todo[start:start + self.batch_chunks]
            try:
                found = self._call(group)
            except BudgetExceeded as exc:
                self.stopped = str(exc)
                log.warning("LLM extraction stopped (%s); rerun to resume from the checkpoint", exc)
                break
            except StructuredOutputError as exc:
                log.warning("LLM extraction failed for chunks %s: %s", [c[0] for c in group], exc)
                self.failed += [c[0] for c in group]
                continue
            for cid, triples in found.items():
                results[cid] = triples
                self._save(cid, triples)
        return _to_batch({cid: results[cid] for cid, _, _ in items if cid in results})


def _to_batch(results: dict[int, list[dict[str, Any]]]) -> GraphBatch:
    batch, seen = GraphBatch(), set()
    for cid, triples in results.items():
        for t in triples:
            ids = []
            for name, type_ in ((t["subject"], t["subject_type"]), (t["object"], t["object_type"])):
                eid = text_entity_id(name)
                ids.append(eid)
                if eid not in seen:
                    seen.add(eid)
                    batch.entities.append(Entity(eid, name.strip(), type_ or "Thing"))
                batch.mentions.append(Mention(cid, eid, name))
            batch.relations.append(Relation(ids[0], t["predicate"].strip().lower(), ids[1], LLM_CONFIDENCE, [cid]))
    return batch
