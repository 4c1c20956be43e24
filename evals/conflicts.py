"""Knowledge-conflict evaluation over questions whose gold passages we have (HotpotQA distractor 200, KILT mini).

Three conditions, built from the shared data (no downloads):
- counterfactual: the gold answer in the gold passages is replaced by another answer of the same kind (KAFT);
  context adherence = the answer follows the edited context (controllability);
- irrelevant: only random passages from other questions; robustness = the answer equals the closed-book answer;
- assumption: the gold passages are intact, the user states (`--assume`) the answer sentence with the substitute;
  the rate = the answer follows the assumption.
Systems: the default preference policy (filters + policy, the naive mode's path minus retrieval), a plain RAG prompt
(evals/conflicts_prompt.py, the assumption prepended to the context), and closed-book (question only).

    python -m kgsolver.evals.conflicts --limit 10 --llm qwen2.5-coder-0.5b-instruct
"""

from __future__ import annotations

import argparse
import random
import re
import time
from dataclasses import dataclass, field

from langchain_core.documents import Document
from pydantic import BaseModel

from kgsolver.connectors.llms.gateway import Budget, LLMGateway
from kgsolver.evals.conflicts_prompt import plain_rag_messages
from kgsolver.evals.datasets import HOTPOTQA_200, KILT_CORPUS, KILT_QUESTIONS, dataset_path, kilt_answers, read_jsonl
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.filters.base import normal, split_sentences
from kgsolver.pipeline.filters.chain import build_filter_chain
from kgsolver.pipeline.preference import get_policy
from kgsolver.pipeline.preference.base import PreferenceInputs
from kgsolver.pipeline.preference.parametric import closed_book_answer

CONDITIONS = ("counterfactual", "irrelevant", "assumption")
SYSTEMS = ("default", "plain_rag", "closed_book")


@dataclass
class ConflictSample:
    qid: str
    question: str
    answer: str
    gold: list[tuple[str, str]]  # (title, text)
    substitute: str = ""
    irrelevant: list[tuple[str, str]] = field(default_factory=list)

    def counterfactual(self) -> list[tuple[str, str]]:
        pattern = re.compile(re.escape(self.answer), re.I)
        return [(t, pattern.sub(self.substitute, x)) for t, x in self.gold]

    def assumption(self) -> str:
        for _, text in self.gold:
            for sentence in split_sentences(text):
                if self.answer.lower() in sentence.lower():
                    return re.sub(re.escape(self.answer), self.substitute, sentence, flags=re.I)
        return f"The answer to \"{self.question}\" is {self.substitute}."


_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = re.compile(rf"(\d{{1,2}} )?({_MONTH} )?(\d{{1,2}}, )?\d{{3,4}}|{_MONTH} \d{{1,2}}", re.I)


def answer_kind(answer: str) -> str:
    if _DATE.fullmatch(answer.strip()):
        return "date"
    if re.fullmatch(r"[\d,.\s%]+", answer):
        return "number"
    words = [w for w in answer.split() if w.lower() not in {"the", "of", "and", "de", "a"}]
    if words and all(w[:1].isupper() or w[:1].isdigit() for w in words):
        return "name" + ("1" if len(words) == 1 else "+")
    return "other"


def _hotpot_samples() -> list[ConflictSample]:
    out = []
    for r in read_jsonl(dataset_path(HOTPOTQA_200)):
        gold_titles = {t for t, _ in r["supporting_facts"]}
        gold = [(t, " ".join(s)) for t, s in r["context"] if t in gold_titles]
        out.append(ConflictSample(r["_id"], r["question"], r["answer"], gold))
    return out


def _kilt_samples() -> list[ConflictSample]:
    corpus: dict[str, str] = {}
    for row in read_jsonl(dataset_path(KILT_CORPUS)):
        corpus.setdefault(row["title"], row["text"])
    out = []
    for r in read_jsonl(dataset_path(KILT_QUESTIONS)):
        titles = {p["title"] for o in r.get("output", []) for p in o.get("provenance", [])}
        gold = [(t, corpus[t]) for t in sorted(titles) if t in corpus]
        answers = kilt_answers(r)
        if answers and gold:
            out.append(ConflictSample(r["id"], r["input"], answers[0], gold))
    return out


def build_samples(limit: int, seed: int = 0, source: str = "both") -> list[ConflictSample]:
    """Questions whose answer occurs in the gold passages (not yes/no), each with a same-kind substitute answer
    and three random unrelated passages; deterministic for a seed. Alternates HotpotQA and KILT with `both`."""
    pools = {"hotpotqa": _hotpot_samples, "kilt": _kilt_samples}
    chosen = [pools[s]() for s in (("hotpotqa", "kilt") if source == "both" else (source,))]
    rng = random.Random(seed)
    everything = [s for pool in chosen for s in pool]
    passages = [p for s in everything for p in s.gold]
    usable = [[s for s in pool if normal(s.answer) not in {"yes", "no"} and len(normal(s.answer)) > 1
               and any(s.answer.lower() in text.lower() for _, text in s.gold)] for pool in chosen]
    for pool in usable:
        rng.shuffle(pool)
    ordered = [s for group in zip(*usable) for s in group] if len(usable) > 1 else usable[0]
    samples = []
    for s in ordered:
        text = normal(" ".join(t for _, t in s.gold))
        same_kind = [o.answer for o in everything if answer_kind(o.answer) == answer_kind(s.answer)
                     and normal(o.answer) not in text and normal(s.answer) not in normal(o.answer)
                     and normal(o.answer) not in {"yes", "no"}
                     and abs(len(o.answer.split()) - len(s.answer.split())) <= 1]
        if not same_kind:
            continue
        s.substitute = rng.choice(sorted(set(same_kind)))
        titles = {t for t, _ in s.gold}
        s.irrelevant = rng.sample([p for p in passages if p[0] not in titles and normal(s.answer) not in normal(p[1])], 3)
        samples.append(s)
        if len(samples) >= limit:
            break
    return samples


