"""The one typed configuration object, KGSolverConfig, and its settings blocks (embedder, chunking, LLM, retrieval,
filters, preference, answer form, agent, API, limits, knowledge base, Ray). Environment variables override defaults:
KGSOLVER_LLM__NAME=..., KGSOLVER_AGENT__MAX_HOPS=3, etc. The configuration is the pipeline's bottom layer: it imports no
pipeline code (the preference and hop policies are validated by name), so every part of the pipeline reads it."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kgsolver.connectors import Registry
from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.connectors.llms import Budget
from kgsolver.graphs import GraphSettings

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
    # The default, chosen by measured EM and seconds a question (docs/RESULTS.md, "Reader"); a name of
    # connectors/llms/registry.py::MODELS. Tests pin the 0.5B.
    name: str = "qwen2.5-coder-1.5b-instruct"
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


# The `filters` block.

class FilterSettings(BaseModel):
    enabled: bool = True
    steps: list[str] = Field(
        default_factory=lambda: ["instruction_guard", "dedup", "relevance", "consistency", "brevity"],
        description="filters in the order they run")
    relevance_threshold: float = Field(0.25, description="min cosine(question, passage) with the embedder")
    keep_bridges: bool = Field(True, description="keep a passage below the threshold when a kept passage names its "
                               "title")
    keep_quoted: bool = Field(True, description="keep a passage below the threshold when it contains a phrase the "
                              "question quotes")
    llm_judge: bool = Field(False, description="one batched LLM yes/no relevance judgement when calls are to spare")
    judge_reserve_calls: int = Field(3, description="calls that must stay available after the judgement")
    cross_encoder_path: str | None = Field(None, description="a local sentence-transformers CrossEncoder folder")
    cross_encoder_threshold: float = 0.0
    brevity_tokens: int = Field(600, ge=32, description="token budget for the kept sentences")
    brevity_first_sentence_bonus: float = Field(0.1, description="added to a passage's first sentence's similarity")
    dedup_similarity: float = Field(92.0, description="rapidfuzz token_set_ratio for near duplicates")
    consistency_similarity: float = 0.8
    user_fact_similarity: float = 0.6


FILTER_DEFAULTS = FilterSettings()  # the filters' constructor defaults: one definition, here


# The `preference` block.

# The policies' names (pipeline/answer/preference/__init__.py registers a factory for each;
# tests/unit/test_registry.py checks that the two agree): the settings validate against the names, so reading the
# configuration imports no policy code.
POLICY_NAMES = ("hierarchical", "context_only", "documents_only", "tagged", "adaptive")
_NAMES: Registry[str] = Registry.of("preference policy", {name: name for name in POLICY_NAMES})


def policy_key(name: str) -> str:
    """The registered name of `name` ('context-only' is 'context_only'), or the error listing the policies."""
    return _NAMES.check(name.replace("-", "_"))


class PreferenceSettings(BaseModel):
    policy: str = Field("hierarchical", description=" | ".join(_NAMES.names()))
    parametric_min_confidence: int = Field(50, ge=0, le=100,
                                           description="closed-book answers below this self-rated confidence abstain")
    adaptive_skip_confidence: int = Field(90, ge=0, le=100,
                                          description="adaptive: skip retrieval at or above this confidence")
    same_answer_similarity: float = Field(0.85, description="embedding cosine above which two answers agree")
    parametric_max_tokens: int = 48
    verify_tag: str = "[LLM: verify]"

    @field_validator("policy")
    @classmethod
    def _registered(cls, name: str) -> str:
        return policy_key(name)


# The `answer_form` block (the answer-form step itself is pipeline/answer/answer_form.py).

class AnswerFormSettings(BaseModel):
    """The `answer_form` block of KGSolverConfig: how the reader is asked for an answer of the right form, and what is
    done with its reply (the prompt options are read by pipeline/answer/generate.py)."""

    # On by default: measured not to lose on held-out HotpotQA questions (docs/RESULTS.md, "Reader"), and without it
    # a bare yes or no, which no passage contains, is treated as ungrounded.
    enabled: bool = Field(True, description="bring the generated short answer to the form the question asks for "
                                           "(yes/no, one of two named options, a year, a date, a number, an alias)")
    alias_window_chars: int = Field(160, description="an alias ('commonly called X') counts for the answered name "
                                                     "only this close after it in a passage")
    few_shot: bool = Field(False, description="show the reader worked examples of short answers (invented passages, "
                                              "earlier turns of the chat) before the question")
    compare: bool = Field(False, description="which-of-two and yes/no questions: the reader writes the fact for each "
                                             "side first, then an answer constrained to the two options or yes/no")
    compare_facts_chars: int = Field(240, description="compare: at most this many characters of facts before the "
                                     "answer")
    # On by default: no right answer lost on HotpotQA 1-200 with either model, and 12 wrong answers of the 0.5B and
    # the 1.5B became abstentions (docs/RESULTS.md, "Issue 16, sixth session").
    retry_echo: bool = Field(True, description="an answer that only repeats words of the question (\"The Deep Blue "
                             "Sea\" for \"the actor in The Deep Blue Sea won an award for which role?\") is not the "
                             "answer: the reader is told so and answers once more; a second echo abstains")
    # On by default: two more of the 0.5B's HotpotQA answers right (one in each part); with the 1.5B one gained and one
    # lost on the choice part, nothing changed held out (docs/RESULTS.md, "Issue 16, seventh session").
    same_values: bool = Field(True, description="yes/no questions asking whether two named things share an "
                              "attribute (\"Were A and B from the same country?\"): the reader gives each one's "
                              "value in its own call and the answer is yes when the two agree "
                              "(pipeline/answer/compare.py; with compare_values)")
    # "hop" by default: chosen on HotpotQA 1-100, where it gained 5 answers and lost none over the 0.5B and the 1.5B;
    # held out it gained 3 and lost 4 (the 1.5B's naive run lost 2 net): docs/RESULTS.md, "Issue 16, seventh session".
    passage_order: Literal["rank", "hop"] = Field("hop", description=(
        "the order of the reader's passages: 'rank' as retrieval ranked them, 'hop' the passages whose title the "
        "question names first (the first hop of a bridge, both sides of a comparison), then the others in rank order"))
    # On by default: it gained on the choice part (HotpotQA 1-100) with both the 0.5B and the 1.5B and lost nothing
    # held out (101-200); docs/RESULTS.md, "Issue 16, sixth session".
    compare_values: bool = Field(True, description="which-of-two questions comparing a date or a number (earlier, "
                                 "younger, more, taller): the reader gives each option's value in its own call and "
                                 "the parsed values decide (pipeline/answer/compare.py); else the ordinary answer")


# The `agent` block: per-question budgets and the policies of the multi-hop modes.

# The hop policies' names (pipeline/multihop/hop_policy.py registers one scorer each; tests/unit/test_registry.py
# checks that the two agree): the settings validate against the names, so reading the configuration imports no
# multi-hop code.
HOP_POLICY_NAMES = ("combine", "llm", "embedding")
_HOP_POLICIES: Registry[str] = Registry.of("hop policy", {name: name for name in HOP_POLICY_NAMES})

_BUDGET = Budget()  # the per-question budget's defaults are the agent's too: one definition (all three are set)


class AgentSettings(BaseModel):
    max_llm_calls: int = Field(cast(int, _BUDGET.max_llm_calls), ge=1,
                               description="LLM calls per question, the final answer's included")
    max_tokens: int = Field(cast(int, _BUDGET.max_tokens), ge=256,
                            description="prompt + completion tokens per question")
    max_seconds: float = Field(cast(float, _BUDGET.max_seconds), gt=0, description="wall-clock seconds per question")
    max_rounds: int = Field(2, ge=0, description="pike/agent: decomposition rounds (sub-questions)")
    max_hops: int = Field(2, ge=1, description="ksl: KG hops per walk")
    beams: int = Field(3, ge=1, description="ksl: paths kept per hop")
    choices: int = Field(8, ge=2, description="ksl: relations shown to the LLM per hop")
    hop_policy: str = Field(
        "combine", description="combine: LLM pick + embedding score; llm: LLM pick, embedding only as fallback; "
                               "embedding: no LLM in the walk")
    llm_weight: float = Field(0.5, ge=0.0, le=1.0, description="combine: weight of the LLM's pick vs. embedding")
    first_hop_k: int = Field(10, ge=1, description="hits per search tool")
    quoted_anchor_k: int = Field(3, ge=0, description="first hop: passages per quoted phrase of the question, found by "
                                 "keyword search on the phrase and ranked as anchors (0: off)")
    expand_from: int = Field(3, ge=1, description="first-hop passages whose links and entities are expanded")
    evidence_k: int = Field(10, ge=1, description="passages in the final ranked evidence")
    answer_k: int = Field(5, ge=1, description="top passages given to the answer step")
    atomize_questions: int = Field(4, ge=1, le=10, description="atomic questions per chunk")
    atomize_checkpoint: int = Field(100, ge=1, description="chunks between atomic-index commits")
    atomize_workers: int = Field(1, ge=1, description="parallel LLM calls (remote backends only)")
    title_suffixes: list[str] = Field(default_factory=lambda: ["A.F.C.", "F.C.", "FC", "AFC"],
                                      description="title endings a question may leave out ('Tottenham Hotspur F.C.')")
    rrf_k: int = Field(10, ge=1, description="reciprocal-rank constant of the evidence pools (hybrid search: 60)")
    expansion_weight: float = Field(1.0, description="agent: weight of the neighbourhood expansion in the next hop")
    ppr_weight: float = Field(0.5, description="agent: weight of personalized PageRank and KG-walk passages")
    llm_pick_weight: float = Field(0.75, description="agent: weight of a passage the LLM selected for a sub-question")
    pike_pick_weight: float = Field(1.5, description="pike: weight of a passage the LLM selected for a sub-question")
    candidate_weight: float = Field(0.5, description="pike/agent: weight of a sub-question's search candidates")
    select_candidates: int = Field(6, ge=1, description="pike/agent: candidates shown to the LLM per sub-question")
    fact_chars: int = Field(220, ge=20, description="pike/agent: characters of a passage kept as a rationale fact")
    title_link_score: float = Field(1.0, description="neighbourhood: score of a passage whose title a seed names")
    entity_link_score: float = Field(0.6, description="neighbourhood: score of a passage sharing a seed's entity")
    entity_max_chunks: int = Field(8, ge=2, description="neighbourhood: skip entities in more passages (hubs)")
    ppr_hops: int = Field(2, ge=1, description="ppr: neighbourhood hops around the seeds")
    ppr_degree_cap: int = Field(50, ge=1, description="ppr: nodes with more edges are reached but not expanded")
    ppr_seed_passage_weight: float = Field(0.5, description="ppr: seed weight of a seed passage's entities (/ rank)")
    walk_degree_cap: int = Field(200, ge=1, description="ksl: relations read around a node per hop")
    atomize_chunk_chars: int = Field(1200, ge=100, description="atomize: characters of a chunk shown to the LLM")

    @field_validator("hop_policy")
    @classmethod
    def _registered(cls, name: str) -> str:
        return _HOP_POLICIES.check(name)


# The `ray` block: how `--engine ray` ingests and evaluates, and the check that its address answers.

class RaySettings(BaseModel):
    engine: Literal["local", "ray"] = Field("local", description="where ingest and eval run when the command does "
                                            "not say (--engine): the API's ingests follow it too")
    address: str | None = Field(None, description="ray://HEAD:10001, HEAD:6379 or auto; None = RAY_ADDRESS, else a "
                                "local cluster started for the run")
    connect_timeout_s: float = Field(10.0, gt=0, description="seconds the cluster's address has to accept a "
                                     "connection: Ray itself retries an address where nothing listens for minutes")
    workers: int = Field(0, ge=0, description="actors per stage (embed, graph, eval); 0 = one per CPU of the cluster")
    actor_cpus: float = Field(1.0, gt=0, description="CPUs each actor reserves; torch and llama.cpp get as many "
                              "threads (at least 1), so actors never oversubscribe the cores they were given")
    batch_documents: int = Field(64, ge=1, description="documents per chunk-and-embed call of an actor: each call "
                                 "writes one segment (compaction merges them later)")
    batch_chunks: int = Field(64, ge=1, description="chunks per graph-extraction call of an actor")
    max_restarts: int = Field(3, ge=0, description="times Ray restarts an actor whose process died")
    max_task_retries: int = Field(3, ge=0, description="times a call on a died actor is retried once restarted")


def _endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of `ray://HOST:PORT` or `HOST:PORT`; None for `auto`, `local` or an address without a port."""
    host, colon, port = address.split("://", 1)[-1].rstrip("/").rpartition(":")
    return (host.strip("[]"), int(port)) if colon and host and port.isdigit() else None


def check_reachable(address: str, timeout_s: float) -> None:
    """Raise ConnectionError naming the address unless something accepts a TCP connection at its host and port
    within `timeout_s` (the addresses Ray resolves itself, `auto` and `local`, are left to it)."""
    endpoint = _endpoint(address)
    if endpoint is None:
        return
    try:
        socket.create_connection(endpoint, timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"nothing accepted a connection at {endpoint[0]}:{endpoint[1]} within "
                              f"{timeout_s:g} s ({exc})") from exc


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
    from kgsolver.connectors.llms.gateway import LLMGateway, ResponseCache

    def backend() -> ChatBackend:
        from kgsolver.connectors.llms.factory import build_chat_backend

        return build_chat_backend(config.llm, config.cache_dir)

    cache_path = config.llm_cache_path or config.cache_dir / "llm-cache.sqlite"
    cache = ResponseCache(cache_path) if config.llm_cache else None
    return LLMGateway(backend, cache, default_max_tokens=config.llm.max_tokens)
