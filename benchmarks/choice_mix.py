"""Multiple choice from scored rows, no LLM call (issue 16): the closed-book letter distribution and a passage
condition's (`rag`, or PubMedQA's `context`: --passages) mixed at each weight (`choice.parametric_weight`,
evals/suites/choice_bias.py::mixed) and, where the rows hold them, the option rotations (`choice.permutations`), on a
choice part and a held-out part of the questions.

Rows come from eval run folders (their predictions.jsonl) or row files of the same shape; rows of one question and
condition found twice keep the last. The choice part is the first --choice-questions questions in the set's order;
the weight that wins there is the one reported on the rest, beside --weight (the configured default).

    .venv/bin/python benchmarks/choice_mix.py --suite openbookqa --rows RUN_DIR... --choice-questions 100 \\
        --out benchmarks/results/choice_mix_openbookqa_q15.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.report import ci95
from kgsolver.evals.run_config import EvalConfig
from kgsolver.evals.suites import get_suite
from kgsolver.evals.suites.choice_bias import averaged, best, mixed, rotations
from kgsolver.evals.suites.pubmedqa import LABELS as PUBMEDQA_LABELS

GRID = [round(k / 20, 2) for k in range(21)]
PUBMEDQA_LETTERS = {label: letter for letter, label in PUBMEDQA_LABELS.items()}  # its rows keep the gold label


def load_rows(paths: list[Path]) -> dict[tuple[str, str], dict]:
    """Rows by (question, condition), read only: unlike `runner.load_done`, a bad line is an error naming it, and
    no file is rewritten (row files kept outside a run folder are inputs here)."""
    rows: dict[tuple[str, str], dict] = {}
    for path in paths:
        path = path / "predictions.jsonl" if path.is_dir() else path
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not a JSON row ({exc})") from exc
            if row.get("letter_logprobs"):
                rows[(row["qid"], row["condition"])] = row
    return rows


def scores(row: dict, permutations: int | None = None) -> dict[str, float]:
    """A row's option scores; with `permutations`, the mean over that many evenly spaced rotations of those the row
    holds (a run with 4 rotations of 4 options also gives 1 and 2)."""
    per, n = row.get("rotation_logprobs") or [], len(row["letter_logprobs"])
    if permutations is None or (permutations == 1 and not per):  # a row scored once: its scores as they are
        return row["letter_logprobs"]
    stored, wanted = rotations(n, max(len(per), 1)), rotations(n, permutations)
    if not set(wanted) <= set(stored) or not per:
        raise SystemExit(f"question {row['qid']} ({row['condition']}): its row holds rotations {stored if per else []}"
                         f", not the {wanted} that {permutations} need")
    return averaged([per[stored.index(shift)] for shift in wanted])


def accuracy(rows: dict, qids: list[str], decide) -> dict:
    right = [float(decide(q) == gold_letter(rows[(q, "closed-book")])) for q in qids]
    return {"n": len(right), "accuracy": round(sum(right) / len(right), 3), "ci95": ci95(right), "right": right}


def gold_letter(row: dict) -> str:
    """The gold option's letter: PubMedQA rows keep the gold label (yes / no / maybe), the others its letter."""
    return PUBMEDQA_LETTERS.get(row["gold"], row["gold"])


def paired(a: dict, b: dict) -> str:
    """Questions right only under a / only under b."""
    pairs = list(zip(a["right"], b["right"], strict=True))
    return f"{sum(x > y for x, y in pairs)} / {sum(x < y for x, y in pairs)}"


def part_report(rows: dict, qids: list[str], weights: list[float], permutations: int | None, passages: str) -> dict:
    cb = accuracy(rows, qids, lambda q: best(scores(rows[(q, "closed-book")], permutations)))
    read = accuracy(rows, qids, lambda q: best(scores(rows[(q, passages)], permutations)))
    mix = {w: accuracy(rows, qids, lambda q, w=w: best(mixed(scores(rows[(q, passages)], permutations),
                                                             scores(rows[(q, "closed-book")], permutations), w)))
           for w in weights}
    return {"closed-book": cb, passages: read, "mix": mix}


def strip(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "right"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, choices=["openbookqa", "medqa", "pubmedqa"])
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="run folders or row files")
    parser.add_argument("--choice-questions", type=int, required=True, help="the first N questions choose the weight")
    parser.add_argument("--weight", type=float, default=EvalConfig().choice.parametric_weight,
                        help="the weight to report on every part (default: the configured one)")
    parser.add_argument("--passages", default="rag", help="the condition with passages mixed with closed-book "
                        "(PubMedQA: rag, or context for the question's own abstract)")
    parser.add_argument("--permutations", type=int, default=None, help="rotations averaged (rows that hold them)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = load_rows(args.rows)
    order = list(dict.fromkeys(i.qid for i in get_suite(args.suite).items(datasets_dir(), None)))
    both = [q for q in order if (q, "closed-book") in rows and (q, args.passages) in rows]
    position = {q: n for n, q in enumerate(order)}
    parts = {"choice": [q for q in both if position[q] < args.choice_questions],
             "held_out": [q for q in both if position[q] >= args.choice_questions]}
    weights = sorted(set(GRID) | {args.weight})
    report: dict = {"suite": args.suite, "rows": [str(p) for p in args.rows], "permutations": args.permutations,
                    "passages": args.passages,
                    "choice_questions": args.choice_questions, "parts": {}}
    chosen = args.weight
    for name, qids in parts.items():
        if not qids:
            continue
        part = part_report(rows, qids, weights, args.permutations, args.passages)
        if name == "choice":
            chosen = max(weights, key=lambda w: (part["mix"][w]["accuracy"], w == args.weight))
        report["parts"][name] = {
            "questions": f"{position[qids[0]] + 1}-{position[qids[-1]] + 1} ({len(qids)} with both conditions)",
            "closed-book": strip(part["closed-book"]), args.passages: strip(part[args.passages]),
            "mix_by_weight": {w: part["mix"][w]["accuracy"] for w in weights},
            "chosen_weight": chosen, "mix_chosen": strip(part["mix"][chosen]),
            "mix_configured": strip(part["mix"][args.weight]),
            "configured_vs_closed_book": paired(part["mix"][args.weight], part["closed-book"]),
            f"configured_vs_{args.passages}": paired(part["mix"][args.weight], part[args.passages]),
        }
        p = report["parts"][name]
        print(f"{name} {p['questions']}: closed-book {p['closed-book']['accuracy']} {p['closed-book']['ci95']}, "
              f"{args.passages} {p[args.passages]['accuracy']} {p[args.passages]['ci95']}, mix@{args.weight} "
              f"{p['mix_configured']['accuracy']} {p['mix_configured']['ci95']} (only mix right / only closed-book "
              f"right {p['configured_vs_closed_book']}; vs {args.passages} {p[f'configured_vs_{args.passages}']}); "
              f"chosen weight {chosen}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
