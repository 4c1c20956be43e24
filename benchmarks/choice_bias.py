"""Letter-bias benchmark (issue 16): a multiple-choice eval run's scored rows
(`kgsolver eval openbookqa|pubmedqa|medqa`, which record each option's letter log-probability) re-decided without a
correction, with the content-free prior and with the marginal prior of the choice half, and scored on the two
halves of the questions (in the set's order): settings are chosen on the first half and the second is reported alone.
Accuracy with Wilson 95% intervals and the letter (label) distribution of each decision beside the gold one. No LLM
call: everything comes from the rows.

    .venv/bin/python benchmarks/choice_bias.py --suite openbookqa --runs .kgsolver/obqa_q05 .kgsolver/obqa_q15 \\
        --out benchmarks/results/choice_bias_openbookqa.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kgsolver.evals.datasets import datasets_dir
from kgsolver.evals.report import ci95
from kgsolver.evals.runner import PREDICTIONS, load_done
from kgsolver.evals.suites import get_suite
from kgsolver.evals.suites.choice_bias import choose_option, letter_distribution, marginal_prior, mixed

LABELS = {"pubmedqa": {"A": "yes", "B": "no", "C": "maybe"}}  # the suites whose letters stand for labels


def row_scores(row: dict) -> dict[str, float]:
    """The scores a row was decided on: a rag+closed-book row's two distributions mixed as the suite mixed them."""
    if row.get("parametric_logprobs"):
        return mixed(row["letter_logprobs"], row["parametric_logprobs"], row["parametric_weight"])
    return row["letter_logprobs"]


def decide(rows: list[dict], prior_rows: list[dict], labels: dict[str, str] | None) -> dict[str, list[str]]:
    """Each row's choice under each correction (as the suite scores it: a label where the letters stand for one)."""
    marginal = marginal_prior(row_scores(r) for r in prior_rows)
    # The content-free prior is on a row only when the run used that correction; without it, it is not reported.
    names = ("none", "content_free", "marginal") if all(r.get("prior") for r in rows) else ("none", "marginal")
    out: dict[str, list[str]] = {name: [] for name in names}
    for row in rows:
        scores = row_scores(row)
        for name, prior in (("none", None), ("content_free", row.get("prior")), ("marginal", marginal)):
            if name not in out:
                continue
            letter = choose_option(scores, prior)
            out[name].append(labels.get(letter, "") if labels else letter)
    return out


def half_report(rows: list[dict], prior_rows: list[dict], labels: dict[str, str] | None) -> dict:
    letters = list(labels.values()) if labels else list(rows[0]["letter_logprobs"])
    decisions = decide(rows, prior_rows, labels)
    gold = [r["gold"] for r in rows]
    report = {"n": len(rows), "gold_distribution": letter_distribution(gold, letters)}
    for name, predicted in decisions.items():
        right = [float(p == g) for p, g in zip(predicted, gold, strict=True)]
        report[name] = {"accuracy": round(sum(right) / len(right), 3), "ci95": ci95(right),
                        "distribution": letter_distribution(predicted, letters)}
    return report


def summarise(run: Path, order: dict[str, int], labels: dict[str, str] | None) -> dict:
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    rows = [r for r in load_done(run / PREDICTIONS).values() if r.get("letter_logprobs")]
    result: dict = {"run": str(run), "llm": config.get("model", {}).get("name") or config.get("llm"), "conditions": {}}
    for condition in sorted({r["condition"] for r in rows}):
        these = sorted((r for r in rows if r["condition"] == condition), key=lambda r: order[r["qid"]])
        first, second = these[: len(these) // 2], these[len(these) // 2:]
        seconds = [r["usage"]["seconds"] for r in these if not r["usage"].get("cache_hits")]
        result["conditions"][condition] = {
            "questions": f"1-{len(first)} / {len(first) + 1}-{len(these)}",
            "s_per_q_uncached": round(sum(seconds) / len(seconds), 2) if seconds else None,
            "choice_half": half_report(first, first, labels),
            "held_out_half": half_report(second, first, labels),  # the marginal prior comes from the choice half
        }
    return result


def table(results: list[dict]) -> str:
    lines = ["| model | condition | half | n | correction | accuracy | 95% CI | chosen letters | gold letters |",
             "|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for condition, entry in result["conditions"].items():
            for half in ("choice_half", "held_out_half"):
                h = entry[half]
                for name in ("none", "content_free", "marginal"):
                    if name not in h:
                        continue
                    c = h[name]
                    lines.append(f"| {result['llm']} | {condition} | {half} | {h['n']} | {name} | {c['accuracy']} | "
                                 f"{c['ci95'][0]}-{c['ci95'][1]} | {c['distribution']} | {h['gold_distribution']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, choices=["openbookqa", "pubmedqa", "medqa"])
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="eval run folders of that suite")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    items = get_suite(args.suite).items(datasets_dir(), None)
    order: dict[str, int] = {}
    for item in items:
        order.setdefault(item.qid, len(order))
    results = [summarise(run, order, LABELS.get(args.suite)) for run in args.runs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(table(results))


if __name__ == "__main__":
    main()
