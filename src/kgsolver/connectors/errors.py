"""Errors raised at the boundary with the outside world, each naming what the user must fix."""

from __future__ import annotations

import json
import os


def malformed_json(path: str | os.PathLike[str], lineno: int, exc: json.JSONDecodeError) -> str:
    """The message for a JSON-lines file whose line `lineno` does not parse (`exc`, a json.JSONDecodeError):
    "data.jsonl:3: malformed JSON at column 40 (Invalid control character)"."""
    # The column from the offset: json counts the line's own trailing newline as the start of a second line, so its
    # colno says "column 1" for a record cut short. Its messages end in " at" when they mean the position.
    return f"{path}:{lineno}: malformed JSON at column {exc.pos + 1} ({exc.msg.removesuffix(' at')})"


class KGSolverError(Exception):
    """Base class: every error a user can act on."""


class CorpusFormatError(KGSolverError):
    """A corpus file is malformed; the message names the file and line."""


class MissingModelError(KGSolverError):
    """A model package is not installed; the message gives the pip command that installs it."""


class ModelIntegrityError(KGSolverError):
    """An assembled or packaged model file does not have the size or sha256 it must have."""


class LLMStepFailed(KGSolverError):
    """One LLM step gave no usable reply (the budget ran out, or the reply did not parse); its caller falls back
    (pipeline/answer/results.py::llm_step records the failure on the trace)."""


class BudgetExceeded(LLMStepFailed):
    """A per-question budget (LLM calls, tokens, seconds) would be exceeded."""


class StructuredOutputError(LLMStepFailed):
    """The LLM did not return JSON matching the requested schema, even after one retry."""


class KnowledgeBaseError(KGSolverError):
    """A knowledge base directory is missing, incompatible or damaged."""
