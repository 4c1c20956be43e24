"""The HTTP API: `kgsolver serve` runs `create_app(root)` under uvicorn.

    POST /ask                  the same JSON as `kgsolver ask --json`
    POST /ask/stream           server-sent events: `started`, one `trace` per step, then `answer` (or `error`)
    POST /kb/{name}/documents  incremental ingest into one knowledge base (created if missing)
    GET  /kb                   the knowledge bases under the root
    GET  /health               liveness, the configured LLM and graph store, the registered modes

Knowledge bases are isolated by name: `root/<name>/` is one knowledge base, names match `KB_NAME_PATTERN`, and a
question names exactly one of them. One embedder and one LLM gateway are shared by every knowledge base.
"""

from __future__ import annotations

import inspect
import json
import threading
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
from fastapi import FastAPI, HTTPException, Path as PathParam, Request
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from kgsolver.connectors.errors import KGSolverError, KnowledgeBaseError, MissingModelError
from kgsolver.pipeline.api_models import (
    KB_NAME_PATTERN, KB_NAME_RE, MAX_BODY_BYTES, AskRequest, DocumentsRequest, Health, IngestResponse, KBInfo,
)
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.knowledge_base import KnowledgeBase
from kgsolver.pipeline.results import AskResult
from kgsolver.pipeline.config import build_gateway
from kgsolver.pipeline.solver import Solver

# Keyword arguments of Solver.ask that the API passes through only when this kgsolver's Solver accepts them.
OPTIONAL_FEATURES = ("assumptions", "policy")
SOLVER_FEATURES = {name: name in inspect.signature(Solver.ask).parameters for name in OPTIONAL_FEATURES}


def registered_modes() -> list[str]:
    from kgsolver.pipeline.modes import MODES

    return MODES.names()


class KnowledgeBases:
    """The folder of named knowledge bases, with the shared embedder, LLM gateway and per-KB solvers."""

    def __init__(self, root: Path, config: KGSolverConfig, *, embedder=None, gateway=None):
        self.root, self.config = Path(root), config
        self.root.mkdir(parents=True, exist_ok=True)
        self._embedder, self._gateway = embedder, gateway
        self._solvers: dict[str, tuple[int, Solver]] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        if not KB_NAME_RE.fullmatch(name):
            raise HTTPException(422, f"invalid knowledge base name {name!r}: must match {KB_NAME_PATTERN}")
        path = (self.root / name).resolve()
        if path.parent != self.root.resolve():  # belt and braces: the pattern already rules this out
            raise HTTPException(422, f"invalid knowledge base name {name!r}")
        return path

    def existing(self, name: str) -> Path:
        path = self.path(name)
        if not KnowledgeBase.exists(path):
            raise HTTPException(404, f"no knowledge base named {name!r}; add documents with POST /kb/{name}/documents")
        return path

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from kgsolver.connectors.embedders import load_embedder

                self._embedder = load_embedder(self.config.embedder.model_path, device=self.config.embedder.device)
            return self._embedder

    @property
    def gateway(self):
        with self._lock:
            if self._gateway is None:
                self._gateway = build_gateway(self.config)
            return self._gateway

    def solver(self, name: str, top_k: int | None = None) -> Solver:
        """A solver over the current generation of one knowledge base (reopened after each ingest)."""
        path = self.existing(name)
        embedder, gateway = self.embedder, self.gateway
        if top_k and top_k != self.config.retrieval.top_k:
            config = self.config.model_copy(deep=True)
            config.retrieval.top_k = top_k
            return Solver(path, config, embedder=embedder, gateway=gateway)
        stamp = (path / "manifest.json").stat().st_mtime_ns
        with self._lock:
            cached = self._solvers.get(name)
            if cached is None or cached[0] != stamp:
                cached = (stamp, Solver(path, self.config, embedder=embedder, gateway=gateway))
                self._solvers[name] = cached
        return cached[1]

    def ingest(self, name: str, request: DocumentsRequest) -> IngestResponse:
        from kgsolver.connectors.corpus_readers import SourceDocument
        from kgsolver.pipeline.ingest import ingest_documents

        path = self.path(name)
        # The plain document format, built here: metadata is kept as metadata and never sets the id or the format.
        documents = [SourceDocument(doc.id, doc.title, doc.text, dict(doc.metadata), where=f"documents[{n}]")
                     for n, doc in enumerate(request.documents)]
        report = ingest_documents(documents, path, self.config, embedder=self.embedder, show_progress=False)
        total = KnowledgeBase.open(path).manifest["counts"]["documents"]
        fields = {k: getattr(report, k) for k in IngestResponse.model_fields if hasattr(report, k)}
        return IngestResponse(kb=name, documents_total=total, **fields)

    def list(self) -> list[KBInfo]:
        infos = []
        for path in sorted(p for p in self.root.iterdir() if p.is_dir() and KB_NAME_RE.fullmatch(p.name)):
            if not KnowledgeBase.exists(path):
                continue
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            counts = manifest.get("counts", {})
            infos.append(KBInfo(name=path.name, documents=counts.get("documents", 0), chunks=counts.get("chunks", 0),
                                components=sorted(manifest.get("files", {}))))
        return infos


