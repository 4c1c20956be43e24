"""Same-kind substitute answers for the counterfactual and assumption conditions (KAFT's "another entity of the same
kind"), typed as finely as the shared data allows, most specific first:

1. the answer names a Wikipedia page of the corpus: its kind is the head noun of the page's definition ("Wale ... is an
   American rapper" -> rapper; "The Apalachee are a Native American people" -> people); the substitutes are the other
   pages defined by the same noun (another rapper, another people);
2. otherwise the noun the question asks for, when pages of the corpus are defined by it ("In what city ...": another
   page defined as a city, where the spaCy label GPE would also allow a country);
3. otherwise its spaCy entity label, voted over every mention in the passages (one sentence can mislabel "Murcia");
   the substitutes are the names with that label in the passages and the other answers of that label;
4. otherwise its surface kind (`answer_kind`: a span of years, date, number, name); a span of years takes another
   span from the passages, in the answer's wording; a lower-case answer ("goalkeeper") takes the passages'
   lower-case noun phrases as substitutes.

Among the candidates of the kind, the nearest to the answer by embedding that is not a paraphrase of it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgsolver.connectors.text import normal, title_name

if TYPE_CHECKING:
    import numpy as np
    from spacy.language import Language
    from spacy.tokens import Doc, Token

    from kgsolver.connectors.embedders import Embedder

_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = re.compile(rf"(\d{{1,2}} )?({_MONTH} )?(\d{{1,2}}, )?\d{{3,4}}|{_MONTH} \d{{1,2}}", re.I)
_YEARS = re.compile(r"\b(1\d{3}|20\d{2})\s*(-|–|—|to|until|till|through)\s*(1\d{3}|20\d{2})\b")
_QUANTIFIERS = {"few", "many", "several", "some", "most", "more", "all", "other", "such", "each", "every"}
_GENERIC_NOUNS = {"name", "term", "one", "part", "member", "type", "kind", "form", "list", "number", "title"}


def answer_kind(answer: str) -> str:
    if _YEARS.search(answer):
        return "years"
    if _DATE.fullmatch(answer.strip()):
        return "date"
    if re.fullmatch(r"[\d,.\s%]+", answer):
        return "number"
    words = [w for w in answer.split() if w.lower() not in {"the", "of", "and", "de", "a"}]
    if words and all(w[:1].isupper() or w[:1].isdigit() for w in words):
        return "name" + ("1" if len(words) == 1 else "+")
    return "other"


def definition_noun(doc: Doc) -> str | None:
    """The head noun of a page's defining phrase: the first noun phrase after the first "is / was / are" of its
    first sentence ("... is an American rapper" -> "rapper"); None for generic heads ("a name for ...")."""
    sentence = next(iter(doc.sents), doc)
    copula = next((t for t in sentence if t.lemma_ == "be"), None)
    if copula is None:
        return None
    # The phrase right after the copula (adverbs between allowed): "is also an American rapper", not "is in the city".
    chunk = next((c for c in doc.noun_chunks if c.start > copula.i
                  and all(t.pos_ == "ADV" for t in doc[copula.i + 1:c.start])), None)
    if chunk is None or chunk.root.pos_ != "NOUN":
        return None
    noun = chunk.root.text.lower()  # the root's text: the pipeline runs without a lemmatizer
    return None if noun in _GENERIC_NOUNS else noun


_VAGUE_ASKS = {"year", "time", "sort", "way", "extent", "date", "age", "percentage", "amount"}


def asked_noun(doc: Doc) -> str | None:
    """The noun a question asks for: "In what city ...", "Which Australian city ..." -> city; None for vague ones
    ("which year", "what sort of"). The parse's det link first; else the last noun of the run of modifiers and
    nouns after "which / what" (the small parser attaches "Which" to the verb in "Which Australian city contains")."""
    for token in doc:
        if token.lower_ in ("which", "what"):
            head = token.head if token.dep_ == "det" and token.head.pos_ == "NOUN" else _noun_after(doc, token.i)
            noun = head.text.lower() if head is not None else None
            if noun and noun not in _GENERIC_NOUNS and noun not in _VAGUE_ASKS:
                return noun
    return None


def _noun_after(doc: Doc, i: int) -> Token | None:
    last: Token | None = None
    for token in doc[i + 1:i + 6]:
        if token.pos_ not in ("ADJ", "NOUN", "PROPN", "NUM"):
            break
        last = token if token.pos_ == "NOUN" else last
    return last


def _same_entity(answer: str, text: str) -> bool:
    """A mention is the answer when it is the answer, contains it, or covers most of it ("1986 to 2013" in
    "from 1986 to 2013"; "2009" alone does not make "2009 Big 12 Conference" a date)."""
    a, t = normal(answer), normal(text)
    return bool(a and t) and (a == t or a in t or (t in a and len(t) >= 0.6 * len(a)))


@dataclass
class KindIndex:
    kinds: dict[str, str]  # answer -> kind ("def:rapper", "PERSON", "other", ...)
    pool: dict[str, set[str]] = field(default_factory=dict)  # kind -> candidate substitutes
    asked: dict[str, str] = field(default_factory=dict)  # question -> the noun it asks for ("what city" -> city)


def build_kind_index(answers_with_sentence: dict[str, str | None], passages: list[str], pages: dict[str, str],
                     nlp: Language, max_passages: int = 500, questions: Sequence[str] = ()) -> KindIndex:
    """answers_with_sentence: answer -> the gold sentence that states it (None if none does); passages: gold
    texts, entity and phrase candidates are drawn from (up to `max_passages` of) them; pages: title -> the page's
    opening text, for definition nouns; questions: for the noun each asks for."""
    defined: dict[str, str] = {}  # normal(page name) -> definition noun
    names: dict[str, str] = {}
    titles = sorted(pages)
    docs = nlp.pipe((pages[t][:300] for t in titles), batch_size=64, disable=["ner"])
    for title, doc in zip(titles, docs, strict=True):
        if noun := definition_noun(doc):
            defined[normal(title_name(title))] = noun
            names[normal(title_name(title))] = title_name(title)
    pool: dict[str, set[str]] = {}
    for key, noun in defined.items():
        pool.setdefault(f"def:{noun}", set()).add(names[key])

    votes: dict[str, Counter[str]] = {a: Counter() for a in answers_with_sentence}
    texts = [s for s in answers_with_sentence.values() if s]
    texts += random.Random(0).sample(sorted(set(passages)), min(max_passages, len(set(passages))))
    for doc in nlp.pipe(texts, batch_size=64):
        for ent in doc.ents:
            if 1 <= len(ent.text.split()) <= 6 and len(normal(ent.text)) > 1:
                pool.setdefault(ent.label_, set()).add(ent.text.strip())
            for answer in votes:
                if _same_entity(answer, ent.text):
                    votes[answer][ent.label_] += 1
        for chunk in doc.noun_chunks:
            text = chunk.text.strip()
            if (text.islower() and 1 <= len(text.split()) <= 4 and chunk.root.pos_ == "NOUN"
                    and not any(t.tag_ in ("JJS", "RBS") or t.lower_ in _QUANTIFIERS for t in chunk)):
                pool.setdefault("other", set()).add(re.sub(r"^(the|a|an|his|her|its|their) ", "", text))
        pool.setdefault("years", set()).update(m.group(0) for m in _YEARS.finditer(doc.text))

    kinds = {}
    for answer, counter in votes.items():
        page_noun = defined.get(normal(answer)) or _page_noun_by_stem(answer, defined)
        surface = answer_kind(answer)
        if page_noun:
            kinds[answer] = f"def:{page_noun}"
        elif counter and (surface != "other" or any(c.isdigit() for c in answer)):
            kinds[answer] = counter.most_common(1)[0][0]
        else:
            kinds[answer] = surface
        pool.setdefault(kinds[answer], set()).add(answer)
    asked = {q: noun for q, doc in zip(questions, nlp.pipe(questions, disable=["ner"]), strict=True)
             if (noun := asked_noun(doc))}
    return KindIndex(kinds, pool, asked)


def _page_noun_by_stem(answer: str, defined: dict[str, str]) -> str | None:
    """A plural or inflected answer naming a page ("Apalachees" -> the page "Apalachee")."""
    key = normal(answer)
    if len(key) < 5:
        return None
    for stem in (key[:-1], key[:-2]):
        if stem in defined:
            return defined[stem]
    return None


class Substitutes:
    """Same-kind substitute answers, the nearest by embedding when an embedder is given (else a seeded random one).
    Names are embedded per kind on first use and kept, so a second build with the same embedder costs nothing."""

    def __init__(self, index: KindIndex, embedder: Embedder | None = None, max_similarity: float = 0.8) -> None:
        self.kinds, self.pool, self.asked = index.kinds, {k: sorted(v) for k, v in index.pool.items()}, index.asked
        self.embedder, self.max_similarity = embedder, max_similarity
        self.vectors: dict[str, np.ndarray] = {}  # kind -> its names' vectors

    def kind(self, answer: str, question: str = "") -> str:
        """The answer's own page definition first; else the noun the question asks for, when pages are defined by
        it ("In what city ...": another city, not a country of the same spaCy label); else the answer's kind."""
        own = self.kinds.get(answer) or answer_kind(answer)
        asked = self.asked.get(question)
        if not own.startswith("def:") and asked and f"def:{asked}" in self.pool:
            return f"def:{asked}"
        return own

    def pick(self, answer: str, forbidden_text: str, rng: random.Random, question: str = "") -> str | None:
        """The substitute for `answer`: of its kind, not named in `forbidden_text` (the gold passages and the
        question), about as long, and not a paraphrase. A kind taken from the question with no usable name falls
        back on the answer's own kind."""
        return self.pick_with_kind(answer, forbidden_text, rng, question)[0]

    def pick_with_kind(self, answer: str, forbidden_text: str, rng: random.Random,
                       question: str = "") -> tuple[str | None, str]:
        own = self.kind(answer)
        for kind in dict.fromkeys((self.kind(answer, question), own)):
            if chosen := self._pick_of_kind(kind, answer, forbidden_text, rng):
                return chosen, kind
        return None, own

    def _pick_of_kind(self, kind: str, answer: str, forbidden_text: str, rng: random.Random) -> str | None:
        text, key = normal(forbidden_text), normal(answer)
        names = self.pool.get(kind, [])
        ok = [i for i, o in enumerate(names) if (n := normal(o)) and n not in text and key not in n and n not in key
              and n not in {"yes", "no"} and (kind == "years" or abs(len(o.split()) - len(answer.split())) <= 1)]
        if not ok:
            return None
        chosen = (self._nearest(self.embedder, kind, names, ok, answer) if self.embedder is not None
                  else names[rng.choice(ok)])
        return _in_answer_wording(answer, chosen) if chosen and kind == "years" else chosen

    def _nearest(self, embedder: Embedder, kind: str, names: list[str], ok: list[int], answer: str) -> str | None:
        if kind not in self.vectors:
            self.vectors[kind] = embedder.encode(names)
        sims = self.vectors[kind][ok] @ embedder.encode([answer])[0]
        # The nearest that is not a paraphrase of the answer ("U.S." vs "United States" would edit nothing).
        ranked = sorted((float(-v), names[i]) for v, i in zip(sims, ok, strict=True) if v < self.max_similarity)
        return ranked[0][1] if ranked else None


def _in_answer_wording(answer: str, years: str) -> str:
    """"1978-2012" as a substitute for "from 1986 to 2013" reads "from 1978 to 2012"."""
    new, old = _YEARS.search(years), _YEARS.search(answer)
    assert new is not None and old is not None, "called only for a years kind, whose pool and answer are year ranges"
    return answer[:old.start(1)] + new.group(1) + answer[old.end(1):old.start(3)] + new.group(3) + answer[old.end(3):]
