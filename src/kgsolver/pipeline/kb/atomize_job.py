"""Knowledge atomizing (PIKE-RAG): for each chunk the LLM writes the atomic questions it answers.

A background-friendly job: questions are appended to a progress log (`.atomize/progress.jsonl` in the KB folder,
flushed and fsynced per chunk) so a killed run continues where it stopped; every `checkpoint` chunks the atomic-question
index is rebuilt from the log and committed as a KB component (atomic manifest swap, under the KB write lock).
Incremental with ingest: chunks are keyed by a hash of their text, so a re-run atomizes only new or changed chunks
and drops the questions of removed ones. Replies are cached by the gateway; `workers` > 1 runs calls in parallel
(for remote OpenAI-compatible servers; the in-process llama.cpp model is used by one thread).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field
from tqdm import tqdm

from kgsolver.connectors import KGSolverError, KnowledgeBaseError
from kgsolver.connectors.llms import Budget
from kgsolver.connectors.llms.gateway import LLMGateway
from kgsolver.connectors.row_log import RowLog, read_rows
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb import ATOMIC_COMPONENT, write_lock
from kgsolver.pipeline.kb import atomize_prompt as prompt
from kgsolver.pipeline.kb.atomic_index import AtomicIndex
from kgsolver.pipeline.kb.chunking import title_text_sha1
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder

PROGRESS = Path(".atomize") / "progress.jsonl"
IN_PROCESS = {"ChatLlamaCpp", "ChatLocalTransformers"}  # one model object: calls are serialised


class AtomicQuestions(BaseModel):
    questions: list[str] = Field(default_factory=list, max_length=10)


@dataclass
class AtomizeReport:
    chunks_total: int = 0
    chunks_done_before: int = 0
    chunks_atomized: int = 0
    chunks_failed: int = 0
    questions_indexed: int = 0
    checkpoints: int = 0
    seconds: float = 0.0


def chunk_hash(title: str, text: str) -> str:
    return title_text_sha1(title, text)[:16]  # the progress log's stored form


def read_progress(root: Path) -> dict[int, dict[str, Any]]:
    """cid -> {"sha", "questions"}; the last record per chunk wins, a torn last line (killed mid-write) is skipped."""
    return read_rows(root / PROGRESS, lambda row: int(row["cid"]))


def clean_questions(questions: list[str], n: int) -> list[str]:
    out: list[str] = []
    for q in questions:
        q = " ".join(str(q).split())
        if len(q) >= 8 and q.lower() not in {o.lower() for o in out}:
            out.append(q if q.endswith("?") else q + "?")
    return out[:n]


def atomize_chunk(gateway: LLMGateway, title: str, text: str, n: int, chunk_chars: int) -> list[str]:
    session = gateway.session(Budget(max_llm_calls=2, max_tokens=None, max_seconds=None))
    messages = [SystemMessage(prompt.SYSTEM), HumanMessage(prompt.user_message(title, text[:chunk_chars], n))]
    reply, _ = session.chat_json(messages, AtomicQuestions, purpose="atomize", max_tokens=40 * n)
    return clean_questions(reply.questions, n)


def checkpoint(root: Path, embedder: Embedder, config: KGSolverConfig, *, attempts: int = 30) -> int:
    """Rebuild the index from the progress log for the KB's current chunks and commit it (compacting by the caller's
    `config`, as every writer does); returns its size."""
    for attempt in range(attempts):
        try:
            with write_lock(root):
                kb = KnowledgeBase.open(root, config)
                index = build_index(kb, read_progress(root), embedder)
                kb.stage_component(ATOMIC_COMPONENT, index.save)
                kb.commit()
                return len(index)
        except KnowledgeBaseError:
            if attempt == attempts - 1:
                raise
            time.sleep(2.0)  # an ingest holds the lock; try again
    return 0


def build_index(kb: KnowledgeBase, progress: dict[int, dict[str, Any]], embedder: Embedder) -> AtomicIndex:
    old_path = kb.component_path(ATOMIC_COMPONENT)
    known = AtomicIndex.load(old_path).vector_map() if old_path else {}
    cids, questions, hashes = [], [], {}
    for cid, chunk in kb.chunks.items():
        row = progress.get(cid)
        if row and row["sha"] == chunk_hash(chunk.title, chunk.text):
            hashes[cid] = row["sha"]
            for q in row["questions"]:
                cids.append(cid)
                questions.append(q)
    missing = [i for i, key in enumerate(zip(cids, questions, strict=True)) if key not in known]
    vectors = embedder.encode([questions[i] for i in missing]) if missing else None
    fresh = {i: vectors[j] for j, i in enumerate(missing)} if vectors is not None else {}
    dims = kb.manifest["embedder"]["dimensions"]
    matrix = np.zeros((len(questions), dims), dtype=np.float32)
    for i, key in enumerate(zip(cids, questions, strict=True)):
        matrix[i] = fresh[i] if i in fresh else known[key]
    return AtomicIndex(cids, questions, matrix, hashes)


def _todo(kb: KnowledgeBase, progress: dict[int, dict[str, Any]]) -> list[int]:
    return [cid for cid, c in kb.chunks.items()
            if progress.get(cid, {}).get("sha") != chunk_hash(c.title, c.text)]


def atomize_kb(kb_dir: str | Path, gateway: LLMGateway, embedder: Embedder, config: KGSolverConfig, *,
               questions: int | None = None, checkpoint_every: int | None = None, workers: int | None = None,
               chunk_chars: int | None = None, limit: int | None = None, show_progress: bool = True) -> AtomizeReport:
    """Atomize the chunks not done yet; each setting left None is the caller's `config.agent.atomize_*`, and every
    checkpoint commits by `config` too."""
    a = config.agent
    questions, checkpoint_every = questions or a.atomize_questions, checkpoint_every or a.atomize_checkpoint
    workers, chunk_chars = workers or a.atomize_workers, chunk_chars or a.atomize_chunk_chars
    root, started = Path(kb_dir), time.perf_counter()
    kb = KnowledgeBase.open(root)
    progress = read_progress(root)
    todo = _todo(kb, progress)
    report = AtomizeReport(chunks_total=len(kb.chunks), chunks_done_before=len(kb.chunks) - len(todo))
    todo = todo[:limit] if limit is not None else todo
    (root / PROGRESS).parent.mkdir(exist_ok=True)
    if type(gateway.backend.model).__name__ in IN_PROCESS:
        workers = 1  # one in-process llama.cpp model cannot serve two threads

    def work(cid: int) -> tuple[int, list[str] | None]:
        chunk = kb.chunks[cid]
        try:
            return cid, atomize_chunk(gateway, chunk.title, chunk.text, questions, chunk_chars)
        except KGSolverError:
            return cid, None

    with RowLog(root / PROGRESS) as log, ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(todo), unit="chunk", desc="atomize", disable=not show_progress) as bar:
        for start in range(0, len(todo), checkpoint_every):
            for cid, qs in pool.map(work, todo[start:start + checkpoint_every]):
                bar.update(1)
                if qs is None:
                    report.chunks_failed += 1
                    continue
                chunk = kb.chunks[cid]
                log.write({"cid": cid, "sha": chunk_hash(chunk.title, chunk.text), "questions": qs})
                report.chunks_atomized += 1
            report.questions_indexed = checkpoint(root, embedder, config)
            report.checkpoints += 1
    if not todo:
        report.questions_indexed = checkpoint(root, embedder, config)
        report.checkpoints += 1
    report.seconds = time.perf_counter() - started
    return report

