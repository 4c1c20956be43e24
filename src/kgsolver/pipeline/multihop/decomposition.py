"""Knowledge-aware task decomposition (PIKE-RAG). Each round: given the question and the knowledge accumulated so
far, the LLM proposes the next sub-question (or judges the question answerable); the tools retrieve candidates for it
(atomic questions, chunk indexes, KG); the LLM selects the useful ones (embedding similarity decides when no call is
left); the selected passages grow the rationale. Stops when answerable, after `max_rounds`, or at the budget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from kgsolver.pipeline.answer import Tracer, llm_step
from kgsolver.pipeline.multihop import EvidencePool, fused_search, spare_calls

if TYPE_CHECKING:
    from kgsolver.pipeline.answer import QuestionContext
    from kgsolver.pipeline.retrieval import Search

_Reply = TypeVar("_Reply", bound=BaseModel)


class Proposal(BaseModel):
    answerable: bool = False
    sub_question: str = Field("", max_length=300)


class Selection(BaseModel):
    useful: list[int] = Field(default_factory=list, max_length=6)


@dataclass
class Rationale:
    fact_chars: int  # of a passage, kept as a fact (agent.fact_chars)
    facts: list[str] = field(default_factory=list)
    selected: list[Document] = field(default_factory=list)
    sub_questions: list[str] = field(default_factory=list)

    def add(self, doc: Document) -> None:
        if all(d.metadata["cid"] != doc.metadata["cid"] for d in self.selected):
            self.selected.append(doc)
            text = " ".join(doc.page_content.split())[:self.fact_chars]
            self.facts.append(f"{doc.metadata.get('title', '')}: {text}")


def candidate_text(doc: Document) -> str:
    head = " ".join(doc.page_content.split())[:160]
    q = doc.metadata.get("atomic_question")
    return f"{doc.metadata.get('title', '')}: " + (f"answers '{q}' - {head}" if q else head)


class Decomposer:
    def __init__(self, ctx: QuestionContext, tracer: Tracer, tools: list[Search], pool: EvidencePool, *,
                 weight: float) -> None:
        """`weight`: of a passage the LLM selected for a sub-question (its search candidates count
        agent.candidate_weight)."""
        self.ctx, self.tracer, self.tools, self.pool, self.weight = ctx, tracer, tools, pool, weight

    def _ask(self, system: str, user: str, schema: type[_Reply], purpose: str, max_tokens: int) -> _Reply | None:
        started = time.perf_counter()
        reply = llm_step(lambda: self.ctx.session.chat_json([SystemMessage(system), HumanMessage(user)], schema,
                                                            purpose=purpose, max_tokens=max_tokens),
                         None, tracer=self.tracer, tool=f"llm:{purpose}", input=user[-300:], failure="no reply",
                         started=started)
        if reply is None:  # no sub-question or selection this round
            return None
        parsed, raw = reply
        self.tracer.record(f"llm:{purpose}", user[-300:], parsed.model_dump(), decision=purpose,
                           tokens=raw.usage.prompt_tokens + raw.usage.completion_tokens, started=started)
        return parsed

    def propose(self, question: str, rationale: Rationale) -> Proposal | None:
        from kgsolver.pipeline.multihop import decomposition_prompt as prompt  # loaded once a call is to spare

        return self._ask(prompt.PROPOSE_SYSTEM, prompt.propose_message(question, rationale.facts), Proposal,
                         "propose sub-question", 64)

    def candidates(self, sub_question: str, rationale: Rationale) -> list[Document]:
        k = self.ctx.config.agent.first_hop_k
        return fused_search(self.tools, sub_question, self.tracer, seeds=rationale.selected, k=k,
                            rrf_k=self.ctx.config.agent.rrf_k)[:self.ctx.config.agent.select_candidates]

    def select(self, question: str, sub_question: str, cands: list[Document]) -> list[Document]:
        if spare_calls(self.ctx) >= 1:
            from kgsolver.pipeline.multihop import decomposition_prompt as prompt  # (lazy: see propose)

            picked = self._ask(prompt.SELECT_SYSTEM, prompt.select_message(
                question, sub_question, [candidate_text(d) for d in cands]), Selection, "select knowledge", 24)
            if picked is not None:
                chosen = [cands[n - 1] for n in dict.fromkeys(picked.useful) if 1 <= n <= len(cands)]
                if chosen:
                    return chosen[:3]
        return cands[:2]  # no call left or nothing valid chosen: the two best-fused candidates

    def run(self, question: str, rationale: Rationale) -> Rationale:
        for _ in range(self.ctx.config.agent.max_rounds):
            if spare_calls(self.ctx) < 1:
                self.tracer.record("decompose", None, None, decision="stop: LLM budget kept for the answer")
                break
            proposal = self.propose(question, rationale)
            if proposal is None or proposal.answerable or not proposal.sub_question.strip():
                self.tracer.record("decompose", None, None, decision="stop: answerable" if proposal and
                                   proposal.answerable else "stop: no sub-question")
                break
            sub = proposal.sub_question.strip()
            if sub in rationale.sub_questions:
                self.tracer.record("decompose", sub, None, decision="stop: repeated sub-question")
                break
            rationale.sub_questions.append(sub)
            cands = self.candidates(sub, rationale)
            chosen = self.select(question, sub, cands)
            self.pool.add(cands, weight=self.ctx.config.agent.candidate_weight)
            self.pool.add(chosen, weight=self.weight)
            for doc in chosen:
                rationale.add(doc)
        return rationale
