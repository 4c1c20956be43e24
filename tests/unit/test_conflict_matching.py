"""The conflict suite's one matching rule (normalised word runs against an alias set), as a table of the cases that
once each had their own special case, and the alias sets the offline script freezes with the questions."""

from __future__ import annotations

import pytest

from kgsolver.evals.conflicts import is_followed, matches, same_answer
from kgsolver.evals.scripts.freeze_conflicts import aliases

UDC = ["UDC", "University of the District of Columbia"]  # an answer with the alias the passages spell out
SPAN = ["from 1986 to 2013", "1986-2013", "1986 to 2013", "1986 until 2013"]

CASES = [
    # prediction, target spellings, follows?
    ("It was Zanzibar Quintet.", ["Zanzibar Quintet"], True),  # the target inside a sentence
    ("Zanzibar", ["Zanzibar Quintet"], True),  # the prediction a run of the target's words
    ("Rush", ["Zanzibar Quintet"], False),
    ("paris", ["Paris"], True),  # case
    ("The 2013–14 Premier League", ["2013–14 Premier League I FBS"], True),  # article and dash
    ("2003–2006", ["2003-2006"], True),  # punctuation breaks words, whichever dash
    ("House of fruit-Nassau", ["fruit"], True),  # a hyphenated word still holds the target
    ("Romeo", ["Rome"], False),  # whole words only, never a substring of one
    ("University of Dayton", UDC, False),
    ("University of the District of Columbia", UDC, True),  # the alias, not an acronym rule
    ("UDC", UDC, True),
    ("US", ["the Soviet Union"], False),
    ("1986–2013", SPAN, True),  # the span in another joining, through the frozen aliases
    ("1986 to 2013", SPAN, True),
    ("1969", ["1972 to 1978", "1972-1978"], False),
    ("1972-1978", ["1969 until 1974", "1969-1974"], False),
    ("", ["Paris"], False), (None, ["Paris"], False), ("the", ["Paris"], False),  # nothing left to compare
]


@pytest.mark.parametrize(("prediction", "targets", "expected"), CASES)
def test_matching_table(prediction, targets, expected):
    assert matches(prediction, targets) is expected


def test_irrelevant_context_compares_with_the_closed_book_answer_and_both_may_abstain():
    assert same_answer(None, None) and same_answer("Paris", "paris") and not same_answer("Paris", None)
    assert is_followed("irrelevant", None, []) and not is_followed("irrelevant", "Paris", [])
    assert is_followed("irrelevant", "Lyon", ["Lyon"]) and not is_followed("counterfactual", None, [])


def test_alias_sets_spell_spans_and_acronyms_the_passages_use():
    assert aliases("from 1986 to 2013") == ["1986-2013", "1986 to 2013", "1986 until 2013"]
    assert aliases("1969 until 1974") == ["1969-1974", "1969 to 1974"]
    passages = "The University of the District of Columbia (UDC) is public. New York City (NYC) is large."
    assert aliases("UDC", passages) == ["University of the District of Columbia"]
    assert aliases("New York City", passages) == ["NYC"]
    assert aliases("Alfred Balk", passages) == [] and aliases("Paris") == []  # no acronym the passages do not use
