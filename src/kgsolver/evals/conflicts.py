"""Knowledge conflicts: what a system answers when its context disagrees with the truth or with the user.

Four conditions over questions whose gold passages we have (HotpotQA distractor 200, KILT mini):
- intact (control): the gold passages as they are; the answer equals the gold answer (reading ability, so that the
  counterfactual rate can also be read on the questions the system answers correctly when nothing is edited);
- counterfactual: the gold answer in the gold passages is replaced by another answer of the same kind (KAFT);
  context adherence = the answer follows the edited context (controllability);
- irrelevant: only random passages from other questions; robustness = the answer equals the closed-book answer;
- assumption: the gold passages are intact, the user states (`--assume`) the counterfactual's edited sentences, the
  ones nearest the question first, at most 3; the rate = the answer follows the assumption.
Systems: the default preference policy (filters + policy, the naive mode's path minus retrieval), a plain RAG prompt
(evals/conflicts_prompt.py, the assumption prepended to the context), and closed-book (question only).

The questions, their substitutes, the irrelevant passages and the alias sets are frozen in `data/conflicts40.jsonl`
(made offline by evals/scripts/freeze_conflicts.py); the gold passages are read from the shared datasets by id.
The suite is `kgsolver eval conflicts` (evals/suites/conflicts.py); tables: evals/conflicts_table.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from pydantic import BaseModel

from kgsolver.connectors import KGSolverError, StructuredOutputError, malformed_json
from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.llms import Budget
from kgsolver.connectors.llms.gateway import LLMGateway
from kgsolver.connectors.text import normal, split_sentences, title_name
from kgsolver.evals.conflicts_prompt import plain_rag_messages
from kgsolver.evals.datasets import HOTPOTQA_200, KILT_CORPUS, KILT_QUESTIONS, dataset_path, kilt_answers, read_jsonl
from kgsolver.pipeline.answer.preference import closed_book_answer
from kgsolver.pipeline.answer.step import answer_passages
from kgsolver.pipeline.config import KGSolverConfig

CONDITIONS = ("intact", "counterfactual", "irrelevant", "assumption")
SYSTEMS = ("default", "plain_rag", "closed_book")
DATA_FILE = Path(__file__).resolve().parent / "data" / "conflicts40.jsonl"


@dataclass
class ConflictSample:
    qid: str
    question: str
    answer: str
    gold: list[tuple[str, str]]  # (title, text)
    kind: str = ""  # HotpotQA question type (bridge | comparison); empty for KILT
    substitute: str = ""
    substitute_kind: str = ""  # the entity label (or surface kind) that answer and substitute share
    irrelevant: list[tuple[str, str]] = field(default_factory=list)
    source: str = "hotpotqa"  # hotpotqa | kilt: where the gold passages come from
    answer_aliases: list[str] = field(default_factory=list)
    substitute_aliases: list[str] = field(default_factory=list)
    verdict: str = "unaudited"  # a reader's judgement of the substitute: plausible | implausible | alias

    def counterfactual(self) -> list[tuple[str, str]]:
        """Every mention of the answer replaced, and the page about the answer renamed, its title's name replaced
        in every passage too (else "Lee Hazlewood: Harry Lee (born 1929) ..." and "written by Lee Hazlewood" still
        name the original answer)."""
        answer = normal(self.answer)
        about = {t for t, _ in self.gold if (key := normal(title_name(t))) and (key in answer or answer in key)}
        names = sorted({self.answer} | {title_name(t) for t in about}, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(n) for n in names), re.I)
        return [(self.substitute if t in about else t, pattern.sub(self.substitute, x)) for t, x in self.gold]

    def answer_sentence(self) -> tuple[int, str] | None:
        """(index of the gold passage, its first sentence that names the answer)."""
        for i, (_, text) in enumerate(self.gold):
            for sentence in split_sentences(text):
                if self.answer.lower() in sentence.lower():
                    return i, sentence
        return None

    def assumptions(self, max_facts: int = 3) -> list[str]:
        """What the user states (`--assume`, one fact each): the sentences the counterfactual edit changed, those
        sharing most words with the question first; a sentence that does not name its page is prefixed by the
        (renamed) page title, so "It stars ..." still says what "it" is. One edited sentence is not enough: the
        first to name the answer is often not the one the question asks about ("In 2008, X signed with Interscope"
        leaves "In 2011, Wale signed with Maybach" intact), and the answer would rightly stay the same."""
        edited = []
        for (title, text), (_, original) in zip(self.counterfactual(), self.gold, strict=True):
            unchanged = set(split_sentences(original))
            for sentence in split_sentences(text):
                if sentence not in unchanged and normal(self.substitute) in normal(sentence):
                    named = normal(title_name(title)) in normal(sentence)
                    edited.append(sentence if named else f"{title_name(title)}: {sentence}")
        if not edited:
            return [f"The answer to \"{self.question}\" is {self.substitute}."]
        question = set(normal(self.question).split())
        edited.sort(key=lambda x: -len(question & set(normal(x).split())))  # stable: passage order among ties
        return edited[:max_facts]

    def passages(self, condition: str) -> list[tuple[str, str]]:
        return {"counterfactual": self.counterfactual(), "irrelevant": self.irrelevant}.get(condition, self.gold)

    def targets(self, condition: str, closed: str | None) -> list[str]:
        """What following the condition answers, with its aliases: the gold answer (intact), the closed-book answer
        (irrelevant), else the substitute."""
        if condition == "intact":
            return [self.answer, *self.answer_aliases]
        if condition == "irrelevant":
            return [closed] if closed else []
        return [self.substitute, *self.substitute_aliases]


def source_samples(source: str, data_dir: Path | None = None) -> list[ConflictSample]:
    """Every question of one source with its gold passages: HotpotQA's supporting pages, KILT's provenance pages."""
    if source == "hotpotqa":
        out = []
        for r in read_jsonl(dataset_path(HOTPOTQA_200, data_dir)):
            gold_titles = {t for t, _ in r["supporting_facts"]}
            gold = [(t, " ".join(s)) for t, s in r["context"] if t in gold_titles]
            out.append(ConflictSample(r["_id"], r["question"], r["answer"], gold, kind=r.get("type", "")))
        return out
    corpus: dict[str, str] = {}
    for row in read_jsonl(dataset_path(KILT_CORPUS, data_dir)):
        corpus.setdefault(row["title"], row["text"])
    out = []
    for r in read_jsonl(dataset_path(KILT_QUESTIONS, data_dir)):
        titles = {p["title"] for o in r.get("output", []) for p in o.get("provenance", [])}
        gold = [(t, corpus[t]) for t in sorted(titles) if t in corpus]
        if (answers := kilt_answers(r)) and gold:
            out.append(ConflictSample(r["id"], r["input"], answers[0], gold, source="kilt"))
    return out


_FROZEN = ("qid", "source", "question", "answer", "answer_aliases", "substitute", "substitute_aliases",
           "substitute_kind", "verdict", "irrelevant")


def load_samples(data_dir: Path | None = None, limit: int | None = None,
                 path: Path = DATA_FILE) -> list[ConflictSample]:
    """The frozen questions (the first `limit`), their gold passages joined from the datasets by id; a row that is
    malformed or no longer agrees with the dataset is refused with its file and line."""
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KGSolverError(malformed_json(path, lineno, exc)) from exc
        if missing := [k for k in _FROZEN if k not in row]:
            raise KGSolverError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
        rows.append((lineno, row))
    rows = rows[:limit]
    pools = {s: {x.qid: x for x in source_samples(s, data_dir)} for s in {r["source"] for _, r in rows}}
    out = []
    for lineno, row in rows:
        base = pools[row["source"]].get(row["qid"])
        if base is None or (base.question, base.answer) != (row["question"], row["answer"]):
            raise KGSolverError(f"{path}:{lineno}: question {row['qid']} ({row['source']}) is not in the dataset "
                                "as frozen; re-run evals/scripts/freeze_conflicts.py")
        out.append(ConflictSample(base.qid, base.question, base.answer, base.gold, kind=base.kind,
                                  substitute=row["substitute"], substitute_kind=row["substitute_kind"],
                                  irrelevant=[(t, x) for t, x in row["irrelevant"]], source=row["source"],
                                  answer_aliases=row["answer_aliases"], substitute_aliases=row["substitute_aliases"],
                                  verdict=row["verdict"]))
    return out


def _tokens(text: str | None) -> list[str]:
    """SQuAD's answer normalisation (lower case, no punctuation, no articles), punctuation breaking words as in
    connectors/text.normal ("fruit-Nassau" is two words, "2003–2006" = "2003-2006")."""
    return [w for w in normal(text or "").split() if w not in ("a", "an", "the")]


def _within(short: list[str], long: list[str]) -> bool:
    return any(long[i:i + len(short)] == short for i in range(len(long) - len(short) + 1))


def matches(prediction: str | None, targets: str | Iterable[str] | None) -> bool:
    """The one rule: after normalisation, some spelling of the target (an alias set; other spellings such as
    "UDC" or "1969 until 1974" are data, stored with the frozen questions) is a run of the prediction's words,
    or the prediction a run of its words."""
    words = _tokens(prediction)
    spellings = [targets] if isinstance(targets, str) or targets is None else list(targets)
    return bool(words) and any(t and (_within(t, words) or _within(words, t)) for t in map(_tokens, spellings))


def same_answer(a: str | None, b: str | None) -> bool:
    """Both abstain / unknown, or the same answer by `matches`."""
    return (not a and not b) or matches(a, b)


def is_followed(condition: str, answer: str | None, targets: list[str]) -> bool:
    """Irrelevant context: the answer is the closed-book one (both may abstain); otherwise it matches the target."""
    if condition == "irrelevant":
        return same_answer(answer, targets[0] if targets else None)
    return matches(answer, targets)


class _PlainReply(BaseModel):
    answer: str


def _docs(passages: list[tuple[str, str]]) -> list[Document]:
    return [Document(page_content=text, metadata={"doc_id": f"p{i}", "chunk_id": f"p{i}", "title": title, "score": 0.0})
            for i, (title, text) in enumerate(passages)]


def run_default(gateway: LLMGateway, embedder: Embedder, config: KGSolverConfig, question: str,
                passages: list[tuple[str, str]], assumptions: list[str], policy: str | None = None) -> str | None:
    session = gateway.session(Budget(**config.budget.model_dump()))
    return answer_passages(question, _docs(passages), session=session, config=config, embedder=embedder,
                           assumptions=assumptions, policy=policy).answer


def run_plain_rag(gateway: LLMGateway, question: str, passages: list[tuple[str, str]],
                  assumptions: list[str]) -> str | None:
    texts = list(assumptions) + [f"{t}: {x}" for t, x in passages]
    try:
        reply, _ = gateway.session(Budget(max_llm_calls=2)).chat_json(
            plain_rag_messages(question, texts), _PlainReply, purpose="plain rag", max_tokens=48)
    except StructuredOutputError:  # a reply cut off mid-JSON is no answer (scored a miss), not the end of the run
        return None
    return None if normal(reply.answer) in {"", "unknown"} else reply.answer


def run_closed_book(gateway: LLMGateway, config: KGSolverConfig, question: str) -> str | None:
    try:
        return closed_book_answer(gateway.session(Budget(max_llm_calls=2)), question,
                                  max_tokens=config.preference.parametric_max_tokens).answer
    except StructuredOutputError:
        return None


def answer_condition(sample: ConflictSample, condition: str, gateway: LLMGateway, embedder: Embedder,
                     config: KGSolverConfig,
                     systems: Iterable[str] = SYSTEMS, closed: str | None = None) -> list[dict[str, Any]]:
    """One record per system: its answer under the condition, the target and whether it follows it. The
    closed-book answer is the irrelevant condition's target, so it is asked even when that system is not run
    (pass `closed` to reuse it; the gateway's cache makes a repeat free)."""
    if closed is None:
        closed = run_closed_book(gateway, config, sample.question)
    passages = sample.passages(condition)
    assumptions = sample.assumptions() if condition == "assumption" else []
    targets = sample.targets(condition, closed)
    records = []
    for system in systems:
        if system == "default":
            answer = run_default(gateway, embedder, config, sample.question, passages, assumptions)
        elif system == "plain_rag":
            answer = run_plain_rag(gateway, sample.question, passages, assumptions)
        else:
            answer = closed
        records.append({"qid": sample.qid, "condition": condition, "system": system, "answer": answer,
                        "target": targets[0] if targets else None, "ok": is_followed(condition, answer, targets)})
    return records


def evaluate(samples: list[ConflictSample], gateway: LLMGateway, embedder: Embedder, config: KGSolverConfig, *,
             conditions: Sequence[str] = CONDITIONS, systems: Sequence[str] = SYSTEMS) -> dict[str, Any]:
    """Every sample under every condition, in process (the suite runs the same per item): `tabulate`'s result."""
    from kgsolver.evals.conflicts_table import tabulate

    records = []
    for sample in samples:
        closed = run_closed_book(gateway, config, sample.question)
        for condition in conditions:
            records += answer_condition(sample, condition, gateway, embedder, config, systems, closed)
    return tabulate(records, len(samples), conditions, systems)
