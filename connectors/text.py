"""The one text normaliser, sentence splitter and title-name rule: every layer (connectors, graphs, pipeline, evals)
imports them from here, the lowest layer, so that two copies can never drift apart."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def normal(text: str) -> str:
    """Lower case, punctuation to spaces, thousands separators dropped, white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", re.sub(r"(?<=\d),(?=\d{3})", "", text.lower()))).strip()


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def title_name(title: str) -> str:
    """The name a page title gives its subject: "Catawissa (tugboat)" -> "Catawissa", "Waterford, New York" ->
    "Waterford"."""
    return re.split(r"\s*[(,]", title or "", maxsplit=1)[0].strip()


_ARTICLES = {"the", "a", "an", "of"}


def content_words(text: str) -> set[str]:
    """The normalised words of a short answer, without articles: "The Beatles" and "Beatles" share all of theirs."""
    return set(normal(text).split()) - _ARTICLES
