"""What stands between the network and the API (`pipeline/serve/api.py`): the optional API key, the body size limit, and
error bodies that never echo the request or show a server path.

    API key    KGSOLVER_API__KEY set: every path but /health wants `Authorization: Bearer KEY` or `X-API-Key: KEY`
               (compared in constant time), else 401
    body size  over MAX_BODY_BYTES: 413, whether or not the client sent Content-Length
    422        field locations, messages and error types only: no input values (FastAPI's default echoes the input,
               so a 7 MB body came back in the error)
    errors     absolute paths of this machine become names relative to the KB root (or their last part)
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kgsolver.connectors import KGSolverError, KnowledgeBaseError, MissingModelError
from kgsolver.pipeline.serve.api_models import MAX_BODY_BYTES

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})  # a container's health check needs no key
MAX_ERRORS_SHOWN = 20
MAX_LOC_CHARS = 64  # a field name is client input too (an unknown 7 MB key would come back otherwise)
# An absolute path: a slash that starts a token (not inside a URL or a relative path), then 1+ parts.
_ABSOLUTE_PATH = re.compile(r"(?<![\w./~-])/(?:[\w.@+-]+/)*[\w.@+-]+")


async def _send_json(send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def presented_key(headers: dict[bytes, bytes]) -> bytes | None:
    """The key a request carries: `Authorization: Bearer KEY`, else `X-API-Key: KEY`."""
    scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    return headers.get(b"x-api-key") or None


class ApiKeyCheck:
    """401 for any request without the key, on every path but OPEN_PATHS; no key configured, no check."""

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app = app
        self.key = key.encode() if key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS:
            return await self.app(scope, receive, send)
        presented = presented_key(dict(scope.get("headers") or []))
        # compare_digest takes as long for a wrong key as for a right one of the same length: no timing oracle.
        if presented is None or not hmac.compare_digest(presented, self.key):
            detail = "missing API key" if presented is None else "wrong API key"
            return await _send_json(send, 401, f"{detail}: send `Authorization: Bearer KEY` or `X-API-Key: KEY`",
                                    [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuse request bodies over `limit` bytes with 413, whether or not the client sent Content-Length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen, refused = 0, False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not refused:
                refused = True
                await self._refuse(send)
            return {"type": "http.disconnect"} if refused else message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, whatever the app answers to the disconnect is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        await _send_json(send, 413, f"request body over {self.limit} bytes")


def redact_paths(message: str, root: Path) -> str:
    """`message` without this machine's absolute paths: under the KB root they become relative to it
    ("demo/manifest.json"), anything else keeps its last part. Only paths whose first folder exists here are touched,
    so the API's own routes ("POST /kb/demo/documents") stay as they are."""
    roots = sorted({str(root), str(root.resolve())}, key=len, reverse=True)

    def relative(match: re.Match[str]) -> str:
        path: str = match.group(0)
        first = path.split("/")[1]
        if not first or not Path("/", first).exists():
            return path
        for prefix in roots:
            if path == prefix:
                return "."
            if path.startswith(prefix + "/"):
                return path[len(prefix) + 1:]
        return Path(path).name

    return _ABSOLUTE_PATH.sub(relative, message)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the value: FastAPI's default body carries each error's `input` (the whole request)."""
    shown = []
    for error in exc.errors()[:MAX_ERRORS_SHOWN]:
        loc = [part if isinstance(part, int) else str(part)[:MAX_LOC_CHARS] for part in error.get("loc", ())]
        shown.append({"loc": loc, "msg": error.get("msg", ""), "type": error.get("type", "")})
    return shown


def install_error_handlers(app: FastAPI, root: Path) -> None:
    def reply(status: int, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": redact_paths(str(exc), root)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        body: dict[str, Any] = {"detail": validation_errors(exc)}
        if len(errors) > MAX_ERRORS_SHOWN:
            body["errors_not_shown"] = len(errors) - MAX_ERRORS_SHOWN
        return JSONResponse(body, status_code=422)

    @app.exception_handler(MissingModelError)
    async def _missing_model(_: Request, exc: MissingModelError) -> JSONResponse:
        return reply(503, exc)

    @app.exception_handler(KGSolverError)
    async def _kgsolver_error(_: Request, exc: KGSolverError) -> JSONResponse:
        return reply(409 if isinstance(exc, KnowledgeBaseError) else 400, exc)

    @app.exception_handler(ValueError)
    async def _value_error(_: Request, exc: ValueError) -> JSONResponse:
        return reply(400, exc)
