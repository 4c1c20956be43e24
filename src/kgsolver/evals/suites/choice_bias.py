"""Letter (label) bias of multiple-choice answers, and its corrections, as pure logic on per-option scores.

A small model's choice among lettered options leans on the letters themselves (the 0.5B almost never answers D, and
says "yes" to most PubMedQA questions). Each option is scored once (its letter's next-token log-probability,
`LLMSession.score_next`), and the choice is the option whose probability rose most over the model's prior for that
letter (contextual calibration, Zhao et al. 2021, with a diagonal correction):

- `content_free`: the prior is the model's letter distribution for the same prompt with every field "N/A";
- `marginal`: the prior is the mean letter distribution over a calibration part of the questions.

The suites choose by the raw scores (`none`) unless told otherwise: chosen on the first half of OpenBookQA, where
the content-free prior over-corrected and the marginal one evened the letters without more right answers
(docs/RESULTS.md, "Reader"). Every row keeps the scores, so `benchmarks/choice_bias.py` re-decides a run either way.

Position bias can also be averaged out (`choice.permutations`): the option texts are rotated over the letters, each
rotation scored, and each option's log-probability averaged over the rotations.

A retrieval condition can also lean on the model's own knowledge (`mixed`): the passage-conditioned and the
closed-book letter distributions are combined log-linearly (a product of experts), so retrieved passages that do not
bear on the question move the choice less than they do alone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

CORRECTIONS = ("none", "content_free", "marginal")


def normalised(scores: Mapping[str, float]) -> dict[str, float]:
    """Log-probabilities renormalised over the options only (their share of the letter mass), as probabilities."""
    top = max(scores.values())
    weights = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def best(scores: Mapping[str, float]) -> str:
    """The highest-scoring option; a tie goes to the option listed first (deterministic)."""
    return max(scores, key=lambda k: (scores[k], -list(scores).index(k)))


def calibrated(scores: Mapping[str, float], prior: Mapping[str, float]) -> dict[str, float]:
    """log p(option) - log prior(option), both over the options only; a prior with no mass on an option is an error
    (it would make that option win whatever its score)."""
    probs = normalised(scores)
    if any(prior.get(k, 0.0) <= 0.0 for k in probs):
        raise ValueError(f"prior {dict(prior)} gives no mass to one of the options {list(probs)}")
    total = sum(prior[k] for k in probs)
    return {k: math.log(max(p, 1e-300)) - math.log(prior[k] / total) for k, p in probs.items()}


def marginal_prior(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean letter distribution over a calibration part (each row's scores renormalised first)."""
    rows = list(rows)
    if not rows:
        raise ValueError("a marginal prior needs at least one scored question")
    letters = list(rows[0])
    return {k: sum(normalised(r)[k] for r in rows) / len(rows) for k in letters}


def mixed(context: Mapping[str, float], parametric: Mapping[str, float], parametric_weight: float) -> dict[str, float]:
    """(1 - w) log p(option | passages) + w log p(option | no passages), each renormalised over the options first;
    w = 0 is the passage-conditioned choice alone, w = 1 the closed-book one."""
    if not 0.0 <= parametric_weight <= 1.0:
        raise ValueError(f"parametric weight {parametric_weight} is outside [0, 1]")
    if set(context) != set(parametric):
        raise ValueError(f"the two score sets name different options: {sorted(context)} vs {sorted(parametric)}")
    p_ctx, p_par = normalised(context), normalised(parametric)
    return {k: (1.0 - parametric_weight) * math.log(max(p_ctx[k], 1e-300))
            + parametric_weight * math.log(max(p_par[k], 1e-300)) for k in context}


def rotations(n_options: int, permutations: int) -> list[int]:
    """Evenly spaced rotations of the option texts over the letters (0 = as the set lists them); at most one per
    option, so a number at or above the options' count is every rotation (4 is all of OpenBookQA's and MedQA's four
    options and all three of PubMedQA's labels)."""
    if permutations < 1:
        raise ValueError(f"{permutations} rotations of {n_options} options: choose 1 or more")
    permutations = min(permutations, n_options)
    return [k * n_options // permutations for k in range(permutations)]


def rotated(options: Mapping[str, str], shift: int) -> dict[str, str]:
    """The letters in their order, each given the text `shift` places further on (wrapping round)."""
    letters, texts = list(options), list(options.values())
    return {letter: texts[(i + shift) % len(texts)] for i, letter in enumerate(letters)}


def unrotated(scores: Mapping[str, float], letters: list[str], shift: int) -> dict[str, float]:
    """A rotated prompt's letter scores given back to the options' own letters, renormalised over the options."""
    probs = normalised(scores)
    return {letters[(i + shift) % len(letters)]: math.log(max(probs[letter], 1e-300))
            for i, letter in enumerate(letters)}


def averaged(per_rotation: list[dict[str, float]]) -> dict[str, float]:
    """Each option's mean log-probability over the rotations: a letter the model favours helps every option once."""
    return {k: sum(r[k] for r in per_rotation) / len(per_rotation) for k in per_rotation[0]}


def choose_option(scores: Mapping[str, float], prior: Mapping[str, float] | None) -> str:
    """The raw choice without a prior, the calibrated one with it."""
    return best(scores if prior is None else calibrated(scores, prior))


def letter_distribution(predictions: Iterable[str], letters: Iterable[str]) -> dict[str, int]:
    """How often each letter was chosen (every letter listed, '' for no answer only when it occurs)."""
    counts = Counter(predictions)
    out = {k: counts.pop(k, 0) for k in letters}
    out.update(counts)
    return out
