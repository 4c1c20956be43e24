"""`kgsolver graph stats|neighbors|path|link|import --kb DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from kgsolver.connectors import KnowledgeBaseError

if TYPE_CHECKING:
    from kgsolver.connectors.graph_stores import GraphStore

graph_app = typer.Typer(help="The knowledge graph of a knowledge base.", no_args_is_help=True)
out, console = Console(), Console(stderr=True)
KB = typer.Option(..., "--kb", help="knowledge base folder")


def _open(kb_dir: Path) -> GraphStore:
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.graph_read import has_graph, open_kb_graph
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    config = KGSolverConfig()
    kb = KnowledgeBase.open(kb_dir)
    if not has_graph(kb, config.graph):
        raise KnowledgeBaseError(f"{kb_dir} has no graph; ingest with graph.extractor spacy/llm or `graph import`")
    return open_kb_graph(kb, config.graph)


def _resolve(store: GraphStore, name: str) -> str:
    from kgsolver.graphs.linking import EntityLinker

    if store.get_entity(name) is not None:
        return name
    links = EntityLinker(store.iter_entities()).link(name, embedding=False, top=1)
    if not links:
        raise KnowledgeBaseError(f"no entity named or linked from {name!r}")
    return links[0].entity_id


@graph_app.command()
def stats(kb: Path = KB) -> None:
    """Entities, relations, mentions and the commonest predicates."""
    out.print_json(data=_open(kb).stats())


@graph_app.command()
def neighbors(entity: str, kb: Path = KB, hops: int = typer.Option(1, "--hops", min=1, max=4),
              predicate: list[str] | None = typer.Option(None, "--predicate"),
              degree_cap: int = typer.Option(50, "--degree-cap", min=1)) -> None:
    """The k-hop neighbourhood of an entity (id or name), verbalized with provenance."""
    from kgsolver.graphs.verbalize import verbalize

    store = _open(kb)
    sub = store.neighbors([_resolve(store, entity)], hops=hops, predicates=predicate or None, degree_cap=degree_cap)
    out.print(verbalize(sub, max_facts=100), markup=False, highlight=False)


@graph_app.command()
def path(source: str, target: str, kb: Path = KB, max_hops: int = typer.Option(4, "--max-hops", min=1, max=10)) -> None:
    """The shortest path between two entities (ids or names)."""
    from kgsolver.graphs.verbalize import verbalize_path

    store = _open(kb)
    start = _resolve(store, source)
    found = store.shortest_path(start, _resolve(store, target), max_hops=max_hops)
    out.print(verbalize_path(found, start) if found else f"no path within {max_hops} hops",
              markup=False, highlight=False)


@graph_app.command()
def link(text: str, kb: Path = KB) -> None:
    """The KG entities a question mentions, with method and score."""
    from kgsolver.graphs.linking import EntityLinker

    for found in EntityLinker(_open(kb).iter_entities()).link(text, embedding=False):
        out.print(f"{found.score:.3f}  {found.method:9}  {found.entity_id}  {found.name!r}  <- {found.span!r}",
                  markup=False)


@graph_app.command("import")
def import_(triples: Path, kb: Path = KB, terms: Path | None = typer.Option(None, "--terms"),
            limit: int | None = typer.Option(None, "--limit", min=1)) -> None:
    """Add an external KG (TSV/CSV triples; optional jsonl terms for definitions and synonyms) to a knowledge base."""
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.graph_build import import_into_kb

    counts = import_into_kb(kb, triples, terms, KGSolverConfig(), limit=limit)
    console.print(f"[green]imported[/green] {counts['triples']} triples, {counts['entities']} entities "
                  f"({counts['terms']} with terms) from {triples} into {kb}")
