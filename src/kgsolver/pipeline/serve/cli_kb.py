"""`kgsolver kb list|delete --kb DIR`: look after one knowledge base's documents (pipeline/kb/admin.py does the work,
for the API's document routes too)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

kb_app = typer.Typer(help="Look after a knowledge base: list and delete documents, compact, upgrade.",
                     no_args_is_help=True)
out, console = Console(), Console(stderr=True)
KB = typer.Option(..., "--kb", help="knowledge base folder")


@kb_app.command("list")
def list_documents(kb: Path = KB, as_json: bool = typer.Option(False, "--json", help="print one JSON array")) -> None:
    """Every stored document: id, title and number of chunks, sorted by id."""
    from kgsolver.pipeline.kb.admin import list_documents as stored_documents

    documents = stored_documents(kb)
    if as_json:
        # print, not rich's print_json: an id or title with [brackets] must come out as it is stored
        typer.echo(json.dumps([asdict(d) for d in documents], ensure_ascii=False, indent=2))
        return
    table = Table("id", "title", "chunks", title=f"{len(documents)} documents in {escape(str(kb))}")
    for d in documents:
        table.add_row(escape(d.doc_id), escape(d.title), str(d.chunks))
    out.print(table)


@kb_app.command("delete")
def delete_documents(doc_ids: list[str] = typer.Argument(..., metavar="DOC_ID...", help="ids as `kb list` shows"),
                     kb: Path = KB) -> None:
    """Delete documents: their chunks, vectors, keyword entries, sentences, atomic questions and graph provenance,
    in one commit. An unknown id is an error and nothing is deleted."""
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.admin import delete_documents as delete

    report = delete(kb, doc_ids, KGSolverConfig())
    console.print(f"[green]deleted[/green] {len(report.documents)} document(s) from {escape(str(kb))}: "
                  f"{report.chunks_removed} chunks, {report.atomic_questions_removed} atomic questions, "
                  f"{report.relations_removed} relations; generation {report.generation}, {report.seconds:.1f}s",
                  soft_wrap=True)


@kb_app.command("compact")
def compact_segments(kb: Path = KB) -> None:
    """Merge every segment into one: deleted and replaced rows leave the disk, the vector index is built again with
    the configured kind, and chunk ids stay as they are. Readers keep their generation until they close it."""
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.compact import compact_kb

    report = compact_kb(kb, KGSolverConfig())
    console.print(f"[green]compacted[/green] {escape(str(kb))}: {report.segments_before} segment(s) -> "
                  f"{report.segments_after}, {report.rows_dropped} deleted rows dropped, {report.chunks} chunks; "
                  f"generation {report.generation}, {report.seconds:.1f}s", soft_wrap=True)


@kb_app.command("upgrade")
def upgrade_format(kb: Path = KB) -> None:
    """Convert a format-1 knowledge base (written before segments) in place, atomically: nothing is re-embedded."""
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.upgrade import upgrade

    manifest = upgrade(kb, KGSolverConfig())  # the new segment is indexed as configured (KGSOLVER_VECTOR_INDEX__*)
    console.print(f"[green]upgraded[/green] {escape(str(kb))} to format {manifest['format_version']}: "
                  f"{manifest['counts']['chunks']} chunks in {len(manifest['segments'])} segment(s), "
                  f"generation {manifest['generation']}", soft_wrap=True)
