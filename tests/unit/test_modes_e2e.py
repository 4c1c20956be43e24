"""A whole question through each mode (naive, pike, ksl, agent) on a five-document knowledge base in a tmp folder:
the real ingest (a one-chunk-per-document engine, the spaCy graph), the real Solver, answer step, filters and policy;
a hashing embedder and the shared fake chat model (tests/unit/fakes.py) at the seams. Each question runs in well
under a second."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.corpus_documents import SourceDocument
from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.answer.generate import SYSTEM_PROMPT
from kgsolver.pipeline.answer.preference import PARAMETRIC_PROMPT
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.engine import Processed
from kgsolver.pipeline.kb.ingest import ingest_documents
from kgsolver.pipeline.multihop import decomposition_prompt, kg_walker_prompt
from kgsolver.pipeline.solver import Solver
from tests.unit.fakes import HashingEmbedder, chat_of, fake_gateway

DOCS = {
    "Zorvan Keel": "Zorvan Keel is a rock band formed in the city of Belmora in 1989. The band released the album "
                   "Glass Orchard.",
    "Belmora": "Belmora is a coastal city. Belmora was founded by the sculptor Idris Vane.",
    "Glass Orchard": "Glass Orchard is the second album by Zorvan Keel, released in 1994.",
    "Tannery Row": "Tannery Row is a street in Oskvar known for its leather workshops.",
    "Oskvar": "Oskvar is an inland town with a cathedral and a river port.",
}
QUESTION = "Who founded the city where Zorvan Keel was formed?"
ANSWER = "Idris Vane"


def one_chunk_engine(changed, embedder, config, show_progress, kb) -> Processed:
    chunks = [Chunk(f"{d.id}#0", d.id, d.title, d.text, 0, len(d.text)) for d in changed]
    return Processed(chunks, embedder.encode([c.indexed_text() for c in chunks]))


GATHERING = (decomposition_prompt.PROPOSE_SYSTEM, decomposition_prompt.SELECT_SYSTEM, kg_walker_prompt.SYSTEM)


def reply(messages: list[BaseMessage]) -> str:
    """The fake model's replies, by the step that asks (its system prompt)."""
    system = str(messages[0].content)
    if system.startswith(SYSTEM_PROMPT[:40]):
        return '{"answer": "Idris Vane", "passages": [1, 2]}'
    if system == PARAMETRIC_PROMPT:
        return '{"answer": "unknown", "confidence": 0}'
    if system == decomposition_prompt.PROPOSE_SYSTEM:
        return '{"answerable": false, "sub_question": "Who founded Belmora?"}'
    if system == decomposition_prompt.SELECT_SYSTEM:
        return '{"useful": [1]}'
    if system == kg_walker_prompt.SYSTEM:
        return '{"choice": 1}'
    raise AssertionError(f"an LLM step the test does not script: {system[:80]!r}")


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("kb")
    documents = [SourceDocument(id=title, title=title, text=text) for title, text in DOCS.items()]
    ingest_documents(documents, root, KGSolverConfig(), embedder=HashingEmbedder(), show_progress=False,
                     engine=one_chunk_engine)
    return root


def solver_for(kb_dir) -> Solver:
    return Solver(kb_dir, KGSolverConfig(), embedder=HashingEmbedder(), gateway=fake_gateway(reply))


