"""Answering modes, one strategy per module: each gathers evidence for a question (pipeline/answer/step.py does the
rest).
Multi-hop: pike, ksl, agent (their tools live in pipeline/multihop/)."""

from __future__ import annotations

from kgsolver.connectors.registry import Registry
from kgsolver.pipeline.answer.context import AnswerMode


def _naive() -> AnswerMode:
    from kgsolver.pipeline.modes.naive import NaiveMode

    return NaiveMode()


def _pike() -> AnswerMode:
    from kgsolver.pipeline.modes.pike import PikeMode

    return PikeMode()


def _ksl() -> AnswerMode:
    from kgsolver.pipeline.modes.ksl import KSLMode

    return KSLMode()


def _agent() -> AnswerMode:
    from kgsolver.pipeline.modes.agent import AgentMode

    return AgentMode()


MODES: Registry[AnswerMode] = Registry("mode", {"naive": _naive, "pike": _pike, "ksl": _ksl, "agent": _agent})


def get_mode(name: str) -> AnswerMode:
    return MODES.get(name)
