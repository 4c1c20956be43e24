"""Knowledge-conflict evaluation over questions whose gold passages we have (HotpotQA distractor 200, KILT mini).

Three conditions, built from the shared data (no downloads), plus an intact control:
- intact (control): the gold passages as they are; the answer equals the gold answer (reading ability, so that the
  counterfactual rate can also be read on the questions the system answers correctly when nothing is edited);
- counterfactual: the gold answer in the gold passages is replaced by another answer of the same kind (KAFT);
  context adherence = the answer follows the edited context (controllability);
- irrelevant: only random passages from other questions; robustness = the answer equals the closed-book answer;
- assumption: the gold passages are intact, the user states (`--assume`) the counterfactual's edited sentences, the
  ones nearest the question first, at most 3; the rate = the answer follows the assumption.
Questions: HotpotQA bridge questions and KILT questions whose answer occurs in the gold passages and not in the
question (a comparison question names its answer, so an edit cannot move it); the substitute is the nearest answer
of the same kind by embedding (another rapper for a rapper, a span of years for a span; `conflict_substitutes.py`)
that the gold passages do not name.
Systems: the default preference policy (filters + policy, the naive mode's path minus retrieval), a plain RAG prompt
(evals/conflicts_prompt.py, the assumption prepended to the context), and closed-book (question only).

    python -m kgsolver.evals.conflicts --limit 10 --llm qwen2.5-coder-0.5b-instruct
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from pydantic import BaseModel

from kgsolver.connectors.errors import StructuredOutputError
from kgsolver.connectors.llms.gateway import Budget, LLMGateway
from kgsolver.evals.conflict_substitutes import KindIndex, Substitutes, build_kind_index
from kgsolver.evals.conflicts_prompt import plain_rag_messages
from kgsolver.evals.datasets import HOTPOTQA_200, KILT_CORPUS, KILT_QUESTIONS, dataset_path, kilt_answers, read_jsonl
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.connectors.text import normal, split_sentences, title_name
from kgsolver.pipeline.answer import answer_passages
from kgsolver.pipeline.preference.parametric import closed_book_answer

CONDITIONS = ("intact", "counterfactual", "irrelevant", "assumption")
SYSTEMS = ("default", "plain_rag", "closed_book")


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
        for (title, text), (_, original) in zip(self.counterfactual(), self.gold):
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


def _hotpot_samples() -> list[ConflictSample]:
    out = []
    for r in read_jsonl(dataset_path(HOTPOTQA_200)):
        gold_titles = {t for t, _ in r["supporting_facts"]}
        gold = [(t, " ".join(s)) for t, s in r["context"] if t in gold_titles]
        out.append(ConflictSample(r["_id"], r["question"], r["answer"], gold, kind=r.get("type", "")))
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


def _editable(s: ConflictSample) -> bool:
    """An answer an edit of the passages can move: named in the gold passages, not yes/no, not in the question."""
    answer = normal(s.answer)
    words = set(answer.split()) - {"the", "of", "a", "and"}
    in_question = len(words & set(normal(s.question).split())) >= max(1, len(words) / 2)
    return (s.kind != "comparison" and answer not in {"yes", "no"} and len(answer) > 1 and not in_question
            and any(s.answer.lower() in text.lower() for _, text in s.gold))


_SOURCES = {"hotpotqa": _hotpot_samples, "kilt": _kilt_samples}


def _pages() -> dict[str, str]:
    """Every page of the corpus, title -> opening text: HotpotQA's distractor contexts and the KILT mini corpus."""
    pages: dict[str, str] = {}
    for r in read_jsonl(dataset_path(HOTPOTQA_200)):
        for title, sentences in r["context"]:
            pages.setdefault(title, " ".join(sentences[:1]))
    for row in read_jsonl(dataset_path(KILT_CORPUS)):
        pages.setdefault(row["title"], row["text"][:400])
    return pages


