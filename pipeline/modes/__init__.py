"""Answering modes, one strategy per module behind the `AnswerMode` protocol. Multi-hop: pike, ksl, agent (pipeline/agent/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kgsolver.pipeline.results import AskResult
    from kgsolver.pipeline.solver import QuestionContext


class AnswerMode(Protocol):
    name: str

    def answer(self, question: str, ctx: "QuestionContext") -> "AskResult": ...


def get_mode(name: str) -> AnswerMode:
    from kgsolver.pipeline.modes.agent import AgentMode
    from kgsolver.pipeline.modes.ksl import KSLMode
    from kgsolver.pipeline.modes.naive import NaiveMode
    from kgsolver.pipeline.modes.pike import PikeMode

    modes: dict[str, AnswerMode] = {"naive": NaiveMode(), "pike": PikeMode(), "ksl": KSLMode(), "agent": AgentMode()}
    if name not in modes:
        raise ValueError(f"unknown mode {name!r}; available: {', '.join(sorted(modes))}")
    return modes[name]
