"""Shared fixtures: the real embedder, a real demo knowledge base, and real local LLMs (no mocks).

LLM responses are cached in a per-run folder so every test run really calls the model; assembled model files stay
in the user cache (assembling is verified by sha256 either way).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kgsolver.connectors.embedders import load_embedder
from kgsolver.connectors.llms.factory import build_chat_backend
from kgsolver.connectors.llms.gateway import LLMGateway, ResponseCache
from kgsolver.evals.datasets import datasets_dir
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.serve.cli import demo_corpus_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    return datasets_dir()


@pytest.fixture(scope="session")
def embedder():
    return load_embedder()


@pytest.fixture(scope="session")
def run_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("llm-cache")


@pytest.fixture(scope="session")
def config(run_cache) -> KGSolverConfig:
    config = KGSolverConfig()
    config.llm.name = "qwen2.5-coder-0.5b-instruct"
    return config


def make_gateway(config: KGSolverConfig, run_cache: Path, name: str) -> LLMGateway:
    settings = config.llm.model_copy(update={"name": name})
    backend = build_chat_backend(settings, config.cache_dir)
    return LLMGateway(backend, ResponseCache(run_cache / f"{name}.sqlite"), default_max_tokens=settings.max_tokens)


@pytest.fixture(scope="session")
def qwen05(config, run_cache) -> LLMGateway:
    """Qwen2.5-Coder-0.5B-Instruct Q4_K_M, the default for tests."""
    return make_gateway(config, run_cache, "qwen2.5-coder-0.5b-instruct")


@pytest.fixture(scope="session")
def smollm(config, run_cache) -> LLMGateway:
    """SmolLM2-135M: smoke tests only."""
    return make_gateway(config, run_cache, "smollm2-135m-instruct")


@pytest.fixture(scope="session")
def bolt_server():
    """A real Bolt server for the graph-store tests: ArcadeDB started here, or a real Neo4j when NEO4J_URI is set."""
    if os.environ.get("NEO4J_URI"):
        yield {"uri": os.environ["NEO4J_URI"],
               "user": os.environ.get("NEO4J_USER") or os.environ.get("NEO4J_USERNAME") or "neo4j",
               "password": os.environ.get("NEO4J_PASSWORD", ""), "database": os.environ.get("NEO4J_DATABASE")}
        return
    from kgsolver.connectors.graph_stores.arcadedb_server import ArcadeDBServer

    with ArcadeDBServer() as server:
        yield {"uri": server.uri, "user": server.user, "password": server.password, "database": server.database}


@pytest.fixture(scope="session")
def demo_corpus() -> Path:
    return demo_corpus_dir() / "corpus.jsonl"


@pytest.fixture(scope="session")
def demo_questions() -> list[dict]:
    return [json.loads(line) for line in (demo_corpus_dir() / "questions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def demo_kb(tmp_path_factory, demo_corpus, embedder, config) -> Path:
    """The demo corpus ingested once per test run; tests must not write to it (copy it first)."""
    kb = tmp_path_factory.mktemp("demo-kb")
    ingest(demo_corpus, kb, config, embedder=embedder, show_progress=False)
    return kb


@pytest.fixture(scope="session")
def hotpot_kb(tmp_path_factory, embedder, config) -> Path:
    """The pooled paragraphs of 4 HotpotQA bridge questions, ingested with the real embedder and spaCy graph."""
    from kgsolver.evals.suites.common import write_corpus
    from kgsolver.evals.suites.hotpotqa import pooled_paragraphs
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from tests.helpers import bridge_records

    root = tmp_path_factory.getbasetemp() / "hotpot-bridge-kb"
    if not KnowledgeBase.exists(root):
        corpus = write_corpus(pooled_paragraphs(bridge_records()), root.parent / "hotpot-bridge-pool.jsonl")
        ingest(corpus, root, config, embedder=embedder, show_progress=False)
    return root


@pytest.fixture(scope="session")
def resources(hotpot_kb, embedder, config):
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from kgsolver.pipeline.multihop import AgentResources

    return AgentResources(KnowledgeBase.open(hotpot_kb), embedder, config.graph, config.agent)
