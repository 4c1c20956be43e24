"""The Knowledge-Solver KG walk: link the question's entities, then hop by hop show the LLM the current node's
relations as a numbered choice list (JSON-constrained) and let it pick the next hop or stop. Every choice is also
scored by embedding similarity (see hop_policy.py); `beams` paths are kept; each path keeps its relations, whose
chunk provenance becomes evidence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from kgsolver.connectors.graph_stores import Relation
from kgsolver.pipeline.answer import linked, llm_step
from kgsolver.pipeline.multihop import kg_walker_prompt as prompt
from kgsolver.pipeline.multihop.hop_policy import combine, embedding_scores

if TYPE_CHECKING:
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.answer import QuestionAnalysis, Tracer
    from kgsolver.pipeline.config import AgentSettings
    from kgsolver.pipeline.multihop import AgentResources


class HopPick(BaseModel):
    choice: int


@dataclass
class WalkPath:
    node: str
    score: float
    relations: list[Relation] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def chunks(self) -> list[int]:
        return list(dict.fromkeys(c for r in self.relations for c in r.chunks))


class KGWalker:
    def __init__(self, resources: AgentResources, settings: AgentSettings, *, session: LLMSession | None = None,
                 tracer: Tracer | None = None, can_call: Callable[[], bool] | None = None,
                 analysis: QuestionAnalysis | None = None) -> None:
        self.resources, self.settings, self.session, self.tracer = resources, settings, session, tracer
        self.can_call = can_call or (lambda: True)  # the caller's budget reserve (e.g. calls kept for the answer)
        self.analysis = analysis  # the question analysed once: its entity links are reused, not linked again

    def name(self, eid: str) -> str:
        store = self.resources.store
        assert store is not None, "walk() runs only on a knowledge base with a graph"
        entity = store.get_entity(eid)
        return entity.name if entity and entity.name else eid

    def start(self, question: str) -> list[WalkPath]:
        linker = self.resources.entity_linker
        assert linker is not None, "walk() runs only on a knowledge base with a graph"
        links = linked(linker, question, self.analysis, embedding=False)
        return [WalkPath(link.entity_id, link.score) for link in links[: self.settings.beams]]

    def choices(self, path: WalkPath) -> list[tuple[Relation, str, str]]:
        store = self.resources.store
        assert store is not None, "walk() runs only on a knowledge base with a graph"
        sub = store.neighbors([path.node], hops=1, degree_cap=self.settings.walk_degree_cap)
        seen = {path.node} | {x for r in path.relations for x in (r.subject, r.object)}
        out = []
        for rel in sub.relations:
            other = rel.object if rel.subject == path.node else rel.subject
            if other not in seen:
                pred = rel.predicate.replace("_", " ")
                text = (f"{self.name(path.node)} {pred} {self.name(other)}" if rel.subject == path.node
                        else f"{self.name(other)} {pred} {self.name(path.node)}")
                out.append((rel, other, text))
        return out

    def ask_llm(self, question: str, path: WalkPath, texts: list[str]) -> int | None:
        """0-based pick, -1 for stop, None when no call was made or the reply was not a valid choice."""
        session = self.session  # narrowed here for the call below
        if session is None or self.settings.hop_policy == "embedding" or not self.can_call():
            return None
        started = time.perf_counter()
        messages = [SystemMessage(prompt.SYSTEM),
                    HumanMessage(prompt.user_message(question, path.facts, self.name(path.node), texts))]
        reply = llm_step(lambda: session.chat_json(messages, HopPick, purpose="kg hop", max_tokens=12), None,
                         tracer=self.tracer, tool="kg_walk:llm", input={"node": self.name(path.node)},
                         failure="no pick", started=started)
        if reply is None:  # the embedding score picks
            return None
        pick, raw = reply
        valid = 0 <= pick.choice <= len(texts)
        decision = ("stop" if pick.choice == 0 else f"pick {pick.choice}: {texts[pick.choice - 1]}") if valid \
            else f"invalid choice {pick.choice}; embedding fallback"
        self._trace("kg_walk:llm", {"node": self.name(path.node), "choices": texts}, pick.choice, decision,
                    raw.usage.prompt_tokens + raw.usage.completion_tokens, started)
        return (pick.choice - 1) if valid else None

    def _trace(self, tool: str, inp: Any, out: Any, decision: str | None, tokens: int, started: float) -> None:
        if self.tracer is not None:
            self.tracer.record(tool, inp, out, decision=decision, tokens=tokens, started=started)

    def expand(self, question: str, sub_question: str | None, path: WalkPath, use_llm: bool) -> list[WalkPath]:
        options = self.choices(path)
        if not options:
            path.stopped = True
            return [path]
        emb = embedding_scores(self.resources.embedder, [t for _, _, t in options], question, sub_question)
        order = emb.argsort()[::-1][: self.settings.choices]
        options, emb = [options[i] for i in order], emb[order]
        pick = self.ask_llm(question, path, [t for _, _, t in options]) if use_llm else None
        if pick == -1:
            path.stopped = True
            return [path]
        scores = combine(emb, pick, self.settings.hop_policy, self.settings.llm_weight)
        return [WalkPath(other, path.score + float(sc), path.relations + [rel], path.facts + [text])
                for (rel, other, text), sc in zip(options, scores, strict=True)]

    def walk(self, question: str, sub_question: str | None = None) -> list[WalkPath]:
        if self.resources.store is None or self.resources.entity_linker is None:
            return []
        beams = self.start(question)
        for hop in range(self.settings.max_hops):
            grown: list[WalkPath] = []
            for rank, path in enumerate(beams):
                grown += [path] if path.stopped else self.expand(question, sub_question, path, use_llm=rank == 0)
            beams = sorted(grown, key=lambda p: -p.score)[: self.settings.beams]
            self._trace("kg_walk:hop", {"hop": hop + 1}, [" ; ".join(p.facts) for p in beams],
                        f"kept {len(beams)} beam(s)", 0, time.perf_counter())
            if all(p.stopped for p in beams):
                break
        return beams