@functools.lru_cache(maxsize=4)
def _source_pools(source: str) -> tuple[list[list[ConflictSample]], KindIndex]:
    from kgsolver.graphs.extract_spacy import load_spacy

    chosen = [_SOURCES[s]() for s in (("hotpotqa", "kilt") if source == "both" else (source,))]
    samples = [s for group in chosen for s in group]
    sentences = {s.answer: (found[1] if (found := s.answer_sentence()) else None) for s in samples}
    passages = [text for s in samples for _, text in s.gold]
    return chosen, build_kind_index(sentences, passages, _pages(), load_spacy(),
                                    questions=[s.question for s in samples])


@functools.lru_cache(maxsize=4)
def _substitutes(source: str, embedder) -> Substitutes:
    return Substitutes(_source_pools(source)[1], embedder)


def build_samples(limit: int, seed: int = 0, source: str = "both", embedder=None) -> list[ConflictSample]:
    """Questions whose answer an edit can move (`_editable`), each with a same-kind substitute answer and three
    random unrelated passages; deterministic for a seed. Alternates HotpotQA and KILT with `both`."""
    chosen, _ = _source_pools(source)
    substitutes = _substitutes(source, embedder)
    rng = random.Random(seed)
    passages = [p for group in chosen for s in group for p in s.gold]
    seen: set[str] = set()  # HotpotQA and KILT share questions: keep each once
    usable = [[s for s in group if _editable(s) and not (normal(s.question) in seen or seen.add(normal(s.question)))]
              for group in chosen]
    for group in usable:
        rng.shuffle(group)
    ordered = [s for group in zip(*usable) for s in group] if len(usable) > 1 else usable[0]
    samples = []
    for s in ordered:
        substitute, kind = substitutes.pick_with_kind(s.answer, " ".join(t for _, t in s.gold) + " " + s.question, rng,
                                                      s.question)
        if not substitute:
            continue
        titles = {t for t, _ in s.gold}
        irrelevant = rng.sample([p for p in passages if p[0] not in titles and normal(s.answer) not in normal(p[1])], 3)
        samples.append(dataclasses.replace(s, substitute=substitute, irrelevant=irrelevant,
                                           substitute_kind=kind))
        if len(samples) >= limit:
            break
    return samples


_RANGE = re.compile(r"\b(\d{3,4})\s*(?:-|–|—|to|until|till|through)\s*(\d{2,4})\b", re.I)


def matches(prediction: str | None, target: str | None) -> bool:
    """The target in the prediction or the reverse, after normalisation; a year range is the same range however it
    is joined ("1969-1974" = "1969 until 1974"); a leading article does not count; an acronym matches the name it
    abbreviates ("UDC" = "University of the District of Columbia")."""
    p, t = (re.sub(r"^(the|a|an) ", "", normal(_RANGE.sub(r"\1 \2", x or ""))) for x in (prediction, target))
    if not p or not t:
        return False
    return t in p or (len(p) >= 3 and p in t) or _abbreviates(prediction, target) or _abbreviates(target, prediction)


def _abbreviates(short: str | None, name: str | None) -> bool:
    short = (short or "").strip()
    if not re.fullmatch(r"[A-Z]{2,6}", short):
        return False
    initials = "".join(w[0] for w in re.findall(r"[A-Za-z]+", name or "") if w[0].isupper())
    return initials == short


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
    return answer_passages(question, _docs(passages), session=session, config=config, embedder=embedder,
                           assumptions=assumptions, policy=policy).answer


def run_plain_rag(gateway, question, passages, assumptions) -> str | None:
    texts = list(assumptions) + [f"{t}: {x}" for t, x in passages]
    try:
        reply, _ = gateway.session(Budget(max_llm_calls=2)).chat_json(
            plain_rag_messages(question, texts), _PlainReply, purpose="plain rag", max_tokens=48)
    except StructuredOutputError:  # a reply cut off mid-JSON is no answer (scored a miss), not the end of the run
        return None
    return None if normal(reply.answer) in {"", "unknown"} else reply.answer


def run_closed_book(gateway, config, question) -> str | None:
    try:
        return closed_book_answer(gateway.session(Budget(max_llm_calls=2)), question,
                                  max_tokens=config.preference.parametric_max_tokens).answer
    except StructuredOutputError:
        return None


