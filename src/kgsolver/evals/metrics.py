"""Evaluation metrics with the benchmarks' own definitions.

Answer metrics follow the SQuAD / KILT normalisation (lower case, drop punctuation and articles, squeeze spaces).
KILT page-level retrieval follows `kilt/eval_retrieval.py`: R-Precision against the best-matching gold provenance set,
Recall@k = 1 when some gold set is wholly inside the top k. KILT-EM / KILT-F1 give answer credit only when
R-Precision is 1. Pages are matched by title (our corpus is the 2017 dump, not KILT's 2019 one).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str, *, hotpot: bool = False) -> float:
    """SQuAD token F1 (KILT uses it as is). `hotpot=True` adds HotpotQA's rule: yes/no/noanswer only match exactly."""
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    special = {"yes", "no", "noanswer"}
    joined = (" ".join(pred_tokens), " ".join(gold_tokens))
    if hotpot and (joined[0] in special or joined[1] in special) and joined[0] != joined[1]:
        return 0.0
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def hotpot_f1(prediction: str, gold: str) -> float:
    return f1_score(prediction, gold, hotpot=True)


def best_over_golds(metric: Callable[[str, str], float], prediction: str, golds: Iterable[str]) -> float:
    """Max over gold answers; no gold answer at all scores 0."""
    return max((metric(prediction, g) for g in golds), default=0.0)


def _titles(pages: Sequence[str]) -> list[str]:
    """Ranked titles with duplicates removed (several chunks of one page count once, as in KILT's page level)."""
    seen, out = set(), []
    for title in pages:
        if title not in seen:
            seen.add(title)
            out.append(title)
    return out


def r_precision(ranked_titles: Sequence[str], gold_sets: Sequence[set[str]]) -> float:
    """KILT R-Precision: for each gold provenance set of size R, the share of the top R pages in it; best set wins."""
    ranked = _titles(ranked_titles)
    best = 0.0
    for gold in gold_sets:
        if gold:
            top = ranked[: len(gold)]
            best = max(best, sum(1 for t in top if t in gold) / len(gold))
    return best


def recall_at_k(ranked_titles: Sequence[str], gold_sets: Sequence[set[str]], k: int) -> float:
    """KILT page-level Recall@k: 1 if any gold provenance set is wholly within the top k pages."""
    top = set(_titles(ranked_titles)[:k])
    return float(any(gold and gold <= top for gold in gold_sets))


def title_recall_at_k(ranked_titles: Sequence[str], gold_titles: set[str], k: int) -> float:
    """HotpotQA supporting-title recall@k: the share of gold titles among the top k pages (partial credit)."""
    if not gold_titles:
        return 0.0
    top = set(_titles(ranked_titles)[:k])
    return len(gold_titles & top) / len(gold_titles)


def kilt_scores(prediction: str, ranked_titles: Sequence[str], gold_answers: Sequence[str],
                gold_sets: Sequence[set[str]], ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """All KILT per-question scores for one prediction."""
    rprec = r_precision(ranked_titles, gold_sets)
    em = best_over_golds(exact_match, prediction, gold_answers)
    f1 = best_over_golds(f1_score, prediction, gold_answers)
    scores = {"em": em, "f1": f1, "r_precision": rprec,
              "kilt_em": em if rprec == 1.0 else 0.0, "kilt_f1": f1 if rprec == 1.0 else 0.0}
    for k in ks:
        scores[f"recall@{k}"] = recall_at_k(ranked_titles, gold_sets, k)
    return scores


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0
