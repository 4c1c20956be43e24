"""Build a LangChain chat model from a model name.

Names: a registry name (`qwen2.5-coder-0.5b-instruct`, ...), `gguf:PATH` for any local GGUF file,
`openai:MODEL` for an OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI), `transformers:PATH`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from langchain_core.language_models import BaseChatModel

from kgsolver.connectors import KGSolverError, MissingModelError, Registry, UnknownName
from kgsolver.connectors.llms.gguf_files import resolve_gguf
from kgsolver.connectors.llms.registry import MODELS

if TYPE_CHECKING:
    from kgsolver.connectors.llms.llama_grammar import GrammarCheck


class BackendSettings(Protocol):
    """What the backends read from `LLMSettings` (pipeline/config.py), which satisfies this structurally:
    connectors never import the pipeline."""

    name: str
    n_ctx: int
    n_threads: int
    cpu_build: str
    seed: int
    temperature: float
    max_tokens: int
    prefix_cache_mb: int
    grammar_check: GrammarCheck
    base_url: str | None
    api_key_env: str
    request_timeout_s: float


@dataclass
class ChatBackend:
    model: BaseChatModel
    model_id: str  # what the response cache keys on: changes whenever the weights could change
    json_mode: str  # "llamacpp-schema" | "openai-schema" | "none"


def _llamacpp(path: Path, model_id: str, settings: BackendSettings, cache_dir: Path) -> ChatBackend:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingModelError("llama-cpp-python is not installed; run: .ci/build-llama.sh PYTHON (the portable "
                                "build the Makefile and the Dockerfile use)")
    from kgsolver.connectors.llms.llama_build import activate
    from kgsolver.connectors.llms.llamacpp_chat import ChatLlamaCpp

    activate(path, cache_dir, settings.cpu_build)  # before llama_cpp's first import: it reads the library path once
    model = ChatLlamaCpp(
        model_path=str(path), model_name=model_id, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
        seed=settings.seed, temperature=settings.temperature, max_tokens=settings.max_tokens,
        prefix_cache_mb=settings.prefix_cache_mb, grammar_check=settings.grammar_check,
    )
    return ChatBackend(model, model_id, "llamacpp-schema")


def _openai(model_name: str, settings: BackendSettings, cache_dir: Path) -> ChatBackend:
    from langchain_openai import ChatOpenAI

    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get(settings.api_key_env) or ("not-needed" if base_url else None)
    if not api_key:
        raise KGSolverError(f"openai:{model_name} needs ${settings.api_key_env} or a base_url for a local server")
    model = ChatOpenAI(
        model=model_name, base_url=base_url, api_key=api_key, temperature=settings.temperature,
        max_tokens=settings.max_tokens, seed=settings.seed, timeout=settings.request_timeout_s, max_retries=2,
        stream_usage=True,  # streamed replies (/ask/stream) carry their token counts too
    )
    return ChatBackend(model, f"openai:{base_url or 'api'}:{model_name}", "openai-schema")


def _pinned_gguf(name: str, cache_dir: Path) -> tuple[Path, str]:
    spec = MODELS[name]
    return resolve_gguf(spec, cache_dir / "models"), f"{spec.name}@{spec.sha256[:16]}"


def _gguf_file(value: str) -> tuple[Path, str]:
    path = Path(value).expanduser()
    if not path.is_file():
        raise MissingModelError(f"GGUF file not found: {path}")
    stat = path.stat()
    return path, f"gguf:{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def _local_gguf(name: str, cache_dir: Path) -> tuple[Path, str] | None:
    """The local GGUF file a model name runs on, and the id the response cache keys on (it changes whenever the
    weights could): a pinned model of registry.MODELS, located and verified by its sha256, or `gguf:PATH`. None for a
    backend without one (openai, transformers); MissingModelError when the file is not there."""
    if name in MODELS:
        return _pinned_gguf(name, cache_dir)
    kind, _, value = name.partition(":")
    return _gguf_file(value) if kind == "gguf" and value else None


def _gguf(value: str, settings: BackendSettings, cache_dir: Path) -> ChatBackend:
    return _llamacpp(*_gguf_file(value), settings, cache_dir)


def _transformers(value: str, settings: BackendSettings, cache_dir: Path) -> ChatBackend:
    from kgsolver.connectors.llms.transformers_chat import ChatLocalTransformers  # loads torch

    return ChatBackend(ChatLocalTransformers(model_path=value, max_tokens=settings.max_tokens),
                       f"transformers:{value}", "none")


# KIND:VALUE names; a bare name is a pinned model of registry.MODELS.
BACKENDS: Registry[ChatBackend] = Registry("LLM backend", {
    "gguf": _gguf, "openai": _openai, "transformers": _transformers})


def choose_llama_build(settings: BackendSettings, cache_dir: Path) -> None:
    """Choose this process's llama.cpp build for the configured local model before anything else imports llama_cpp.

    The query embedder runs on llama.cpp too, and the first import fixes the library for the whole process: an
    embedder loaded first would leave the LLM on the portable base build (about 0.65x the AVX-512 prompt rate). Does
    nothing for a remote backend or a model that is not installed (an LLM-free run needs no model)."""
    try:
        found = _local_gguf(settings.name, cache_dir)
    except KGSolverError:
        return
    if found is None:
        return
    from kgsolver.connectors.llms.llama_build import activate

    activate(found[0], cache_dir, settings.cpu_build)


def build_chat_backend(settings: BackendSettings, cache_dir: Path) -> ChatBackend:
    """`settings` is an `LLMSettings` (pipeline.config), typed by the BackendSettings Protocol above."""
    name = settings.name
    if name in MODELS:
        return _llamacpp(*_pinned_gguf(name, cache_dir), settings, cache_dir)
    kind, _, value = name.partition(":")
    if kind not in BACKENDS or not value:
        raise UnknownName(f"unknown LLM {name!r}: use one of {', '.join(sorted(MODELS))}, or KIND:VALUE with KIND one "
                          f"of {', '.join(BACKENDS.names())} (gguf:PATH, openai:MODEL, transformers:PATH)")
    return BACKENDS.get(kind, value, settings, cache_dir)
