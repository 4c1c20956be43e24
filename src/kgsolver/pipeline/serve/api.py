"""The HTTP API: `kgsolver serve` runs `create_app(root)` under uvicorn.

    POST /ask                  the same JSON as `kgsolver ask --json`
    POST /ask/stream           server-sent events as they happen: `started`, a `trace` per step when it ends, a
                               `token` per piece of each LLM reply as it is generated, then `answer` (or `error`)
    POST /kb/{name}/documents  incremental ingest into one knowledge base (created if missing)
    GET  /kb/{name}/documents  its documents (id, title, chunks), a page at a time (`offset`, `limit`)
    DELETE /kb/{name}/documents/{id}  delete one document, its chunks and graph provenance (pipeline/kb/admin.py)
    GET  /kb                   the knowledge bases under the root
    GET  /health               liveness, the configured LLM and graph store, the registered modes

With KGSOLVER_API__KEY set, every path but /health wants `Authorization: Bearer KEY` or `X-API-Key: KEY`
(`pipeline/serve/api_guard.py`: the key, the body size limit, error bodies without request values or server paths).

Knowledge bases are isolated by name: `root/<name>/` is one knowledge base, names match `KB_NAME_PATTERN`, and a
question names exactly one of them. One embedder and one LLM gateway are shared by every knowledge base.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader, HTTPBearer
from sse_starlette.sse import EventSourceResponse

from kgsolver.connectors import KGSolverError
from kgsolver.pipeline.answer import AskResult
from kgsolver.pipeline.config import KGSolverConfig, build_gateway
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.serve.api_guard import ApiKeyCheck, BodySizeLimit, install_error_handlers, redact_paths
from kgsolver.pipeline.serve.api_models import (
    KB_NAME_PATTERN,
    KB_NAME_RE,
    MAX_DOCUMENTS_LISTED,
    AskRequest,
    DeleteResponse,
    DocumentList,
    DocumentOut,
    DocumentsRequest,
    Health,
    IngestResponse,
    KBInfo,
)
from kgsolver.pipeline.solver import Solver

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import TokenizingEmbedder
    from kgsolver.connectors.llms.gateway import LLMGateway, TokenListener
    from kgsolver.pipeline.answer import StepListener

logger = logging.getLogger(__name__)

# Keyword arguments of Solver.ask that the API passes through only when this kgsolver's Solver accepts them.
OPTIONAL_FEATURES = ("assumptions", "policy")
SOLVER_FEATURES = {name: name in inspect.signature(Solver.ask).parameters for name in OPTIONAL_FEATURES}


def registered_modes() -> list[str]:
    from kgsolver.pipeline.modes import MODES

    return MODES.names()


class KnowledgeBases:
    """The folder of named knowledge bases, with the shared embedder, LLM gateway and per-KB solvers."""

    def __init__(self, root: Path, config: KGSolverConfig, *, embedder: TokenizingEmbedder | None = None,
                 gateway: LLMGateway | None = None) -> None:
        self.root, self.config = Path(root), config
        self.root.mkdir(parents=True, exist_ok=True)
        self._embedder, self._gateway = embedder, gateway
        self._solvers: dict[str, Solver] = {}
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
    def embedder(self) -> TokenizingEmbedder:
        with self._lock:
            if self._embedder is None:
                from kgsolver.connectors.embedders import load_embedder

                self._embedder = load_embedder(self.config.embedder.model_path, device=self.config.embedder.device)
            return self._embedder

    @property
    def gateway(self) -> LLMGateway:
        with self._lock:
            if self._gateway is None:
                self._gateway = build_gateway(self.config)
            return self._gateway

    def solver(self, name: str, top_k: int | None = None) -> Solver:
        """The one long-lived solver of a knowledge base; it reopens the KB itself after each ingest
        (Solver._generation)."""
        path = self.existing(name)
        embedder, gateway = self.embedder, self.gateway
        if top_k and top_k != self.config.retrieval.top_k:
            config = self.config.model_copy(deep=True)
            config.retrieval.top_k = top_k
            return Solver(path, config, embedder=embedder, gateway=gateway)
        with self._lock:
            if name not in self._solvers:
                self._solvers[name] = Solver(path, self.config, embedder=embedder, gateway=gateway)
            return self._solvers[name]

    def ingest(self, name: str, request: DocumentsRequest) -> IngestResponse:
        from kgsolver.connectors.corpus_readers import SourceDocument
        from kgsolver.pipeline.kb.ingest import ingest_documents

        path = self.path(name)
        # The plain document format, built here: metadata is kept as metadata and never sets the id or the format.
        documents = [SourceDocument(doc.id, doc.title, doc.text, dict(doc.metadata), where=f"documents[{n}]")
                     for n, doc in enumerate(request.documents)]
        report = ingest_documents(documents, path, self.config, embedder=self.embedder, show_progress=False)
        total = KnowledgeBase.open(path).manifest["counts"]["documents"]
        fields = {k: getattr(report, k) for k in IngestResponse.model_fields if hasattr(report, k)}
        return IngestResponse(kb=name, documents_total=total, **fields)

    def documents(self, name: str, offset: int, limit: int) -> DocumentList:
        from kgsolver.pipeline.kb.admin import list_documents

        documents = list_documents(self.existing(name))
        page = [DocumentOut(id=d.doc_id, title=d.title, chunks=d.chunks) for d in documents[offset:offset + limit]]
        return DocumentList(kb=name, total=len(documents), offset=offset, documents=page)

    def delete(self, name: str, doc_id: str) -> DeleteResponse:
        """The CLI's delete; the KB's Solver sees it at its next question (it reopens after every commit)."""
        from kgsolver.pipeline.kb.admin import UnknownDocumentError, delete_documents

        path = self.existing(name)
        try:
            report = delete_documents(path, [doc_id], self.config)
        except UnknownDocumentError as exc:
            raise HTTPException(404, f"no document with id {doc_id!r} in knowledge base {name!r}; nothing was deleted "
                                     f"(GET /kb/{name}/documents lists the ids)") from exc
        total = KnowledgeBase.open(path).manifest["counts"]["documents"]
        return DeleteResponse(kb=name, deleted=report.documents, chunks_removed=report.chunks_removed,
                              atomic_questions_removed=report.atomic_questions_removed,
                              relations_removed=report.relations_removed, generation=report.generation,
                              seconds=report.seconds, documents_total=total)

    def list(self) -> list[KBInfo]:
        infos = []
        for path in sorted(p for p in self.root.iterdir() if p.is_dir() and KB_NAME_RE.fullmatch(p.name)):
            if not KnowledgeBase.exists(path):
                continue
            try:
                manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):  # one damaged knowledge base must not take /kb and /health down
                infos.append(KBInfo(name=path.name, documents=0, chunks=0, components=[], damaged=True))
                continue
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


def _prepare(kbs: KnowledgeBases, request: AskRequest) -> Callable[..., AskResult]:
    """Everything that can be refused with a 4xx is checked before any work starts (and before a stream opens)."""
    modes = registered_modes()
    if request.mode not in modes:
        raise HTTPException(400, f"unknown mode {request.mode!r}; available: {', '.join(modes)}")
    kwargs = _feature_kwargs(request)
    solver = kbs.solver(request.kb, request.top_k)
    budget = request.budget.merged_with(kbs.config.budget) if request.budget else None

    def run(on_step: StepListener | None = None, on_token: TokenListener | None = None) -> AskResult:
        return solver.ask(request.question, mode=request.mode, budget=budget, on_step=on_step, on_token=on_token,
                          **kwargs)

    return run


def _documented_security() -> list[Any]:  # fastapi's Security() is typed Any
    """The key's two headers in the OpenAPI schema (ApiKeyCheck enforces it; auto_error=False leaves that to it)."""
    from fastapi import Security

    return [Security(HTTPBearer(auto_error=False, description="KGSOLVER_API__KEY")),
            Security(APIKeyHeader(name="X-API-Key", auto_error=False, description="KGSOLVER_API__KEY"))]


