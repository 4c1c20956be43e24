"""Answering modes, one strategy per module: each gathers evidence for a question (pipeline/answer/step.py does the
rest).
Multi-hop: pike, ksl, agent (their tools live in pipeline/multihop/)."""

from __future__ import annotations

from kgsolver.connectors import Registry, lazy
from kgsolver.pipeline.answer import AnswerMode

# A mode's module is imported when it is first built: naming the modes loads none of them.
MODES: Registry[AnswerMode] = Registry("mode", {
    "naive": lazy("kgsolver.pipeline.modes.naive", "NaiveMode"),
    "pike": lazy("kgsolver.pipeline.modes.pike", "PikeMode"),
    "ksl": lazy("kgsolver.pipeline.modes.ksl", "KSLMode"),
    "agent": lazy("kgsolver.pipeline.modes.agent", "AgentMode"),
})


def get_mode(name: str) -> AnswerMode:
    return MODES.get(name)
