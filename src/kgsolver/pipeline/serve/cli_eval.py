"""`kgsolver eval SUITE ...` (one subcommand per suite) and `kgsolver eval compare RUN_DIR...`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from kgsolver.evals.suites import SUITES
from kgsolver.pipeline.serve.cli import ADDRESS_OPTION, ENGINE_OPTION, use_engine

if TYPE_CHECKING:
    from collections.abc import Callable

eval_app = typer.Typer(help="Batch evaluation on the shared benchmarks: resumable runs, reports and plots.",
                       no_args_is_help=True)
console = Console(stderr=True)


def _make_command(suite: str) -> Callable[..., None]:
    def command(
        kb: Path | None = typer.Option(
            None, "--kb", help="the suite's own knowledge base folder, built from its corpus if missing (default: one "
            "per suite under the cache folder); a knowledge base the suite did not build is refused, never added to"),
        out: Path = typer.Option(..., "--out", help="run folder: config.json, predictions.jsonl, metrics, report"),
        mode: str = typer.Option("naive", "--mode", help="answering mode passed to Solver.ask"),
        llm: str | None = typer.Option(None, "--llm", help="registry name, gguf:PATH, openai:MODEL, ..."),
        limit: int | None = typer.Option(None, "--limit", min=1, help="first N questions of the set"),
        start: int = typer.Option(0, "--start", min=0, help="skip the first N questions (report a held-out part "
                                  "apart from the part settings were chosen on)"),
        workers: int = typer.Option(1, "--workers", min=1, help="threads (the llama.cpp model is serialised)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="datasets folder (default: shared/datasets)"),
        condition: list[str] | None = typer.Option(None, "--condition", help="only these conditions (repeatable)"),
        engine: str | None = ENGINE_OPTION, address: str | None = ADDRESS_OPTION,
    ) -> None:
        from kgsolver.evals.runner import RunSpec, run_eval
        from kgsolver.pipeline.config import KGSolverConfig

        config = KGSolverConfig()
        use_engine(engine, address, config)  # config.ray says where the questions (and the suite's KB) are run
        spec = RunSpec(suite=suite, kb=kb, out=out, mode=mode, llm=llm, limit=limit, start=start, workers=workers,
                       data_dir=data_dir, conditions=condition or None, command=["kgsolver", *sys.argv[1:]])
        run_dir = run_eval(spec, config)
        console.print((run_dir / "report.md").read_text(encoding="utf-8"), markup=False)
        console.print(f"[green]run folder[/green] {run_dir}")

    command.__doc__ = f"Evaluate the {suite} suite (re-running the same --out resumes it)."
    return command


for _name in SUITES.names():
    eval_app.command(_name)(_make_command(_name))


@eval_app.command("compare")
def compare_runs(runs: list[Path] = typer.Argument(..., help="run folders"),
                 plot: Path | None = typer.Option(None, "--plot", help="also write a PNG of the headline scores")
                 ) -> None:
    """A side-by-side table of finished runs."""
    from kgsolver.evals.compare import compare

    print(compare(runs, plot), end="")