def create_app(root: str | Path, config: KGSolverConfig | None = None, *, embedder: TokenizingEmbedder | None = None,
               gateway: LLMGateway | None = None) -> FastAPI:
    """The API over the knowledge bases in `root`; pass `embedder`/`gateway` to share already loaded models."""
    config = config or KGSolverConfig()
    kbs = KnowledgeBases(Path(root), config, embedder=embedder, gateway=gateway)
    key = config.api.key.get_secret_value() if config.api.key else None
    app = FastAPI(title="kgsolver", version="0.1.0", description=__doc__,
                  dependencies=_documented_security() if key else None)
    app.state.kbs = kbs
    app.add_middleware(BodySizeLimit)
    app.add_middleware(ApiKeyCheck, key=key)  # added last, runs first: no body is read without the key
    install_error_handlers(app, kbs.root)
    name_param = PathParam(..., pattern=KB_NAME_PATTERN, description="knowledge base name")

    @app.get("/health", response_model=Health)
    def health() -> Health:
        graph = getattr(config, "graph", None)
        return Health(status="ok", llm=redact_paths(config.llm.name, kbs.root),
                      graph_store=getattr(graph, "store", None), knowledge_bases=len(kbs.list()),
                      modes=registered_modes(), embedder_loaded=kbs._embedder is not None, features=SOLVER_FEATURES,
                      auth=key is not None)

    @app.get("/kb", response_model=list[KBInfo])
    def list_kbs() -> list[KBInfo]:
        return kbs.list()

    @app.post("/kb/{name}/documents", response_model=IngestResponse)
    def add_documents(request: DocumentsRequest, name: str = name_param) -> IngestResponse:
        return kbs.ingest(name, request)

    @app.get("/kb/{name}/documents", response_model=DocumentList)
    def list_documents(name: str = name_param, offset: int = Query(0, ge=0),
                       limit: int = Query(1000, ge=1, le=MAX_DOCUMENTS_LISTED)) -> DocumentList:
        return kbs.documents(name, offset, limit)

    # `:path`: a document id may hold a slash (a file path as id); percent-encode it or not
    @app.delete("/kb/{name}/documents/{doc_id:path}", response_model=DeleteResponse)
    def delete_document(name: str = name_param,
                        doc_id: str = PathParam(..., min_length=1, max_length=256)) -> DeleteResponse:
        return kbs.delete(name, doc_id)

    @app.post("/ask", response_model=AskResult)
    def ask(request: AskRequest) -> AskResult:
        return _prepare(kbs, request)()

    @app.post("/ask/stream", response_class=EventSourceResponse)
    async def ask_stream(request: AskRequest) -> EventSourceResponse:
        run = await anyio.to_thread.run_sync(_prepare, kbs, request)
        return EventSourceResponse(_events(request, run, kbs.root), ping=15)

    return app