@pytest.mark.parametrize("mode", ["naive", "pike", "ksl", "agent"])
def test_a_whole_question_through_each_mode(mode, kb_dir):
    solver = solver_for(kb_dir)
    solver.ask("Where is Oskvar?", mode=mode)  # warm: the KB opened, the graph and linkers loaded once per process
    chat = chat_of(solver.gateway.session())
    chat.calls.clear()
    budget = Budget(max_llm_calls=5)
    started = time.perf_counter()
    result = solver.ask(QUESTION, mode=mode, budget=budget)
    assert time.perf_counter() - started < 1.0

    assert result.answer == ANSWER and not result.abstained  # the fake's grounded reply, through the answer step
    assert {"Zorvan Keel", "Belmora"} <= {e.title for e in result.evidence}
    assert "Belmora" in {c.title for c in result.citations}
    # The split: the policy keeps 2 calls (grounded + closed-book) for the answer; gathering spends at most the rest.
    systems = [str(c.messages[0].content) for c in chat.calls]
    gathering = [s for s in systems if s in GATHERING]
    answering = [s for s in systems if s not in GATHERING]
    assert len(answering) == 2 and len(gathering) <= budget.max_llm_calls - 2
    assert systems[-len(answering):] == answering  # gathering first, then the answer
    assert result.usage.llm_calls == len(chat.calls) <= budget.max_llm_calls
    if mode == "naive":
        assert not gathering
    if mode in ("pike", "agent"):
        assert decomposition_prompt.PROPOSE_SYSTEM in gathering
    tools = {step.tool for step in result.trace}
    if mode in ("ksl", "agent"):  # the spaCy graph: ksl walks it, agent ranks passages by PageRank over it
        assert ("kg_walk" if mode == "ksl" else "ppr") in tools


@pytest.mark.parametrize("mode", ["naive", "pike", "ksl", "agent"])
def test_gather_is_the_evidence_without_an_answer_call(mode, kb_dir):
    solver = solver_for(kb_dir)
    asked = solver.ask(QUESTION, mode=mode, budget=Budget(max_llm_calls=0))
    chat = chat_of(solver.gateway.session())
    gathered = solver.gather(QUESTION, mode, budget=Budget(max_llm_calls=0))
    assert [d.metadata["chunk_id"] for d in gathered.listed] == [e.chunk_id for e in asked.evidence]
    assert gathered.trace and not chat.calls
    systems = []
    solver.gather(QUESTION, mode, budget=Budget(max_llm_calls=5))
    systems = [str(c.messages[0].content) for c in chat.calls]
    assert all(s in GATHERING for s in systems) and len(systems) <= 3  # 2 calls kept for an answer never made


# The project modules one agent question imports, with the CLI's (`kgsolver ask`): 41 here, 86 before issue 34's
# merges of small modules by role (config, retrieval, the multi-hop tools with the first hop, the filters by what they
# act on, the LLM cache into the gateway, the graph settings, the chunk beside its store), and each package's shared
# code moved into its `__init__` (errors and registry, the graph stores' model, the answer's contracts, the KB's files
# and ids, the multi-hop evidence and resources, the filter chain); 115 before its lazy imports. A module the question
# does not need (ingest and the chunker, compaction, the graph's writer and entity resolution, the atomic index of a
# KB never atomized, the KG walk at an LLM budget of 0, corpus readers, the LLM backend and model registry, the facts
# code, the other CLI commands and the eval suites) stays out.
AGENT_QUESTION_MODULES = 41
_COUNT = """
import json
import sys
from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.serve import cli  # noqa: F401 (what `kgsolver ask` imports first)
from kgsolver.pipeline.solver import Solver
from tests.unit.fakes import HashingEmbedder

solver = Solver(sys.argv[1], KGSolverConfig(llm_cache=False), embedder=HashingEmbedder())
solver.ask(sys.argv[2], mode="agent", budget=Budget(max_llm_calls=0))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("kgsolver."))))
"""


def test_an_agent_question_imports_only_what_it_needs(kb_dir):
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _COUNT, str(kb_dir), QUESTION], cwd=root, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    modules = json.loads(out)
    assert len(modules) <= AGENT_QUESTION_MODULES, f"{len(modules)} project modules:\n" + "\n".join(modules)
    for unneeded in ("kgsolver.pipeline.kb.ingest", "kgsolver.pipeline.kb.merge", "kgsolver.pipeline.kb.graph_build",
                     "kgsolver.graphs.resolution", "kgsolver.pipeline.multihop.kg_walk",
                     "kgsolver.connectors.corpus_readers", "kgsolver.connectors.llms.factory",
                     "kgsolver.connectors.llms.registry", "kgsolver.pipeline.kb.chunking",
                     "kgsolver.graphs.kg_facts", "kgsolver.pipeline.serve.cli_eval", "kgsolver.evals",
                     "kgsolver.connectors.graph_stores.journal", "kgsolver.pipeline.multihop.decomposition_prompt",
                     "kgsolver.pipeline.kb.atomic_index"):
        assert unneeded not in modules
