"""The Python entry point: open a knowledge base, pick an LLM, ask questions.

    solver = Solver("kb/")
    result = solver.ask("Which band ...?")          # AskResult
    gathered = solver.gather("Which band ...?", "agent")   # Gathered: the mode's evidence, no answer LLM call
    docs = solver.retriever().invoke("...")         # a LangChain retriever returning Documents
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from kgsolver.connectors.embedders import Embedder, load_query_embedder
from kgsolver.connectors.llms import Budget
from kgsolver.connectors.llms.gateway import LLMGateway, TokenListener
from kgsolver.pipeline.answer import AnswerMode, AskResult, Gathered, QuestionInputs, StepListener
from kgsolver.pipeline.config import KGSolverConfig, build_gateway
from kgsolver.pipeline.kb import manifest_stamp
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.retrieval import BM25Retriever, DenseRetriever, HybridRetriever, QueryVectors


class Solver:
    def __init__(self, kb_dir: str | Path, config: KGSolverConfig | None = None, *, llm: str | None = None,
                 embedder: Embedder | None = None, gateway: LLMGateway | None = None):
        self.config = (config or KGSolverConfig()).model_copy(deep=True)
        if llm:
            self.config.llm.name = llm
        self.kb_dir = Path(kb_dir)
        self._embedder = embedder
        self._gateway = gateway
        self._current: tuple[tuple[int, int, int], KnowledgeBase, QueryVectors] | None = None
        self._reload_lock = threading.Lock()

    def _generation(self) -> tuple[KnowledgeBase, QueryVectors]:
        """The knowledge base's current generation and the query vectors over it. A long-lived Solver (the API)
        stats the manifest once per call and reopens after a commit; a question already running keeps the
        generation it started with (its lease holds that generation's files until it drops the object)."""
        stamp = manifest_stamp(self.kb_dir)  # taken before opening: a commit racing the open means one more reload
        with self._reload_lock:
            if self._current is None or self._current[0] != stamp:
                kb = KnowledgeBase.open(self.kb_dir)
                kb.require_embedder(self.embedder, "set embedder.model_path (KGSOLVER_EMBEDDER__MODEL_PATH) to the "
                                    "model it was built with")
                self._current = (stamp, kb, QueryVectors(self.embedder, kb, self.config.embedder.memo_size))
            return self._current[1], self._current[2]

    @property
    def kb(self) -> KnowledgeBase:
        return self._generation()[0]

    @cached_property
    def embedder(self) -> Embedder:
        """What encodes questions: by default the torch-free GGUF runtime of the model ingest used."""
        settings = self.config.embedder
        if self._embedder is not None:
            return self._embedder
        if settings.query_runtime == "gguf":  # llama.cpp: the LLM's build must be chosen before its first import
            from kgsolver.connectors.llms.factory import choose_llama_build  # the backends' module: only here

            choose_llama_build(self.config.llm, self.config.cache_dir)
        return load_query_embedder(settings.model_path, runtime=settings.query_runtime, cache_dir=self.config.cache_dir,
                                   n_threads=settings.query_threads, device=settings.device)

    @cached_property
    def gateway(self) -> LLMGateway:
        return self._gateway if self._gateway is not None else build_gateway(self.config)

    @property
    def vectors(self) -> QueryVectors:
        """The embedder as questions use it: each text encoded once, stored chunk and sentence vectors reused."""
        return self._generation()[1]

    def retriever(self, k: int | None = None) -> HybridRetriever:
        return self._retriever(*self._generation(), k)

    def _retriever(self, kb: KnowledgeBase, vectors: QueryVectors, k: int | None = None) -> HybridRetriever:
        r = self.config.retrieval
        k = k or r.top_k
        return HybridRetriever(
            kb=kb, k=k, candidates=r.candidates, rrf_k=r.rrf_k,
            retrievers=[DenseRetriever(kb=kb, embedder=vectors, k=k), BM25Retriever(kb=kb, k=k)],
        )

    def ask(self, question: str, *, mode: str = "naive", budget: Budget | None = None,
            assumptions: list[str] | None = None, policy: str | None = None, on_step: StepListener | None = None,
            on_token: TokenListener | None = None) -> AskResult:
        """`on_step` gets each trace step as it ends, `on_token` (purpose, text) each piece of every LLM reply as it
        is generated; both are called on the asking thread."""
        from kgsolver.pipeline.answer.step import answer_question

        inputs, answer_mode = self._question(question, mode, budget, assumptions, policy, on_step, on_token)
        result = answer_question(question, inputs, answer_mode)
        result.usage = inputs.session.usage.model_copy()
        return result

    def gather(self, question: str, mode: str = "naive", *, budget: Budget | None = None,
               assumptions: list[str] | None = None, policy: str | None = None) -> Gathered:
        """The evidence `ask` would gather for the question in this mode (the same budget split), without answering:
        for evaluations and benchmarks that score retrieval. Gathering may still call the LLM where the mode does
        (decomposition, KG walk), within the calls the answer would have left it."""
        from kgsolver.pipeline.answer.step import gather

        inputs, answer_mode = self._question(question, mode, budget, assumptions, policy, None, None)
        return gather(question, inputs, answer_mode)

    def _question(self, question: str, mode: str, budget: Budget | None, assumptions: list[str] | None,
                  policy: str | None, on_step: StepListener | None,
                  on_token: TokenListener | None) -> tuple[QuestionInputs, AnswerMode]:
        from kgsolver.pipeline.modes import get_mode

        if not question.strip():
            raise ValueError("the question is empty")
        answer_mode = get_mode(mode)
        session = self.gateway.session(budget or self.config.budget, on_token=on_token)
        kb, vectors = self._generation()  # one generation for the whole question
        inputs = QuestionInputs(kb, vectors, session, self.config, lambda: self._retriever(kb, vectors),
                                assumptions=tuple(assumptions or ()), policy=policy, on_step=on_step)
        return inputs, answer_mode