async def _events(request: AskRequest, run: Callable[..., AskResult], root: Path) -> AsyncIterator[dict[str, str]]:
    """The question runs on a worker thread; its trace steps and reply pieces cross to the event loop through a
    queue as they happen, so the client sees each step when it ends and each token when it is generated."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, str] | None] = asyncio.Queue()

    def emit(event: str, data: str) -> None:  # called on the worker thread
        loop.call_soon_threadsafe(queue.put_nowait, {"event": event, "data": data})

    def work() -> None:
        try:
            result = run(on_step=lambda step: emit("trace", step.model_dump_json()),
                         on_token=lambda purpose, text: emit("token", json.dumps({"purpose": purpose, "text": text})))
            emit("answer", result.model_dump_json())
        except (KGSolverError, ValueError) as exc:
            emit("error", json.dumps({"detail": redact_paths(str(exc), root)}))
        except Exception:  # as /ask's 500: logged here, no details to the client
            logger.exception("/ask/stream failed")
            emit("error", json.dumps({"detail": "internal server error"}))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    yield {"event": "started", "data": json.dumps({"kb": request.kb, "mode": request.mode,
                                                   "question": request.question})}
    # Kept referenced until the end; a client that leaves early stops reading, the question still finishes.
    worker = asyncio.ensure_future(anyio.to_thread.run_sync(work))
    while (event := await queue.get()) is not None:
        yield event
    await worker