def _target(sample: ConflictSample, condition: str, closed: str | None) -> str | None:
    return {"intact": sample.answer, "irrelevant": closed}.get(condition, sample.substitute)


def evaluate(samples, gateway: LLMGateway, embedder, config: KGSolverConfig, *, conditions=CONDITIONS,
             systems=SYSTEMS, on_record=None) -> dict:
    """Per condition and system: the rate (and the per-sample records). With the intact control, also the
    counterfactual and assumption rates on the questions that system answers correctly when nothing is edited
    (`readable`: whether an edit is followed, apart from whether the model can read the answer at all)."""
    records = []
    for sample in samples:
        closed = run_closed_book(gateway, config, sample.question)
        for condition in conditions:
            passages = {"counterfactual": sample.counterfactual(), "irrelevant": sample.irrelevant}.get(
                condition, sample.gold)
            assumptions = sample.assumptions() if condition == "assumption" else []
            for system in systems:
                if system == "default":
                    answer = run_default(gateway, embedder, config, sample.question, passages, assumptions)
                elif system == "plain_rag":
                    answer = run_plain_rag(gateway, sample.question, passages, assumptions)
                else:
                    answer = closed
                target = _target(sample, condition, closed)
                records.append({"qid": sample.qid, "condition": condition, "system": system, "answer": answer,
                                "target": target, "ok": is_followed(condition, answer, target)})
                if on_record is not None:
                    on_record(records[-1])
    return tabulate(records, len(samples), conditions, systems)


def is_followed(condition: str, answer: str | None, target: str | None) -> bool:
    """Irrelevant context: the answer is the closed-book one (`target`); otherwise it matches the target."""
    return same_answer(answer, target) if condition == "irrelevant" else matches(answer, target)


def tabulate(records: list[dict], n: int, conditions=CONDITIONS, systems=SYSTEMS) -> dict:
    """`evaluate`'s result from its records: the rate per (condition, system) and the `readable` edit rates."""
    rates = {}
    for key in ((c, s) for c in conditions for s in systems):
        oks = [r["ok"] for r in records if (r["condition"], r["system"]) == key]
        rates[key] = sum(oks) / len(oks) if oks else 0.0
    result = {"rates": rates, "records": records, "n": n, "conditions": tuple(conditions), "systems": tuple(systems)}
    result["readable"] = edit_rates(result, conditions, systems)
    return result


def edit_rates(result: dict, conditions=CONDITIONS, systems=SYSTEMS, qids: set[str] | None = None,
               given_intact: bool = True) -> dict:
    """(edited condition, system) -> (rate, n) over the questions in `qids` (all when None), and, with
    `given_intact`, only those the system answers correctly from the intact passages."""
    ok = {(r["qid"], r["condition"], r["system"]): r["ok"] for r in result["records"]}
    asked = [q for q in dict.fromkeys(r["qid"] for r in result["records"]) if qids is None or q in qids]
    out = {}
    for edited in ("counterfactual", "assumption"):
        if edited not in conditions or (given_intact and "intact" not in conditions):
            continue
        for system in systems:
            kept = [ok[(q, edited, system)] for q in asked if not given_intact or ok[(q, "intact", system)]]
            out[(edited, system)] = (sum(kept) / len(kept) if kept else 0.0, len(kept))
    return out


def load_result(path: Path) -> dict:
    """A run saved with --out, back in `evaluate`'s shape (its records re-scored with today's `matches`)."""
    saved = json.loads(Path(path).read_text())
    records = saved["records"]
    for r in records:
        r["ok"] = is_followed(r["condition"], r["answer"], r["target"])
    conditions = tuple(c for c in CONDITIONS if any(r["condition"] == c for r in records))
    systems = tuple(s for s in SYSTEMS if any(r["system"] == s for r in records))
    return tabulate(records, saved["n"], conditions, systems)