def _feature_kwargs(request: AskRequest) -> dict[str, Any]:
    """`assumptions=` / `policy=` for Solver.ask, or a 400 when they are set but the solver does not support them."""
    kwargs = {}
    for name in OPTIONAL_FEATURES:
        value = getattr(request, name)
        if value in (None, "", [], {}):
            continue
        if not SOLVER_FEATURES[name]:
            raise HTTPException(400, f"`{name}` is not available yet: this kgsolver's Solver.ask does not accept "
                                     f"{name}=; leave the field out or empty")
        kwargs[name] = value
    return kwargs


def _prepare(kbs: KnowledgeBases, request: AskRequest):
    """Everything that can be refused with a 4xx is checked before any work starts (and before a stream opens)."""
    modes = registered_modes()
    if request.mode not in modes:
        raise HTTPException(400, f"unknown mode {request.mode!r}; available: {', '.join(modes)}")
    kwargs = _feature_kwargs(request)
    solver = kbs.solver(request.kb, request.top_k)
    budget = request.budget.merged_with(kbs.config.budget) if request.budget else None

    def run() -> AskResult:
        return solver.ask(request.question, mode=request.mode, budget=budget, **kwargs)

    return run


class BodySizeLimit:
    """Refuse request bodies over `limit` bytes with 413, whether or not the client sent Content-Length."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen, refused = 0, False

        async def limited_receive():
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not refused:
                refused = True
                await self._refuse(send)
            return {"type": "http.disconnect"} if refused else message

        async def guarded_send(message):
            if not refused:  # once refused, whatever the app answers to the disconnect is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send):
        body = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MissingModelError)
    async def _missing_model(_: Request, exc: MissingModelError):
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(KGSolverError)
    async def _kgsolver_error(_: Request, exc: KGSolverError):
        status = 409 if isinstance(exc, KnowledgeBaseError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(ValueError)
    async def _value_error(_: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc)}, status_code=400)


def create_app(root: str | Path, config: KGSolverConfig | None = None, *, embedder=None, gateway=None) -> FastAPI:
    """The API over the knowledge bases in `root`; pass `embedder`/`gateway` to share already loaded models."""
    config = config or KGSolverConfig()
    kbs = KnowledgeBases(Path(root), config, embedder=embedder, gateway=gateway)
    app = FastAPI(title="kgsolver", version="0.1.0", description=__doc__)
    app.state.kbs = kbs
    app.add_middleware(BodySizeLimit)
    _install_error_handlers(app)
    name_param = PathParam(..., pattern=KB_NAME_PATTERN, description="knowledge base name")

    @app.get("/health", response_model=Health)
    def health() -> Health:
        graph = getattr(config, "graph", None)
        return Health(status="ok", llm=config.llm.name, graph_store=getattr(graph, "store", None),
                      kb_root=str(kbs.root), knowledge_bases=len(kbs.list()), modes=registered_modes(),
                      embedder_loaded=kbs._embedder is not None, features=SOLVER_FEATURES)

    @app.get("/kb", response_model=list[KBInfo])
    def list_kbs() -> list[KBInfo]:
        return kbs.list()

    @app.post("/kb/{name}/documents", response_model=IngestResponse)
    def add_documents(request: DocumentsRequest, name: str = name_param) -> IngestResponse:
        return kbs.ingest(name, request)

    @app.post("/ask", response_model=AskResult)
    def ask(request: AskRequest) -> AskResult:
        return _prepare(kbs, request)()

    @app.post("/ask/stream", response_class=EventSourceResponse)
    async def ask_stream(request: AskRequest) -> EventSourceResponse:
        run = await anyio.to_thread.run_sync(_prepare, kbs, request)
        return EventSourceResponse(_events(request, run), ping=15)

    return app


async def _events(request: AskRequest, run) -> AsyncIterator[dict]:
    yield {"event": "started", "data": json.dumps({"kb": request.kb, "mode": request.mode,
                                                   "question": request.question})}
    try:
        result = await anyio.to_thread.run_sync(run)
    except (KGSolverError, ValueError) as exc:
        yield {"event": "error", "data": json.dumps({"detail": str(exc)})}
        return
    for step in result.trace:
        yield {"event": "trace", "data": step.model_dump_json()}
    yield {"event": "answer", "data": result.model_dump_json()}
