"""The Tool protocol of the multi-hop modes: a query (and optionally seed passages) in, ranked Documents with
provenance out. Every tool is LLM-free except the KG walk, which asks through the question's LLMSession."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from langchain_core.documents import Document


@runtime_checkable
class Tool(Protocol):
    name: str  # names the tool in the trace and in each Document's `retriever`

    def run(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        """Ranked passages; each Document's metadata names the tool (`retriever`) and why it was found."""
