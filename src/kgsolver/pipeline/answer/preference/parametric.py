"""The closed-book (parametric) answer: what the model says with no passages. One short JSON-constrained call."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.pipeline.answer.answer_form import (
    AnswerForm,
    AnswerFormSettings,
    detect_form,
    echoes,
    is_unknown,
    shape_answer,
)

PARAMETRIC_PROMPT = (
    "Answer the question from your own knowledge. Reply in JSON. \"answer\": the shortest exact answer (a name, "
    "number, date, yes or no). \"confidence\": 0 to 100, how sure you are. If you do not know, reply "
    "{\"answer\": \"unknown\", \"confidence\": 0}."
)


class ParametricReply(BaseModel):
    answer: str = Field(max_length=200)
    confidence: int = Field(0, ge=0, le=100)


@dataclass
class ParametricAnswer:
    answer: str | None  # None when the model does not know
    confidence: int
    tokens: int


def parametric_messages(question: str) -> list[BaseMessage]:
    return [SystemMessage(PARAMETRIC_PROMPT), HumanMessage(f"Question: {question}")]


def closed_book_answer(session: LLMSession, question: str, *, max_tokens: int = 48,
                       form: AnswerFormSettings | None = None, asked: AnswerForm | None = None) -> ParametricAnswer:
    """`asked`: the question's form where the caller parsed it already (QuestionAnalysis.form)."""
    reply, raw = session.chat_json(parametric_messages(question), ParametricReply, purpose="parametric answer",
                                   max_tokens=max_tokens)
    answer = reply.answer.strip().strip(".")
    asked = asked or detect_form(question)
    if form is not None and form.enabled:  # the form the question asks for, as the grounded answer gets it
        answer = shape_answer(answer, asked)
    tokens = raw.usage.prompt_tokens + raw.usage.completion_tokens
    # An answer that only repeats the question is none, here as in the grounded answer (no second try: a fallback)
    echo = form is not None and form.retry_echo and echoes(answer, question, asked)
    return ParametricAnswer(None if is_unknown(answer) or echo else answer, reply.confidence, tokens)
