"""The one text normaliser, sentence splitter and title-name rule: every layer (connectors, graphs, pipeline, evals)
imports them from here, the lowest layer, so that two copies can never drift apart."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

# Abbreviations spaCy's English tokenizer does not already keep whole ("Dr.", "U.S.", "S." and the months it does):
# without them the sentencizer ends a sentence at "Lt." or "No.", leaving fragments.
_ABBREVIATIONS = ("No.", "Nos.", "Lt.", "Col.", "Gen.", "Capt.", "Sgt.", "Maj.", "Cmdr.", "Adm.", "Gov.", "Sen.",
                  "Rep.", "Prof.", "Rev.", "Hon.", "Fr.", "Sr.", "Jr.", "Mt.", "Ft.", "ca.", "c.", "cf.", "al.",
                  "approx.", "est.", "vol.", "Vol.", "Vols.", "pp.", "p.", "Fig.", "Ed.", "Eds.", "op.", "nr.")


def normal(text: str) -> str:
    """Lower case, punctuation to spaces, thousands separators dropped, white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", re.sub(r"(?<=\d),(?=\d{3})", "", text.lower()))).strip()


@cache
def _sentencizer() -> Any:
    """spaCy's blank English pipeline with the rule-based sentencizer: its tokenizer knows abbreviations, so "the
    chemist S. P. L. Sørensen" and "Dr. Smith" stay in one sentence. Loaded once per process, on first use (importing
    spaCy costs about a second, which commands that never split text should not pay)."""
    import spacy
    from spacy.symbols import ORTH

    nlp = spacy.blank("en")
    tokenizer: Any = nlp.tokenizer  # typed as a plain callable by spaCy; it is a Tokenizer
    for abbreviation in _ABBREVIATIONS:
        tokenizer.add_special_case(abbreviation, [{ORTH: abbreviation}])
    nlp.add_pipe("sentencizer")
    return nlp


@cache
def english_stop_words() -> frozenset[str]:
    """spaCy's English stop words, read from spaCy's own `lang/en/stop_words.py` (literals only) without importing the
    spacy package: that imports thinc, which imports torch where it is installed (about 1.5 s), and a question that
    links entities must not pay for torch (issue 33: the query path never imports it)."""
    import importlib.util
    from pathlib import Path

    package = importlib.util.find_spec("spacy")  # finds the package without importing it
    if package is None or package.origin is None:
        raise ImportError("spaCy is not installed: pip install spacy")
    spec = importlib.util.spec_from_file_location("_kgsolver_spacy_en_stop_words",
                                                  Path(package.origin).parent / "lang" / "en" / "stop_words.py")
    if spec is None or spec.loader is None:
        raise ImportError("spaCy's English stop-word list was not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.STOP_WORDS)


def split_sentences(text: str) -> list[str]:
    """The one sentence splitter (ingest's sentence index, the filters, the conflict suite): white space folded, then
    spaCy's sentencizer."""
    folded = " ".join(text.split())
    if not folded:
        return []
    return [s.text.strip() for s in _sentencizer()(folded).sents if s.text.strip()]


def title_name(title: str) -> str:
    """The name a page title gives its subject: "Catawissa (tugboat)" -> "Catawissa", "Waterford, New York" ->
    "Waterford"."""
    return re.split(r"\s*[(,]", title or "", maxsplit=1)[0].strip()


_ARTICLES = {"the", "a", "an", "of"}


def content_words(text: str) -> set[str]:
    """The normalised words of a short answer, without articles: "The Beatles" and "Beatles" share all of theirs."""
    return set(normal(text).split()) - _ARTICLES


# A phrase between double quotes (straight or curly); single quotes are left out, they are apostrophes too often.
_QUOTED = re.compile(r'["\u201c\u201d]([^"\u201c\u201d]{2,80})["\u201c\u201d]')


def quoted_phrases(question: str) -> list[str]:
    """The phrases a question quotes ('a song called "Counterparts"'), normalised; under 3 characters (a quoted
    "Ew!") they match too much and are left out."""
    return [p for p in (normal(m) for m in _QUOTED.findall(question)) if len(p) >= 3]


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the text, normalised, contains the normalised phrase as whole words."""
    return re.search(rf"\b{re.escape(phrase)}\b", normal(text)) is not None
