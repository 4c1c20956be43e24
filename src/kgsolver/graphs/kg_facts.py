"""Facts from a knowledge base's graph about what a text mentions, as sentences with provenance.

`kg_facts(view, text, limit)` links the entities the text names (exact and alias matching of `graphs/linking.py`;
fuzzy matching is off by default: on MedQA vignettes against the 58k HPO names and synonyms it took 12-18 s a question
on the shared 2-core VM and its extra links were wrong, e.g. "Human immunodeficiency" -> "Humoral immunodeficiency"),
reads their 1-hop neighbourhoods from the knowledge base's graph store (relation filter and degree
cap of `GraphStore.neighbors`), ranks each fact by the link scores of its ends (a fact between two mentioned entities
ranks above one that leaves the text; ties go round-robin across the linked entities, so one hub does not fill the
list) and verbalizes each as one sentence that names its provenance. The view (graphs/view.py) loads the store and the
linker once per knowledge-base generation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgsolver.connectors.graph_stores import Relation, Subgraph
from kgsolver.graphs.verbalize import provenance

if TYPE_CHECKING:
    from kgsolver.graphs.linking import Link
    from kgsolver.graphs.view import GraphView


def fact_sentence(rel: Relation, sub: Subgraph) -> str:
    """'Marfan syndrome has phenotype Arachnodactyly (freq=1/2) [source: kg:hpo_kg_triples].'"""
    def name(eid: str) -> str:
        entity = sub.entities.get(eid)
        return entity.name if entity is not None and entity.name else eid

    attrs = f" ({rel.attrs})" if rel.attrs else ""
    predicate = rel.predicate.replace("_", " ")
    return f"{name(rel.subject)} {predicate} {name(rel.object)}{attrs} [source: {provenance(rel)}]."


def rank_facts(sub: Subgraph, links: list[Link]) -> list[Relation]:
    """Relations touching a linked entity, best first: the sum of the link scores of both ends, then the linked
    entity's own order (round-robin across entities), then predicate and names for determinism."""
    score = {link.entity_id: link.score for link in links}
    order = {link.entity_id: i for i, link in enumerate(links)}
    seen_per_seed: dict[str, int] = {}
    keyed = []
    for rel in sub.relations:
        ends = [e for e in (rel.subject, rel.object) if e in score]
        if not ends:
            continue
        seed = min(ends, key=lambda e: order[e])
        rank = seen_per_seed.get(seed, 0)
        seen_per_seed[seed] = rank + 1
        total = sum(score[e] for e in set(ends))
        keyed.append(((-round(total, 6), rank, order[seed], rel.predicate, rel.subject, rel.object), rel))
    return [rel for _, rel in sorted(keyed, key=lambda x: x[0])]


def kg_facts(view: GraphView, text: str, limit: int, *, predicates: list[str] | None = None,
             degree_cap: int = 50, max_links: int = 10, fuzzy: bool = False) -> list[str]:
    """At most `limit` one-sentence facts about the entities `text` mentions (empty if none link or no graph)."""
    if limit <= 0 or view.store is None or view.entity_linker is None:
        return []
    links = view.entity_linker.link(text, fuzzy=fuzzy, embedding=False, top=max_links)
    if not links:
        return []
    sub = view.store.neighbors([link.entity_id for link in links], hops=1, predicates=predicates, degree_cap=degree_cap)
    return [fact_sentence(rel, sub) for rel in rank_facts(sub, links)[:limit]]
