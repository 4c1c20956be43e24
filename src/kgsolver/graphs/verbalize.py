"""Turn a subgraph or path into text an LLM can read, each fact with its provenance (chunk ids or source KG)."""

from __future__ import annotations

from kgsolver.connectors.graph_stores import Relation, Subgraph


def provenance(rel: Relation) -> str:
    if rel.chunks:
        return "chunks " + ", ".join(str(c) for c in rel.chunks[:5]) + (" ..." if len(rel.chunks) > 5 else "")
    return rel.source


def verbalize(sub: Subgraph, *, max_facts: int = 50, with_descriptions: bool = False) -> str:
    def name(eid: str) -> str:
        entity = sub.entities.get(eid)
        return entity.name if entity and entity.name else eid

    rels = sorted(sub.relations, key=lambda r: -r.confidence)[:max_facts]
    lines = [f"- {name(r.subject)} --{r.predicate.replace('_', ' ')}--> {name(r.object)} [{provenance(r)}]"
             for r in rels]
    if with_descriptions:
        lines += [f"- {e.name}: {e.description} [{e.source}]" for e in sub.entities.values() if e.description]
    return "\n".join(lines)


def verbalize_path(path: Subgraph, start: str | None = None) -> str:
    """One line: A --p--> B <--q-- C, then provenance per hop; it reads from `start` when given."""
    if not path.relations:
        return ""
    names = {eid: (e.name or eid) for eid, e in path.entities.items()}
    first = path.relations[0]
    ends = {first.subject, first.object}
    if start not in ends:
        shared = ends & ({path.relations[1].subject, path.relations[1].object} if len(path.relations) > 1 else set())
        start = first.subject if len(path.relations) == 1 else sorted((ends - shared) or {first.subject})[0]
    current = start
    parts, sources = [names.get(current, current)], []
    for rel in path.relations:
        forward = rel.subject == current
        current = rel.object if forward else rel.subject
        arrow = f" --{rel.predicate}--> " if forward else f" <--{rel.predicate}-- "
        parts.append(arrow + names.get(current, current))
        sources.append(provenance(rel))
    return "".join(parts) + "  [" + "; ".join(sources) + "]"
