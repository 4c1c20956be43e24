"""`kgsolver serve`: the HTTP API (`pipeline/serve/api.py`) under uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer


def serve(root: Path = typer.Option(Path(".kgsolver/kbs"), "--root", envvar="KGSOLVER_KB_ROOT",
                                    help="folder holding one knowledge base folder per name"),
          host: str = typer.Option("127.0.0.1", "--host", envvar="KGSOLVER_API_HOST", help="0.0.0.0 in a container"),
          port: int = typer.Option(8000, "--port", envvar="KGSOLVER_API_PORT", min=1, max=65535),
          preload: bool = typer.Option(False, "--preload",
                                       help="load the embedder and the LLM before serving")) -> None:
    """Serve the HTTP API (OpenAPI schema at /docs and /openapi.json) over the knowledge bases in --root."""
    import uvicorn

    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.serve.api import create_app

    config = KGSolverConfig()
    if config.api.key is None and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: KGSOLVER_API__KEY is not set: anyone who reaches {host}:{port} can use the API",
                   err=True)
    app = create_app(root, config)
    if preload:
        app.state.kbs.embedder, app.state.kbs.gateway  # noqa: B018  (properties that load on first use)
    uvicorn.run(app, host=host, port=port, log_level="info")