def read_audit(path: Path) -> set[str]:
    """The questions whose substitute a reader judged plausible: a TSV with the columns qid and verdict
    (plausible | implausible | alias), e.g. benchmarks/results/conflicts40_substitute_audit.tsv."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or not {"qid", "verdict"} <= set(rows[0]):
        raise ValueError(f"{path}: an audit needs the TSV columns qid and verdict")
    return {r["qid"] for r in rows if r["verdict"].strip() == "plausible"}


def format_table(result: dict, conditions=None, systems=None, plausible: set[str] | None = None) -> str:
    """The rates as a text table; the conditions and systems the result was computed for unless named."""
    conditions, systems = conditions or result["conditions"], systems or result["systems"]
    names = {"intact": "intact (control): = gold answer", "counterfactual": "counterfactual: context adherence",
             "irrelevant": "irrelevant: = closed-book", "assumption": "assumption: follows --assume"}
    lines = [f"{'condition (n=' + str(result['n']) + ')':44}" + "".join(f"{s:>13}" for s in systems)]
    for c in conditions:
        lines.append(f"{names[c]:44}" + "".join(f"{result['rates'][(c, s)]:>13.2f}" for s in systems))
    rows = [("intact answered", result.get("readable", {}))]
    if plausible is not None:
        rows += [("plausible substitute", edit_rates(result, conditions, systems, plausible, given_intact=False)),
                 ("plausible, intact answered", edit_rates(result, conditions, systems, plausible))]
    for label, table in rows:
        for edited in ("counterfactual", "assumption"):
            if (edited, systems[0]) in table:
                cells = "".join(f"{f'{rate:.2f} (n={n})':>13}" for rate, n in (table[(edited, s)] for s in systems))
                lines.append(f"{edited + ' | ' + label:44}" + cells)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--llm", default=None, help="registry name, gguf:PATH, openai:MODEL")
    parser.add_argument("--source", choices=["both", "hotpotqa", "kilt"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset of " + ", ".join(SYSTEMS) + " (the closed-book answer is computed "
                             "anyway: it is the irrelevant condition's target)")
    parser.add_argument("--verbose", action="store_true", help="print every answer")
    parser.add_argument("--audit", type=Path, default=None,
                        help="a TSV (qid, verdict) judging each substitute; adds the rates on the plausible ones")
    parser.add_argument("--out", type=Path, default=None, help="write rates, samples and every answer as JSON")
    parser.add_argument("--table", type=Path, default=None,
                        help="print the table of a run saved with --out (with --audit, say), asking no LLM")
    args = parser.parse_args(argv)
    systems = tuple(x.strip() for x in args.systems.split(",") if x.strip())
    if unknown := set(systems) - set(SYSTEMS):
        parser.error(f"--systems: unknown {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    plausible = read_audit(args.audit) if args.audit else None
    if args.table is not None:
        print(format_table(load_result(args.table), plausible=plausible))
        return
    from kgsolver.connectors.embedders import load_embedder
    from kgsolver.pipeline.config import build_gateway

    config = KGSolverConfig()
    if args.llm:
        config.llm.name = args.llm
    started = time.perf_counter()
    embedder = load_embedder(config.embedder.model_path)
    samples = build_samples(args.limit, args.seed, args.source, embedder)
    result = evaluate(samples, build_gateway(config), embedder, config, systems=systems,
                      on_record=(lambda r: print(r, flush=True)) if args.verbose else None)
    print(f"knowledge-conflict suite: {len(samples)} questions ({args.source}), LLM {config.llm.name}, "
          f"policy {config.preference.policy}, {time.perf_counter() - started:.0f}s")
    print(format_table(result, plausible=plausible))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "llm": config.llm.name, "policy": config.preference.policy, "limit": args.limit, "seed": args.seed,
            "source": args.source, "n": result["n"],
            "rates": {f"{c}/{s}": v for (c, s), v in result["rates"].items()},
            "readable": {f"{c}/{s}": {"rate": r, "n": n} for (c, s), (r, n) in result["readable"].items()},
            "samples": [{"qid": x.qid, "question": x.question, "answer": x.answer, "substitute": x.substitute,
                         "kind": x.substitute_kind, "assumptions": x.assumptions()} for x in samples],
            "records": result["records"]}, indent=1))


if __name__ == "__main__":
    main()
