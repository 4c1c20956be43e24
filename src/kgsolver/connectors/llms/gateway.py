"""The one place every LLM call goes through: counting, caching by content, budgets, structured output.

`LLMGateway` owns the backend and the cache; each question opens an `LLMSession` with its own usage and budget. The
cache (`ResponseCache`) is on disk, keyed by content (model id, messages, decoding parameters).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from kgsolver.connectors import BudgetExceeded, KGSolverError, StructuredOutputError
from kgsolver.connectors.llms import Budget

if TYPE_CHECKING:
    from kgsolver.connectors.llms.factory import ChatBackend

T = TypeVar("T", bound=BaseModel)
# Called with (purpose, text) for each piece of a reply as it is generated; a cached reply arrives as one piece.
TokenListener = Callable[[str, str], None]


class CachedReply(TypedDict):
    """What the cache keeps of a reply: its text (a scored group's: the scores as JSON) and its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def cache_key(model_id: str, messages: list[tuple[str, str]] | list[list[tuple[str, str]]],
              params: dict[str, Any]) -> str:
    """The response's key: the model, the messages (a scored group's prompts, each its messages) and the parameters."""
    blob = json.dumps({"model": model_id, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """SQLite so that parallel evaluation workers and processes can share one cache safely."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()

    def get(self, key: str) -> CachedReply | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        reply: CachedReply = json.loads(row[0])  # written by `put` from a CachedReply
        return reply

    def put(self, key: str, value: CachedReply) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(value)))
            self._db.commit()


class Usage(BaseModel):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cache_hits: int = 0

    def add(self, other: Usage) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class LLMReply:
    text: str
    usage: Usage
    purpose: str


@dataclass
class LLMSession:
    gateway: LLMGateway
    budget: Budget
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.monotonic)
    on_token: TokenListener | None = None  # set: every reply of this session is streamed to it as it is generated

    def remaining_calls(self) -> int | None:
        limit = self.budget.max_llm_calls
        return None if limit is None else max(0, limit - self.usage.llm_calls)

    def check(self, calls_needed: int = 1) -> None:
        """Raise before a call that would break a budget; callers catch it to stop gracefully."""
        b, u = self.budget, self.usage
        if b.max_llm_calls is not None and u.llm_calls + calls_needed > b.max_llm_calls:
            raise BudgetExceeded(f"LLM call budget of {b.max_llm_calls} reached")
        if b.max_tokens is not None and u.prompt_tokens + u.completion_tokens >= b.max_tokens:
            raise BudgetExceeded(f"token budget of {b.max_tokens} reached")
        if b.max_seconds is not None and time.monotonic() - self.started >= b.max_seconds:
            raise BudgetExceeded(f"time budget of {b.max_seconds:.0f}s reached")

    def chat(self, messages: list[BaseMessage], *, purpose: str, max_tokens: int | None = None,
             schema: dict[str, Any] | None = None) -> LLMReply:
        self.check()
        listener = self.on_token
        on_text = None if listener is None else (lambda text: listener(purpose, text))
        reply = self.gateway.call(messages, purpose=purpose, max_tokens=max_tokens, schema=schema, on_token=on_text)
        self.usage.add(reply.usage)
        return reply

    def score_next(self, prompts: list[list[BaseMessage]], candidates: list[str], *, purpose: str,
                   prefix: str = "") -> list[dict[str, float]]:
        """Each candidate's log-probability as the next token of each prompt's reply (after `prefix`): one counted,
        cached call for the group (the rotations of one question's options share their head's forward pass)."""
        self.check()
        scores, usage = self.gateway.score_next(prompts, candidates, purpose=purpose, prefix=prefix)
        self.usage.add(usage)
        return scores

    def chat_json(
        self, messages: list[BaseMessage], schema: type[T], *, purpose: str, max_tokens: int | None = None
    ) -> tuple[T, LLMReply]:
        """Schema-constrained where the backend can; otherwise parse defensively and retry once."""
        reply = self.chat(messages, purpose=purpose, max_tokens=max_tokens, schema=schema.model_json_schema())
        try:
            return parse_json_reply(reply.text, schema), reply
        except (ValueError, ValidationError) as first_error:
            if self.gateway.backend.json_mode != "none":
                raise StructuredOutputError(
                    f"{purpose}: constrained output did not validate: {first_error}"
                ) from first_error
            retry = messages + [HumanMessage(
                f"Your reply was not valid JSON for this schema. Reply with JSON only, matching: "
                f"{json.dumps(schema.model_json_schema())}"
            )]
            reply = self.chat(retry, purpose=f"{purpose} (retry)", max_tokens=max_tokens)
            try:
                return parse_json_reply(reply.text, schema), reply
            except (ValueError, ValidationError) as exc:
                raise StructuredOutputError(f"{purpose}: no valid JSON after one retry: {exc}") from exc


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_json_reply(text: str, schema: type[T]) -> T:
    """Accept bare JSON, fenced JSON, or the first {...} object in prose."""
    candidates = [text.strip()] + _FENCE.findall(text)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    last_error: Exception = ValueError(f"no JSON object in reply: {text[:200]!r}")
    for candidate in candidates:
        try:
            return schema.model_validate_json(candidate)
        except ValidationError as exc:
            last_error = exc
    raise last_error


class LLMGateway:
    def __init__(self, backend: ChatBackend | Callable[[], ChatBackend], cache: ResponseCache | None, *,
                 default_max_tokens: int = 384):
        """`backend`, or what builds it on the first call: a question that makes no LLM call (a budget of 0, an
        evaluation that only gathers evidence) then never resolves, verifies or imports a model."""
        self._backend = backend
        self.cache = cache
        self.default_max_tokens = default_max_tokens
        self.total = Usage()
        self._lock = threading.Lock()
        self._backend_lock = threading.Lock()  # held while the backend is built (seconds: a model file verified)

    @property
    def backend(self) -> ChatBackend:
        if callable(self._backend):
            with self._backend_lock:
                if callable(self._backend):
                    self._backend = self._backend()
        return self._backend

    def session(self, budget: Budget | None = None, *, on_token: TokenListener | None = None) -> LLMSession:
        return LLMSession(self, budget or Budget(), on_token=on_token)

    def _response_format(self, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None or self.backend.json_mode == "none":
            return None
        if self.backend.json_mode == "llamacpp-schema":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": False}}

    def call(self, messages: list[BaseMessage], *, purpose: str, max_tokens: int | None = None,
             schema: dict[str, Any] | None = None, on_token: Callable[[str], None] | None = None) -> LLMReply:
        """One counted, cached call; with `on_token` the reply is streamed to it as the backend generates it."""
        max_tokens = max_tokens or self.default_max_tokens
        response_format = self._response_format(schema)
        params = {"max_tokens": max_tokens, "response_format": response_format}
        key = cache_key(self.backend.model_id, [(m.type, str(m.content)) for m in messages], params)
        started = time.perf_counter()
        hit = self.cache.get(key) if self.cache else None
        if hit is None:
            kwargs: dict[str, Any] = {"max_tokens": max_tokens}
            if response_format:
                kwargs["response_format"] = response_format
            hit = self._generate(messages, kwargs, on_token)
            if self.cache:
                self.cache.put(key, hit)
            cached = 0
        else:
            cached = 1
            if on_token is not None and hit["text"]:
                on_token(hit["text"])
        # Cached replies still count their tokens, so budgets decide the same way on a re-run.
        usage = Usage(llm_calls=1, prompt_tokens=hit["prompt_tokens"], completion_tokens=hit["completion_tokens"],
                      seconds=time.perf_counter() - started, cache_hits=cached)
        with self._lock:
            self.total.add(usage)
        return LLMReply(hit["text"], usage, purpose)

    def score_next(self, prompts: list[list[BaseMessage]], candidates: list[str], *, purpose: str,
                   prefix: str = "") -> tuple[list[dict[str, float]], Usage]:
        """Next-token log-probabilities of `candidates` after each prompt (nothing generated), one call counted and
        cached like `call` for the whole group: a prompt's scores depend on the group it was scored with (the shared
        head is one forward pass), so the group is the unit. Only backends that expose `next_token_logprobs` (local
        llama.cpp) can score; others raise."""
        score = getattr(self.backend.model, "next_token_logprobs", None)
        if score is None:
            raise KGSolverError(f"{purpose}: the {self.backend.model_id} backend cannot score next-token "
                                "log-probabilities (a local GGUF model can)")
        key = cache_key(self.backend.model_id, [[(m.type, str(m.content)) for m in p] for p in prompts],
                        {"score_next": list(candidates), "prefix": prefix})
        started = time.perf_counter()
        hit = self.cache.get(key) if self.cache else None
        cached = int(hit is not None)
        if hit is None:
            scores, prompt_tokens = score(prompts, candidates, prefix)
            hit = CachedReply(text=json.dumps(scores), prompt_tokens=prompt_tokens, completion_tokens=0)
            if self.cache:
                self.cache.put(key, hit)
        usage = Usage(llm_calls=1, prompt_tokens=hit["prompt_tokens"], seconds=time.perf_counter() - started,
                      cache_hits=cached)
        with self._lock:
            self.total.add(usage)
        return json.loads(hit["text"]), usage

    def _generate(self, messages: list[BaseMessage], kwargs: dict[str, Any],
                  on_token: Callable[[str], None] | None) -> CachedReply:
        """The backend's reply with its token counts: invoked, or streamed chunk by chunk (LangChain's `.stream`; a
        backend without streaming yields its whole reply as one chunk, and usage arrives on the chunks)."""
        if on_token is None:
            message = self.backend.model.invoke(messages, **kwargs)
        else:
            message = None
            for chunk in self.backend.model.stream(messages, **kwargs):
                if chunk.content:
                    on_token(str(chunk.content))
                message = chunk if message is None else message + chunk
        meta: Mapping[str, Any] = (message.usage_metadata if message is not None else None) or {}
        return CachedReply(text=str(message.content) if message is not None else "",
                           prompt_tokens=meta.get("input_tokens", 0), completion_tokens=meta.get("output_tokens", 0))
