"""Quoted phrases (connectors/text.py) and the relevance filter's rescue of passages that contain one, no embedder."""

from langchain_core.documents import Document

from kgsolver.connectors.text import contains_phrase, quoted_phrases
from kgsolver.pipeline.answer.filters.passages import quoted_in


def test_quoted_phrases_straight_and_curly_quotes_normalised():
    q = 'Which band released "Counterparts" and the album \u201cMore Hot Rocks?\u201d in 1972?'
    assert quoted_phrases(q) == ["counterparts", "more hot rocks"]


def test_quoted_phrases_skip_apostrophes_and_tiny_quotes():
    assert quoted_phrases("Who wrote Nobody's Hero and Peart's 'Anthem'?") == []
    assert quoted_phrases('Which show has the catchphrase "Ew!"?') == []


def test_quoted_in_matches_whole_words_in_title_or_text():
    song = Document(page_content="A single from their 1993 album Counterparts.", metadata={"title": "Nobody's Hero"})
    assert quoted_in(song, ["counterparts"]) == "counterparts"
    assert quoted_in(song, ["nobody s hero"]) == "nobody s hero"  # the title counts
    assert quoted_in(song, ["counter"]) is None  # not a part of a word


def test_contains_phrase_normalises_both_sides():
    assert contains_phrase("their 1993 album \"Counterparts\".", "counterparts")
    assert contains_phrase("Super/System (1979) by Doyle Brunson", "super system")
    assert not contains_phrase("Counterpartsmith", "counterparts")
