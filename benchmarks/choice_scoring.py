"""Scored multiple choice, the rotations of one question in one call (issue 16): seconds and prompt tokens a question
when each rotation's prompt is scored alone (the scorer before: one whole forward pass a rotation) against the group
(`ChatLlamaCpp.next_token_logprobs`: the head the rotations share evaluated once, then each rotation's options), on
the same loaded model in the same run; and how far the two give the same scores and choices.

    KGSOLVER_LLM__N_THREADS=2 .venv/bin/python benchmarks/choice_scoring.py --llm qwen2.5-coder-1.5b-instruct \\
        --questions 30 --out benchmarks/results/choice_scoring.json

OpenBookQA dev questions from the start, each option rotated over the four letters (every rotation), closed-book and
with the suite's top-5 open-book facts (its knowledge base, built by `kgsolver eval openbookqa` where missing), and
the same prompts with a long head (a PubMedQA abstract or a MedQA vignette is 300-1,000 tokens): the facts repeated
to about 1,000 tokens. No response cache: every score is computed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from langchain_core.documents import Document

from kgsolver.evals.datasets import OBQA_DEV, dataset_path, datasets_dir, read_jsonl
from kgsolver.evals.report import ci95
from kgsolver.evals.runner import default_kb
from kgsolver.evals.suites.choice_bias import averaged, best, normalised, rotated, rotations, unrotated
from kgsolver.evals.suites.common import REPLY_PREFIX, choice_messages
from kgsolver.pipeline.config import KGSolverConfig, build_gateway
from kgsolver.pipeline.solver import Solver


def prompt_sets(solver: Solver, record: dict, long_chars: int) -> dict[str, list[Document] | None]:
    """The passages each prompt kind shows: none, the top 5 facts, and those facts repeated to `long_chars`."""
    options = [c["text"] for c in record["question"]["choices"]]
    facts = solver.retriever(5).invoke(record["question"]["stem"] + " " + " | ".join(options))
    text = " ".join(d.page_content for d in facts)
    long = [Document((text + " ") * (long_chars // max(len(text), 1) + 1), metadata={"title": ""})]
    return {"closed-book": None, "rag": facts, "long head": long}


def measure(model, question: str, options: dict[str, str], passages, max_chars: int) -> dict:
    """One question's rotations scored one prompt at a time, then as one group: seconds, tokens, scores."""
    letters, shifts = list(options), rotations(len(options), len(options))
    prompts = [choice_messages(question, rotated(options, s), passages, max_chars) for s in shifts]
    started, alone, alone_tokens = time.perf_counter(), [], 0
    for prompt in prompts:
        scores, tokens = model.next_token_logprobs([prompt], letters, REPLY_PREFIX)
        alone.append(scores[0])
        alone_tokens += tokens
    alone_s = time.perf_counter() - started
    started = time.perf_counter()
    group, group_tokens = model.next_token_logprobs(prompts, letters, REPLY_PREFIX)
    group_s = time.perf_counter() - started
    back = [[unrotated(s, letters, shift) for s, shift in zip(run, shifts, strict=True)] for run in (alone, group)]
    gap = max(abs(normalised(a)[k] - normalised(g)[k]) for a, g in zip(alone, group, strict=True) for k in letters)
    return {"alone_s": alone_s, "group_s": group_s, "alone_tokens": alone_tokens, "group_tokens": group_tokens,
            "max_prob_gap": gap, "same_choice": best(averaged(back[0])) == best(averaged(back[1]))}


def summary(rows: list[dict]) -> dict:
    alone, group = sum(r["alone_s"] for r in rows), sum(r["group_s"] for r in rows)
    same = [float(r["same_choice"]) for r in rows]
    return {"n": len(rows), "alone_s_per_question": round(alone / len(rows), 3),
            "group_s_per_question": round(group / len(rows), 3), "speedup": round(alone / group, 2),
            "alone_tokens_per_question": round(statistics.mean(r["alone_tokens"] for r in rows), 1),
            "group_tokens_per_question": round(statistics.mean(r["group_tokens"] for r in rows), 1),
            "max_prob_gap": round(max(r["max_prob_gap"] for r in rows), 4),
            "median_prob_gap": round(statistics.median(r["max_prob_gap"] for r in rows), 4),
            "same_choice": round(sum(same) / len(same), 3), "same_choice_ci95": ci95(same)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default=None, help="a registered model (default: the configured one)")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--long-chars", type=int, default=4000, help="the long head's passage length")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = KGSolverConfig(llm_cache=False)
    if args.llm:
        config.llm.name = args.llm
    kb = default_kb("openbookqa", config)
    if not kb.is_dir():
        raise SystemExit(f"{kb}: no OpenBookQA knowledge base; `kgsolver eval openbookqa --limit 1` builds it")
    solver = Solver(kb, config, gateway=build_gateway(config))
    model = solver.gateway.backend.model
    records = list(read_jsonl(dataset_path(OBQA_DEV, datasets_dir())))[:args.questions]
    rows: dict[str, list[dict]] = {}
    model.next_token_logprobs([choice_messages("Warm-up?", {"A": "a", "B": "b"}, None)], ["A", "B"])  # load once
    for record in records:
        options = {c["label"]: c["text"] for c in record["question"]["choices"]}
        for kind, passages in prompt_sets(solver, record, args.long_chars).items():
            max_chars = args.long_chars + 100 if kind == "long head" else 800
            rows.setdefault(kind, []).append(measure(model, record["question"]["stem"], options, passages, max_chars))
    report = {"model": solver.gateway.backend.model_id, "threads": config.llm.n_threads or "one per core",
              "rotations": 4, "kinds": {kind: summary(r) for kind, r in rows.items()}}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
