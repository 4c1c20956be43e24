"""Neighbourhood lookup: from seed passages to the passages they point at, without an LLM.

Two kinds of links: a document title mentioned in a seed's text (Wikipedia-style titles act as hyperlinks: the
bridge entity of a 2-hop question is usually named in the first-hop passage), and KG entities the seed mentions that
few other passages mention (specific entities, not hubs). Candidates are ranked by the embedding similarity of the
query to the candidate, weighted by the seed's rank and the link kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.pipeline.retrieval import Search

if TYPE_CHECKING:
    from kgsolver.pipeline.multihop.resources import AgentResources


class NeighbourhoodTool(Search):
    """Passages linked from seed passages (titles they mention, entities they share)."""

    name = "neighbourhood"

    def __init__(self, resources: AgentResources) -> None:
        self.resources = resources

    def _title_links(self, doc: Document) -> dict[int, str]:
        out = {}
        own = doc.metadata.get("doc_id")
        for link in self.resources.title_linker.link(doc.page_content, fuzzy=False, embedding=False, top=30):
            cid = self.resources.first_chunk(link.entity_id)
            if link.entity_id != own and cid is not None:
                out[cid] = f"title '{link.name}'"
        return out

    def _entity_links(self, doc: Document) -> dict[int, str]:
        store = self.resources.store
        out: dict[int, str] = {}
        if store is None or "cid" not in doc.metadata:
            return out
        for eid in store.entities_in_chunks([doc.metadata["cid"]]).get(doc.metadata["cid"], []):
            chunks = store.chunks_of(eid)
            if 1 < len(chunks) <= self.resources.agent_settings.entity_max_chunks:
                entity = store.get_entity(eid)
                for cid in chunks:
                    if cid != doc.metadata["cid"]:
                        out.setdefault(cid, f"entity '{entity.name if entity else eid}'")
        return out

    def candidates(self, seeds: Sequence[Document]) -> dict[int, tuple[float, str]]:
        """cid -> (link weight, why); title links outrank shared entities, earlier seeds outrank later ones."""
        found: dict[int, tuple[float, str]] = {}
        seed_ids, a = {d.metadata.get("cid") for d in seeds}, self.resources.agent_settings
        for rank, seed in enumerate(seeds):
            via = seed.metadata.get("title", "")
            for kind, weight in ((self._title_links(seed), a.title_link_score),
                                 (self._entity_links(seed), a.entity_link_score)):
                for cid, why in kind.items():
                    w = weight / (1 + 0.5 * rank)
                    if cid not in seed_ids and w > found.get(cid, (0.0, ""))[0]:
                        found[cid] = (w, f"{why} in '{via}'")
        return found

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        found = self.candidates(seeds)
        cids = list(found)
        sims = self.resources.chunk_similarity(query, cids)
        scored = sorted(((found[c][0] * (0.5 + float(s)), c) for c, s in zip(cids, sims, strict=True)),
                        reverse=True)[:k]
        return self.resources.documents([(cid, score) for score, cid in scored], self.name,
                                        [{"via": found[cid][1]} for _, cid in scored])
