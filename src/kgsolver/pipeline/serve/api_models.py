"""Request and response bodies of the HTTP API (`pipeline/serve/api.py`). Limits here are the API's size limits."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.config import KGSolverConfig

# One folder per knowledge base under the root: lower-case letters, digits, `-` and `_`, starting with a letter or
# digit. No dots and no slashes, so a name can never leave the root or name a hidden folder.
KB_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KB_NAME_RE = re.compile(KB_NAME_PATTERN)

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_QUESTION_CHARS = KGSolverConfig().limits.question_chars  # one definition with `kgsolver ask`, env included
MAX_DOCUMENTS_PER_REQUEST = 1_000
MAX_DOCUMENT_CHARS = 200_000
MAX_DOCUMENTS_LISTED = 10_000  # one page of GET /kb/{name}/documents


class BudgetRequest(BaseModel):
    """Per-question limits; each is capped so one request cannot hold the LLM for long."""

    model_config = ConfigDict(extra="forbid")

    max_llm_calls: int | None = Field(None, ge=0, le=20)
    max_tokens: int | None = Field(None, ge=0, le=100_000)
    max_seconds: float | None = Field(None, gt=0, le=600)

    def merged_with(self, default: Budget) -> Budget:
        """The server default, with the fields this request sets replaced."""
        return default.model_copy(update=self.model_dump(exclude_unset=True))


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: str = Field(..., pattern=KB_NAME_PATTERN, description="knowledge base name (a folder under the API's root)")
    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS)
    mode: str = Field("naive", max_length=64, description="an answering mode registered in kgsolver.pipeline.modes")
    top_k: int | None = Field(None, ge=1, le=50)
    budget: BudgetRequest | None = None
    policy: str | None = Field(None, max_length=64, description="preference policy (when the solver supports it)")
    assumptions: list[Annotated[str, StringConstraints(min_length=1, max_length=1_000)]] | None = Field(
        None, max_length=20, description="user-stated facts that outrank retrieved text (when the solver supports it)")

class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., min_length=1, max_length=256)
    title: str = Field("", max_length=1_000)
    text: str = Field(..., min_length=1, max_length=MAX_DOCUMENT_CHARS)
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(..., min_length=1, max_length=MAX_DOCUMENTS_PER_REQUEST)


class IngestResponse(BaseModel):
    kb: str
    documents_read: int
    documents_added: int
    documents_replaced: int
    documents_unchanged: int
    chunks_added: int
    chunks_removed: int
    skipped: list[str]
    seconds: float
    documents_total: int


class DocumentOut(BaseModel):
    id: str
    title: str
    chunks: int


class DocumentList(BaseModel):
    kb: str
    total: int  # documents stored; `documents` is the page from `offset`
    offset: int
    documents: list[DocumentOut]


class DeleteResponse(BaseModel):
    kb: str
    deleted: list[str]
    chunks_removed: int
    atomic_questions_removed: int
    relations_removed: int
    generation: int  # the knowledge base generation the delete committed
    seconds: float
    documents_total: int


class KBInfo(BaseModel):
    name: str
    documents: int
    chunks: int
    components: list[str]
    damaged: bool = False  # the manifest could not be read: counts unknown


class Health(BaseModel):
    status: str
    llm: str
    graph_store: str | None
    knowledge_bases: int  # the KB root's own path is not shown: no server paths leave the API
    modes: list[str]
    embedder_loaded: bool
    features: dict[str, bool]
    auth: bool = False  # whether the other endpoints want the API key
