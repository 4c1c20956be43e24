"""Yes/no bias diagnostic (issue 16): for each yes/no question of HotpotQA 200, the reader's next-token margin
log p("yes") - log p("no") after '{"answer": "', over the passages the answer step handed the reader, and the same
margin under three content-free priors (contextual calibration): the question and the passages both "N/A", the
question without its passages, the passages without their question. Prints how many each decision gets right.

    KGSOLVER_LLM__N_THREADS=1 .venv/bin/python benchmarks/yes_no_scores.py --llm qwen2.5-coder-0.5b-instruct \\
        --cache .kgsolver/q05.sqlite --out runs/yes_no_q05.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from langchain_core.documents import Document

import kgsolver.pipeline.answer.preference as answer_step
from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.runner import default_kb
from kgsolver.evals.suites.hotpotqa import HotpotQASuite
from kgsolver.pipeline.answer.answer_form import detect_form
from kgsolver.pipeline.answer.generate import build_messages
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.solver import Solver

PREFIX = '{"answer": "'
BLANK = [Document(page_content="N/A", metadata={"title": "N/A"})]
# Each content-free prior: the question and the passages it is scored with, from the real ones.
PRIORS: dict[str, Callable[[str, list[Document]], tuple[str, list[Document]]]] = {
    "content_free": lambda question, passages: ("N/A", BLANK),
    "question_only": lambda question, passages: (question, BLANK),
    "passages_only": lambda question, passages: ("N/A", passages),
}


def margin(session: LLMSession, question: str, documents: list[Document]) -> float:
    scores = session.score_next([build_messages(question, documents)], ["yes", "no"], purpose="yes/no margin",
                                prefix=PREFIX)[0]
    return scores["yes"] - scores["no"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", required=True)
    parser.add_argument("--mode", default="naive")
    parser.add_argument("--cache", type=Path, default=None, help="LLM response cache file")
    parser.add_argument("--out", type=Path, required=True, help="one row per yes/no question (jsonl)")
    args = parser.parse_args()
    config = KGSolverConfig()
    config.llm.name = args.llm
    if args.cache:
        config.llm_cache_path = args.cache
    suite = HotpotQASuite()
    solver = Solver(default_kb(suite.name, config), config)
    seen: list[list[Document]] = []
    generate = answer_step.generate_grounded

    def recording(session, question, documents, form):  # type: ignore[no-untyped-def]
        seen.append(list(documents))  # the passages exactly as the reader got them
        return generate(session, question, documents, form)

    answer_step.generate_grounded = recording
    rows = []
    for item in (i for i in suite.items(datasets_dir(), None) if i.condition == "rag"):
        if detect_form(item.question).kind != "yes_no":
            continue
        seen.clear()
        result = solver.ask(item.question, mode=args.mode)
        if not seen or not seen[-1]:
            continue
        session, documents = solver.gateway.session(), seen[-1]
        row = {"id": item.qid, "gold": item.gold["answer"], "answer": None if result.abstained else result.answer,
               "raw": margin(session, item.question, documents)}
        for name, prior in PRIORS.items():
            row[name] = margin(session, *prior(item.question, documents))
        rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("raw", *PRIORS):
        says_yes = [r["raw"] - (r[name] if name != "raw" else 0.0) > 0 for r in rows]
        right = sum(y == (r["gold"] == "yes") for y, r in zip(says_yes, rows, strict=True))
        print(f"{name:>14}: {right} / {len(rows)} right, 'yes' to {sum(says_yes)}")
    for gold in ("yes", "no"):
        margins = [r["raw"] for r in rows if r["gold"] == gold]
        print(f"mean raw margin, gold {gold}: {sum(margins) / max(len(margins), 1):.2f} (n={len(margins)})")


if __name__ == "__main__":
    main()
