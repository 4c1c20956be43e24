"""The one typed configuration object. Environment variables override defaults: KGSOLVER_LLM__NAME=..., etc."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.connectors.llms.budget import Budget
from kgsolver.connectors.llms.registry import DEMO_MODEL
from kgsolver.graphs.settings import GraphSettings
from kgsolver.pipeline.config.agent import AgentSettings
from kgsolver.pipeline.config.answer_form import AnswerFormSettings
from kgsolver.pipeline.config.filters import FilterSettings
from kgsolver.pipeline.config.preference import PreferenceSettings
from kgsolver.pipeline.config.ray import RaySettings

if TYPE_CHECKING:
    from kgsolver.connectors.llms.factory import ChatBackend
    from kgsolver.connectors.llms.gateway import LLMGateway


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kgsolver"


class EmbedderSettings(BaseModel):
    model_path: str | None = Field(None, description="a local sentence-transformers folder; None = packaged MiniLM")
    device: str = "cpu"
    batch_size: int = 64
    query_runtime: Literal["gguf", "torch"] = Field(
        "gguf", description="what encodes questions: llama.cpp over the model converted to GGUF once (no torch "
                            "import), or sentence-transformers as ingest does; BERT models only for gguf")
    query_threads: int = Field(0, ge=0, description="llama.cpp threads of the query embedder; 0 = half the cores")
    memo_size: int = Field(4096, ge=0, description="texts whose vectors the query path keeps per process")
    sentence_vectors: Literal["encoded", "pooled"] = Field(
        "encoded", description="a new knowledge base's sentence vectors: each titled sentence encoded alone, or "
                               "mean-pooled from the chunk pass's token states (no second encoder pass, but cosine "
                               "about 0.89 to the encoded ones: the filters' sentence decisions moved on 5-8% of "
                               "HotpotQA passages, docs/RESULTS.md); an existing knowledge base keeps its manifest's")


class ChunkingSettings(BaseModel):
    chunk_tokens: int = Field(200, ge=16, description="embedder word pieces per chunk (MiniLM reads 256)")
    overlap_tokens: int = Field(40, ge=0)


class LLMSettings(BaseModel):
    name: str = DEMO_MODEL
    n_ctx: int = 4096
    n_threads: int = 0  # 0 = all cores
    cpu_build: str = Field("auto", description="llama.cpp CPU build: auto (best the CPU runs, proven once), "
                           "avx512, base")
    seed: int = 0
    temperature: float = 0.0
    max_tokens: int = 384
    prefix_cache_mb: int = Field(64, ge=0, description="llama.cpp: keep the KV state of recent prompt heads (system "
                                 "prompt, fixed turns) up to this size, so each is evaluated once per process; 0 = off "
                                 "(a head of the 1.5B is about 29 KB a token)")
    grammar_check: Literal["chosen", "vocabulary"] = Field(
        "chosen", description="llama.cpp, greedy JSON-schema replies: the grammar checks the chosen token and "
                              "constrains the whole vocabulary only when it refuses it (the same reply, faster); "
                              "vocabulary = llama-cpp-python's own sampler chain, every token at every step")
    base_url: str | None = None  # for openai:MODEL against a local server
    api_key_env: str = "OPENAI_API_KEY"
    request_timeout_s: float = 120.0


class RetrievalSettings(BaseModel):
    top_k: int = Field(5, ge=1)
    candidates: int = Field(30, ge=1, description="hits per retriever before fusion")
    rrf_k: int = Field(60, ge=1)


class ApiSettings(BaseModel):
    """The HTTP API (`kgsolver serve`)."""

    key: SecretStr | None = Field(None, description="KGSOLVER_API__KEY: when set, every endpoint but /health wants it "
                                  "as `Authorization: Bearer KEY` or `X-API-Key: KEY`")


class LimitSettings(BaseModel):
    """Input limits shared by the CLI and the HTTP API, checked before any model runs."""

    question_chars: int = Field(2_000, ge=1, description="longest question accepted; a 20k-character one held the "
                                "LLM for over 5 minutes")


class KBSettings(BaseModel):
    """Segmented knowledge bases (pipeline/kb/knowledge_base.py): when a commit merges segments
    (pipeline/kb/compact.py)."""

    auto_compact: bool = Field(True, description="merge segments after a commit when the limits below are passed")
    max_segments: int = Field(16, ge=1, description="past this many segments the smallest are merged, down to half: "
                              "every search visits every segment")
    max_dead_ratio: float = Field(0.2, gt=0, le=1, description="all segments are merged once this share of stored "
                                  "rows is deleted or replaced (searches over-fetch past tombstones)")
    max_graph_delta_ratio: float = Field(0.5, gt=0, description="the graph file's deltas are folded into a new base "
                                         "once their bytes pass this share of the base's (each read replays them; "
                                         "folding rewrites the graph)")


class KGSolverConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KGSOLVER_", env_nested_delimiter="__", extra="ignore")

    cache_dir: Path = Field(default_factory=_default_cache_dir)
    llm_cache: bool = True
    llm_cache_path: Path | None = Field(None, description="response cache file; None = CACHE_DIR/llm-cache.sqlite")
    embedder: EmbedderSettings = EmbedderSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    llm: LLMSettings = LLMSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    budget: Budget = Budget()
    graph: GraphSettings = GraphSettings()
    filters: FilterSettings = FilterSettings()
    preference: PreferenceSettings = PreferenceSettings()
    answer_form: AnswerFormSettings = AnswerFormSettings()
    agent: AgentSettings = AgentSettings()
    limits: LimitSettings = LimitSettings()
    api: ApiSettings = ApiSettings()
    vector_index: IndexSpec = IndexSpec()
    kb: KBSettings = KBSettings()
    ray: RaySettings = RaySettings()


def build_gateway(config: KGSolverConfig) -> LLMGateway:
    """The one way to build the LLM gateway from the configuration: the backend, and the response cache where
    `llm_cache` is on (at `llm_cache_path`, or the cache folder's llm-cache.sqlite). Imports stay inside, so reading
    the configuration does not load LangChain. The backend is built on the first LLM call (`LLMGateway.backend`), so a
    question with an LLM budget of 0 imports, resolves and verifies no model."""
    from kgsolver.connectors.llms.cache import ResponseCache
    from kgsolver.connectors.llms.gateway import LLMGateway

    def backend() -> ChatBackend:
        from kgsolver.connectors.llms.factory import build_chat_backend

        return build_chat_backend(config.llm, config.cache_dir)

    cache_path = config.llm_cache_path or config.cache_dir / "llm-cache.sqlite"
    cache = ResponseCache(cache_path) if config.llm_cache else None
    return LLMGateway(backend, cache, default_max_tokens=config.llm.max_tokens)
