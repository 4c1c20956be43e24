"""Errors raised at the boundary with the outside world, each naming what the user must fix."""


class KGSolverError(Exception):
    """Base class: every error a user can act on."""


class CorpusFormatError(KGSolverError):
    """A corpus file is malformed; the message names the file and line."""


class MissingModelError(KGSolverError):
    """A model package is not installed; the message gives the pip command that installs it."""


class ModelIntegrityError(KGSolverError):
    """An assembled or packaged model file does not have the size or sha256 it must have."""


class BudgetExceeded(KGSolverError):
    """A per-question budget (LLM calls, tokens, seconds) would be exceeded."""


class StructuredOutputError(KGSolverError):
    """The LLM did not return JSON matching the requested schema, even after one retry."""


class KnowledgeBaseError(KGSolverError):
    """A knowledge base directory is missing, incompatible or damaged."""
