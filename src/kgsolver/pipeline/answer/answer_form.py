"""Answer form: what kind of answer a question asks for, and a generated short answer brought to that form.

Exact-match scoring (and a reader) wants the span, not a sentence about it: "Yes, both are shrubs" is "yes", "Sigmund
Jähn went to space later" for "A or B?" is the option named, "He died in 1974" for "what year" is "1974". The rules
are surface rules only: they never invent an answer, they cut the generated one down to the form the question asks
for (or, for a "commonly called" question, to the alias a passage gives for the answered name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kgsolver.connectors.text import normal

# re-exported: its users import it from here too
from kgsolver.pipeline.config import AnswerFormSettings as AnswerFormSettings

AnswerKind = Literal["yes_no", "choice", "year", "date", "number", "person", "place", "alias", "other"]


@dataclass(frozen=True)
class AnswerForm:
    kind: AnswerKind
    options: tuple[str, ...] = ()  # choice: the two named options, as the question writes them


_AUX = r"(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall|may|might|must)"
# "..., A or B?" (the options after the first comma) and "Is A or B <predicate>?" (B ends at its capitalised run).
_CHOICE_TAIL = re.compile(r",\s*(?P<a>[^,]+?(?:,\s*(?:Inc|Ltd|Jr|Sr)\.?)?),?\s+or\s+(?P<b>.+?)\s*\??\s*$", re.I)
_CHOICE_AUX = re.compile(rf"^{_AUX}\s+(?P<a>.+?)\s+or\s+(?P<b>.+?)\s*\??\s*$", re.I)
_YES_NO = re.compile(rf"^{_AUX}\s", re.I)
_ALIAS = re.compile(r"\bnick\s?name|\bfamiliar name|\bmoniker\b|"
                    r"\b(?:called|known as|referred to as|nicknamed)\s*\??\s*$", re.I)
_YEAR_Q = re.compile(r"\b(?:what|which)\s+year\b|\byear\s+(?:did|was|were|is)\b", re.I)
_DATE_Q = re.compile(r"^\s*when\b|\bwhat date\b|\bbirthday\b|\b(?:on|in) what date\b|\bwhen (?:was|did|is|were)\b",
                     re.I)
_NUMBER_Q = re.compile(r"\bhow (?:many|much|long|old|tall|far|high|big|large|deep|wide)\b|"
                       r"\bwhat (?:number|percentage|population)\b", re.I)
_PERSON_Q = re.compile(r"^\s*(?:who|whom)\b|\b(?:which|what) (?:person|man|woman|actor|actress|singer|author|writer|"
                       r"player|footballer|director|politician|musician|composer|artist|painter)\b", re.I)
_PLACE_Q = re.compile(r"^\s*where\b|\bwhere (?:is|was|are|were|did|does)\b|\b(?:which|what) (?:city|country|state|"
                      r"town|county|village|region|province|continent|island|place)\b", re.I)


def _option_b(text: str, with_aux: bool) -> str:
    """The second option; after "Is A or B ...", B is its leading capitalised words ("John Wayne Airport further
    west" -> "John Wayne Airport")."""
    text = text.strip().rstrip("?").strip()
    if not with_aux:
        return text
    words = text.split()
    keep = 0
    for i, word in enumerate(words):
        if word[:1].isupper() or word[:1].isdigit():
            keep = i + 1
        elif word.lower() not in {"of", "the", "and", "de", "v.", "&"}:
            break
    return " ".join(words[:keep]) or text


def named_pair(question: str, joiner: str) -> tuple[str, str] | None:
    """The capitalised names on either side of the last `joiner` (" or ", " and "): "Who was born first Iain Pears or
    Richard Llewellyn?", "Were the Commodore 16 and Prológica CP-400 from the same country?"; None unless both sides
    are names."""
    before, found, after = question.rpartition(joiner)
    if not found:
        return None
    words = before.split()
    start = len(words)
    while start > 1 and (words[start - 1][:1].isupper() or words[start - 1][:1].isdigit()
                         or (words[start - 1].lower() in _NAME_JOINERS and start < len(words))):
        start -= 1
    while start < len(words) and words[start].lower() in _NAME_JOINERS:
        start += 1
    a, b = " ".join(words[start:]), _option_b(after, with_aux=True)
    named = all(o[:1].isupper() or o[:1].isdigit() for o in (a, b))
    return (a, b) if a and b and named else None


_NAME_JOINERS = {"of", "the", "de", "and", "&"}


def detect_form(question: str) -> AnswerForm:
    """The answer kind a question asks for; for a choice between two named options, the options."""
    q = " ".join(question.split())
    if " or " in q:
        tail = _CHOICE_TAIL.search(q)
        if tail:
            return AnswerForm("choice", (tail["a"].strip(), _option_b(tail["b"], with_aux=False)))
        aux = _CHOICE_AUX.match(q)
        if aux:
            return AnswerForm("choice", (aux["a"].strip(), _option_b(aux["b"], with_aux=True)))
        bare = named_pair(q, " or ")  # "Who was born first Iain Pears or Richard Llewellyn?" (no comma)
        if bare:
            return AnswerForm("choice", bare)
    for kind, pattern in (("yes_no", _YES_NO), ("alias", _ALIAS), ("year", _YEAR_Q), ("date", _DATE_Q),
                          ("number", _NUMBER_Q), ("person", _PERSON_Q), ("place", _PLACE_Q)):
        if pattern.search(q):
            return AnswerForm(kind)  # type: ignore[arg-type]  # the kinds above are AnswerKind literals
    return AnswerForm("other")


# What a reader writes when it has no answer (the grounded, closed-book and comparison-value replies alike).
_UNKNOWN = {"", "unknown", "none", "n/a", "not found", "i don't know", "no answer"}


def is_unknown(answer: str | None) -> bool:
    return answer is None or normal(answer) in _UNKNOWN


def echoes(answer: str, question: str, form: AnswerForm | None) -> bool:
    """Whether the answer is only words the question already says (whole words, after normalisation). Never for a
    yes/no question or one naming its options ("A or B"), whose answer the question may well contain."""
    said = normal(answer)
    if not said or (form is not None and form.kind in ("yes_no", "choice")) or " or " in question.lower():
        return False
    return f" {said} " in f" {normal(question)} "


_LEAD = re.compile(r"^(?:the\s+)?(?:final\s+|short\s+)?answer\s*(?:is|:)\s*|^(?:it|this|that|he|she|they)\s+"
                   r"(?:is|was|are|were)\s+(?=\S)", re.I)
_QUOTES = "\"'`“”‘’«»"
_EXPLANATION = re.compile(r"\s+(?:because|since|as it|as they|as he|as she)\b.*$|\s*[(;].*$|\s+[-–—]\s+.*$", re.I)


def clean(answer: str) -> str:
    """Every kind: no leading "The answer is", no surrounding quotes, no trailing explanation or full stop."""
    text = " ".join(answer.split())
    text = _LEAD.sub("", text).strip()
    cut = _EXPLANATION.sub("", text).strip()
    text = cut or text
    return text.rstrip(".,;:!").strip().strip(_QUOTES).strip()


_YES = re.compile(r"^(?:yes|true|correct)\b", re.I)
_NO = re.compile(r"^(?:no|false|incorrect|neither)\b", re.I)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
# The one month table: names and abbreviations -> month number (a date is cut to its span here, parsed in
# pipeline/answer/compare.py); the pattern tries the longest name first.
MONTHS = {m: n for n, names in enumerate((("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
                                          ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
                                          ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
                                          ("dec", "december")), start=1) for m in names}
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_MONTH = rf"(?:{MONTH_NAMES})\.?"
_DATE = re.compile(rf"\b(?:\d{{1,2}}\s+{_MONTH},?\s+\d{{3,4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{3,4}}|{_MONTH}\s+\d{{3,4}}|"
                   rf"\d{{3,4}})\b", re.I)
_NUMBER = re.compile(r"(?:\d[\d,.]*\d|\d)(?:\s+(?:million|billion|thousand|hundred|trillion))?", re.I)


def _choice(text: str, options: tuple[str, ...]) -> str:
    """The one option the answer names (or that contains the whole answer); the answer itself when it names both or
    neither."""
    said = normal(text)
    named = [o for o in options if normal(o) and normal(o) in said]
    if len(named) != 1:
        named = [o for o in options if said and said in normal(o)]
    return named[0] if len(named) == 1 else text


def _alias(text: str, passages: Sequence[str], window: int) -> str:
    """The alias a passage gives right after the answered name ("Tottenham Hotspur Football Club, commonly referred
    to as Spurs, ...") -> "Spurs"; the answer itself when no passage gives one."""
    # The answered name as written, else its leading words, longest first (an abbreviated ending: "Tottenham Hotspur
    # F.C" is written "Tottenham Hotspur Football Club"), else its last word ("Brian Bosworth" in "Brian Keith
    # Bosworth, nicknamed ...").
    words = text.lower().split()
    needles = [" ".join(words[:n]) for n in range(len(words), 1, -1)] + (words[-1:] if len(words) > 1 else [])
    for passage in passages:
        found_at = [(passage.lower().find(n), n) for n in needles]
        at, needle = next(((i, n) for i, n in found_at if i >= 0), (-1, ""))
        if at < 0:
            continue
        after = _EMPTY_PARENS.sub("", passage[at + len(needle): at + len(needle) + window])
        found = _ALIAS_IN_TEXT.search(after)
        alias = _distinct_alias(found and (found["quoted"] or found["bare"]).strip() or "", text)
        if alias and len(alias.split()) <= 6:
            return alias
    return text


# Wikipedia's stripped pronunciations leave "( )" behind: "commonly referred to simply as Tottenham ( ) or Spurs".
_EMPTY_PARENS = re.compile(r"\s*\(\s*\)")


def _distinct_alias(alias: str, name: str) -> str:
    """Of "A or B", the first alias that is not just a word of the name itself ("Tottenham or Spurs" for Tottenham
    Hotspur Football Club -> "Spurs"); the whole alias when there is no choice."""
    options = [o.strip() for o in re.split(r"\s+or\s+", alias) if o.strip()]
    words = set(normal(name).split())
    distinct = [o for o in options if not set(normal(o).split()) <= words]
    return (distinct or options or [""])[0]


# After "called", "known as", ...: a quoted alias, or a capitalised one (optionally after "the") up to punctuation or
# the next verb ("..., commonly referred to as Spurs, is an English football club").
_ALIAS_IN_TEXT = re.compile(r"\b(?:called|(?:known|referred to)(?:\s+(?:simply|commonly|often|usually|also|popularly))?"
                            r"\s+as|nicknamed|nickname(?: is| was)?)\s+(?:"
                            r"[\"“‘'](?P<quoted>[^\"”’]{1,60})[\"”’']|"
                            r"(?P<bare>(?:the\s+)?[A-Z][^,.;()\"]*?)(?=[,.;()]|\s+(?:is|was|are|were|and|by|in|for)\b|$))")


def shape_answer(answer: str, form: AnswerForm, passages: Sequence[str] = (), *, alias_window_chars: int = 160) -> str:
    """The generated answer brought to the form the question asks for (see the module docstring). `passages` are the
    texts the answer was read from; only the alias rule uses them."""
    text = clean(answer)
    if not text:
        return text
    if form.kind == "yes_no":
        return "yes" if _YES.match(text) else "no" if _NO.match(text) else text
    if form.kind == "choice":
        return _choice(text, form.options)
    if form.kind == "year":
        year = _YEAR.search(text)
        return year.group(1) if year else text
    if form.kind == "date" and not _DATE.fullmatch(text):
        date = _DATE.search(text)
        return date.group(0) if date else text
    if form.kind == "number" and len(text.split()) > 3:
        number = _NUMBER.search(text)
        return number.group(0) if number else text
    if form.kind == "alias":
        return _alias(text, passages, alias_window_chars)
    return text


def formed_answer(answer: str, asked: AnswerForm | None, form: AnswerFormSettings | None,
                  passages: Sequence[str] = ()) -> str:
    """A reader's answer as both answer steps keep it (the grounded one and the closed-book one): without surrounding
    spaces or a final period and, when the answer-form step is on, brought to the form the question asks for
    (`shape_answer`; `passages`: the texts it was read from, none for a closed-book answer)."""
    answer = answer.strip().strip(".")
    if form is not None and form.enabled and asked is not None:
        answer = shape_answer(answer, asked, passages, alias_window_chars=form.alias_window_chars)
    return answer
