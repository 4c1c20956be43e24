"""`kgsolver atomize --kb DIR`: write the atomic questions each chunk answers (PIKE-RAG) into the KB's atomic index.

Resumable (a killed run continues from the progress log), incremental (only new or changed chunks), checkpointed
(the index is committed every --checkpoint chunks, so `pike` and `agent` use it while the job still runs)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def atomize(kb: Path = typer.Option(..., "--kb", help="knowledge base folder"),
            llm: str | None = typer.Option(None, "--llm", help="registry name, gguf:PATH, openai:MODEL, ..."),
            limit: int | None = typer.Option(None, "--limit", min=1, help="atomize at most this many chunks now"),
            questions: int | None = typer.Option(None, "--questions", min=1, max=10),
            checkpoint: int | None = typer.Option(None, "--checkpoint", min=1, help="chunks between commits"),
            workers: int | None = typer.Option(None, "--workers", min=1,
                                                  help="parallel calls (remote backends)")) -> None:
    """Atomize a knowledge base's chunks into the questions they answer (PIKE-RAG), as a resumable job."""
    from kgsolver.connectors.embedders import load_embedder
    from kgsolver.pipeline.config import KGSolverConfig, build_gateway
    from kgsolver.pipeline.kb.atomize_job import atomize_kb

    config = KGSolverConfig()
    if llm:
        config.llm.name = llm
    embedder = load_embedder(config.embedder.model_path, device=config.embedder.device)
    report = atomize_kb(kb, build_gateway(config), embedder, config, questions=questions,
                        checkpoint_every=checkpoint, workers=workers, limit=limit)
    console.print(f"[green]atomized[/green] {report.chunks_atomized} chunk(s) ({report.chunks_failed} failed) in "
                  f"{report.seconds:.1f}s; {report.chunks_done_before + report.chunks_atomized}/{report.chunks_total} "
                  f"done; the index holds {report.questions_indexed} questions after {report.checkpoints} commit(s)")
