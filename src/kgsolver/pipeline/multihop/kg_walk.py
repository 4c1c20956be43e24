"""KG walk as a search tool (`KGWalkTool`, a `Search`): the walk's paths, their relations' source passages as evidence
(provenance: the path). Apart from the other tools (tools.py): it loads the walker, prompts and hop policies, so it is
imported only when a walk runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.pipeline.multihop.kg_walker import KGWalker, WalkPath
from kgsolver.pipeline.retrieval import Search

if TYPE_CHECKING:
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.answer import QuestionAnalysis, Tracer
    from kgsolver.pipeline.config import AgentSettings
    from kgsolver.pipeline.multihop import AgentResources


class KGWalkTool(Search):
    """Walk the knowledge graph from the question's entities, hop by hop."""

    name = "kg_walk"

    def __init__(self, resources: AgentResources, settings: AgentSettings, *, session: LLMSession | None = None,
                 tracer: Tracer | None = None, question: str | None = None,
                 can_call: Callable[[], bool] | None = None, analysis: QuestionAnalysis | None = None) -> None:
        self.resources, self.question = resources, question
        self.walker = KGWalker(resources, settings, session=session, tracer=tracer, can_call=can_call,
                               analysis=analysis)
        self.paths: list[WalkPath] = []

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        """`query` is the current (sub-)question; the walk starts from the entities of the main question."""
        self.paths = self.walker.walk(self.question or query, sub_question=query)
        scored: dict[int, tuple[float, str]] = {}
        for path in self.paths:
            for depth, rel in enumerate(path.relations):
                for cid in rel.chunks:
                    s = path.score / (1 + depth)
                    if cid in self.resources.kb.chunks and s > scored.get(cid, (-1e9, ""))[0]:
                        scored[cid] = (s, " ; ".join(path.facts[: depth + 1]))
        best = sorted(scored.items(), key=lambda kv: -kv[1][0])[:k]
        return self.resources.documents([(cid, s) for cid, (s, _) in best], self.name,
                                        [{"path": why} for _, (_, why) in best])