def matches(prediction: str | None, target: str | None) -> bool:
    p, t = normal(prediction or ""), normal(target or "")
    if not p or not t:
        return False
    return t in p or (len(p) >= 3 and p in t)


def same_answer(a: str | None, b: str | None) -> bool:
    """Both abstain / unknown, or the same answer after normalisation (or one containing the other)."""
    if not a and not b:
        return True
    return matches(a, b)


class _PlainReply(BaseModel):
    answer: str


def _docs(passages: list[tuple[str, str]]) -> list[Document]:
    return [Document(page_content=text, metadata={"doc_id": f"p{i}", "chunk_id": f"p{i}", "title": title, "score": 0.0})
            for i, (title, text) in enumerate(passages)]


def run_default(gateway, embedder, config: KGSolverConfig, question, passages, assumptions, policy=None) -> str | None:
    session = gateway.session(Budget(**config.budget.model_dump()))
    chain = build_filter_chain(config.filters, embedder, session=session, user_facts=assumptions)
    inputs = PreferenceInputs(question=question, session=session, settings=config.preference, assumptions=assumptions,
                              retrieve=lambda: chain.run(question, _docs(passages)).documents, embedder=embedder)
    outcome = get_policy(policy or config.preference.policy).resolve(inputs)
    return outcome.answer


def run_plain_rag(gateway, question, passages, assumptions) -> str | None:
    texts = list(assumptions) + [f"{t}: {x}" for t, x in passages]
    reply, _ = gateway.session(Budget(max_llm_calls=2)).chat_json(
        plain_rag_messages(question, texts), _PlainReply, purpose="plain rag", max_tokens=48)
    return None if normal(reply.answer) in {"", "unknown"} else reply.answer


def run_closed_book(gateway, config, question) -> str | None:
    return closed_book_answer(gateway.session(Budget(max_llm_calls=2)), question,
                              max_tokens=config.preference.parametric_max_tokens).answer


def evaluate(samples, gateway: LLMGateway, embedder, config: KGSolverConfig, *, conditions=CONDITIONS,
             systems=SYSTEMS, on_record=None) -> dict:
    """Per condition and system: the rate (and the per-sample records)."""
    hits = {(c, s): [] for c in conditions for s in systems}
    records = []
    for sample in samples:
        closed = run_closed_book(gateway, config, sample.question)
        for condition in conditions:
            passages = {"counterfactual": sample.counterfactual(), "irrelevant": sample.irrelevant,
                        "assumption": sample.gold}[condition]
            assumptions = [sample.assumption()] if condition == "assumption" else []
            for system in systems:
                if system == "default":
                    answer = run_default(gateway, embedder, config, sample.question, passages, assumptions)
                elif system == "plain_rag":
                    answer = run_plain_rag(gateway, sample.question, passages, assumptions)
                else:
                    answer = closed
                ok = same_answer(answer, closed) if condition == "irrelevant" else matches(answer, sample.substitute)
                hits[(condition, system)].append(ok)
                records.append({"qid": sample.qid, "condition": condition, "system": system, "answer": answer,
                                "target": closed if condition == "irrelevant" else sample.substitute, "ok": ok})
                if on_record is not None:
                    on_record(records[-1])
    rates = {key: (sum(v) / len(v) if v else 0.0) for key, v in hits.items()}
    return {"rates": rates, "records": records, "n": len(samples)}


def format_table(result: dict, conditions=CONDITIONS, systems=SYSTEMS) -> str:
    names = {"counterfactual": "counterfactual: context adherence", "irrelevant": "irrelevant: = closed-book",
             "assumption": "assumption: follows --assume"}
    lines = [f"{'condition (n=' + str(result['n']) + ')':38}" + "".join(f"{s:>13}" for s in systems)]
    for c in conditions:
        lines.append(f"{names[c]:38}" + "".join(f"{result['rates'][(c, s)]:>13.2f}" for s in systems))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--llm", default=None, help="registry name, gguf:PATH, openai:MODEL")
    parser.add_argument("--source", choices=["both", "hotpotqa", "kilt"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="print every answer")
    args = parser.parse_args(argv)
    from kgsolver.connectors.embedders import load_embedder
    from kgsolver.pipeline.solver import Solver

    config = KGSolverConfig()
    if args.llm:
        config.llm.name = args.llm
    solver = Solver(".", config)  # only for its gateway (cache, backend) and embedder; no knowledge base is opened
    started = time.perf_counter()
    samples = build_samples(args.limit, args.seed, args.source)
    result = evaluate(samples, solver.gateway, load_embedder(config.embedder.model_path), config,
                      on_record=(lambda r: print(r, flush=True)) if args.verbose else None)
    print(f"knowledge-conflict suite: {len(samples)} questions ({args.source}), LLM {config.llm.name}, "
          f"policy {config.preference.policy}, {time.perf_counter() - started:.0f}s")
    print(format_table(result))


if __name__ == "__main__":
    main()
