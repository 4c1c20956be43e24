"""Filters that work sentence by sentence inside the kept passages: the instruction guard (retrieved text is
data, never instructions), consistency (contradictions between passages and with the user's facts) and brevity (the
sentences that matter, within a token budget). Each class says how."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from langchain_core.documents import Document

from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.text import normal, split_sentences
from kgsolver.pipeline.answer.filters import (
    FilterContext,
    FilterReport,
    FilterResult,
    Removed,
    doc_ref,
    with_text,
)
from kgsolver.pipeline.config import FILTER_DEFAULTS
from kgsolver.pipeline.retrieval import passage_sentences, sentence_vectors

# Cyrillic and Greek letters that render like Latin ones (the homoglyphs an attacker picks to dodge a pattern).
_HOMOGLYPHS = str.maketrans("аеорсухкмтнвіјѕԁɡοαιντρκΑΒΕΗΙΚΜΝΟΡΤΧΥΖАВЕКМНОРСТХІЈЅ",
                            "aeopcyxkmthbijsdgoaivtpkABEHIKMNOPTXYZABEKMHOPCTXIJS")
_SPACED = re.compile(r"\b(?:\w[ .\-_*]){4,}\w\b")  # "i g n o r e" or "i.g.n.o.r.e": five or more single letters
_ROLE = r"(?:system|assistant|user|developer|instructions?|passages?|context|documents?|data)"
_IGNORE_VERBS = (r"(?:ignore|disregard|forget|override|bypass|ignorez|oubliez|ignoriere|ignorieren|vergiss|vergessen"
                 r"|ignora|ignore[nm]|olvida|olvide|ignorar|игнорируй\w*|забудь\w*|忽略|无视|無視)")
_RULES = (r"(?:instructions?|prompts?|rules|directions|guidelines|context|passages?|documents?|consignes|anweisungen"
          r"|regeln|instrucciones|istruzioni|instruções|инструкци\w*)")
_CJK_RULES, _CJK_IGNORE = r"(?:指令|指示|命令|规则|規則|说明|說明)", r"(?:忽略|无视|無視|忽視|不要理会)"
_PATTERNS = [
    # Fake delimiters, role headers and chat-template tokens: no clean passage has them.
    rf"</?\s*{_ROLE}\s*>", rf"#{{2,}}\s*{_ROLE}\b", rf"^\W*{_ROLE}\s*(?:prompt|message)?\s*:", r"<\|\w+\|>",
    r"\[/?(?:inst|sys)\]", r"\b(?:begin|end) of (?:the )?(?:context|passages?|documents?|system prompt)\b",
    # "Ignore the previous instructions" and its translations.
    rf"{_IGNORE_VERBS}\W+(?:\w+\W+){{0,4}}{_RULES}", rf"{_RULES}\W+(?:\w+\W+){{0,3}}{_IGNORE_VERBS}",
    rf"{_CJK_IGNORE}[^。.!?]{{0,12}}{_CJK_RULES}", rf"{_CJK_RULES}[^。.!?]{{0,6}}{_CJK_IGNORE}",
    r"\bsystem prompt\b", r"\bnew (?:system )?instructions?\s*:",
    # Text that addresses the model reading it.
    r"\b(?:note|message|attention|instruction|reminder)s? (?:to|for) (?:the |any )?(?:ai|assistant|model|llm|"
    r"language model|chatbot|bot|reader model)\b",
    r"\b(?:ai|assistant|model|llm|chatbot|language model)s? (?:reading|processing|summari[sz]ing) (?:this|these)\b",
    r"\b(?:dear|hey|hello|attention) (?:ai|assistant|model|llm|chatbot)\b",
    r"\bthe user'?s (?:question|query|request)\b",
    r"\byou are (?:now )?(?:an? |the )?(?:ai|assistant|chatbot|language model|llm)\b",
    r"\b(?:as|if you are) (?:an? |the )?(?:ai|language model|llm|chatbot)\b",
    r"\byou (?:must|should|have to|are required to|will) (?:now |always |only )*(?:answer|reply|respond|say|output"
    r"|state|claim)\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I | re.M)


# A word spelled out letter by letter hides from the patterns; in clean text no such run spells one of these.
_SPELLED_KEYWORDS = re.compile(r"ignor|disregard|instruct|prompt|system|assistant|passage|answer|respond|reply", re.I)


def fold_for_matching(text: str) -> str:
    """The sentence as the patterns see it: compatibility forms folded (NFKC: full-width letters, ligatures) and
    invisible format characters (zero-width space and joiner, bidi marks) dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")


def _spelled_out(text: str) -> bool:
    return any(_SPELLED_KEYWORDS.search(re.sub(r"[ .\-_*]", "", m.group(0))) for m in _SPACED.finditer(text))


# A role marker an attacker leaves without a full stop glues itself to the next real sentence ("... ### USER: Nobody's
# Hero is a song by Rush."), and the splitter may cut a marker in two. So the guard cuts the passage at markers first,
# drops the markers, drops the text that follows a marker opening a commanding role (system, developer, [INST],
# <<SYS>>) up to the next marker, keeps the text after any other marker, and then splits and checks sentences.
_MARKER = re.compile(rf"</?\s*(?P<tag>{_ROLE})\s*>|#{{2,}}\s*(?P<head>{_ROLE})\b\s*:?|```"
                     r"|<\|\w+\|>\s*(?P<chat>system|assistant|user|developer)?\b|\[/?(?P<inst>inst|sys)\]"
                     r"|<<\s*/?\s*(?P<sys>sys)\s*>>", re.I)
_COMMANDING = {"system", "developer", "inst", "sys"}


def guard_units(text: str) -> list[tuple[str, bool]]:
    """(sentence or marker, flagged) for a passage, in order."""
    units: list[tuple[str, bool]] = []

    def add(segment: str, commanding: bool) -> None:
        units.extend((s, commanding or looks_like_instruction(s)) for s in split_sentences(segment))

    start, commanding = 0, False
    for m in _MARKER.finditer(text):
        add(text[start:m.start()], commanding)
        role = next((g for g in m.group("tag", "head", "chat", "inst", "sys") if g), "")
        commanding = "/" not in m.group(0) and role.lower() in _COMMANDING  # a closing marker commands nothing
        units.append((m.group(0).strip(), True))
        start = m.end()
    add(text[start:], commanding)
    return [(u, flagged) for u, flagged in units if u.strip(" .:;,")]


def looks_like_instruction(sentence: str) -> bool:
    """Matched twice: as written (so Cyrillic stays Cyrillic for the Russian pattern) and with look-alike letters
    mapped to Latin (so "Ignоrе" with Cyrillic о and е is still "Ignore")."""
    folded = fold_for_matching(sentence)
    return bool(_INJECTION.search(folded) or _INJECTION.search(folded.translate(_HOMOGLYPHS)) or _spelled_out(folded))


# The unanchored form of the role-label pattern ("System: ..." opens a sentence mid-passage, where `^` cannot see it).
_ROLE_LABEL = re.compile(rf"{_ROLE}\s*(?:prompt|message)?\s*:", re.I)


def may_instruct(text: str) -> bool:
    """False only when no sentence of `text` can be flagged: every per-sentence pattern but the anchored role label is
    unanchored, so a sentence's match is a match in the whole passage, and the role label is checked unanchored. Most
    passages end here, without running the sentence splitter."""
    folded = fold_for_matching(text)
    return bool(_MARKER.search(text) or looks_like_instruction(text) or _ROLE_LABEL.search(folded)
                or _ROLE_LABEL.search(folded.translate(_HOMOGLYPHS)))


class InstructionGuardFilter:
    """Instruction guard: retrieved text is data, never instructions.

    First layer, by construction: the generation prompt quotes every passage inside its own delimited block, neutralises
    delimiter look-alikes in the passage text (pipeline/answer/generate.py), and tells the model that passages are data;
    the preference policy comes from the configuration or the caller, never from passage text.

    This filter is the second layer, and deletes only what was measured safe to delete: role markers (fake tags, "##
    SYSTEM" headers, chat-template tokens, [INST], code fences) with the text a commanding marker opens, and sentences
    matching patterns with zero false positives on the supporting sentences of the shared HotpotQA and KILT sets
    (tests/unit/test_untrusted_text.py, benchmarks/injection_guard.py): "ignore the previous instructions" in a few
    languages and notes addressed to the model. Matching runs on a folded copy of the sentence (NFKC, zero-width and
    bidi characters dropped, Cyrillic and Greek look-alikes mapped to Latin), and a keyword spelled out letter by letter
    ("i g n o r e") is flagged. Ordinary prose ("an assistant to the chemist", "Transport mode:", "answer with") is
    never touched: an earlier, broader pattern list deleted real evidence (issue 19). Figures: docs/RESULTS.md."""

    name = "instruction_guard"

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        kept, removed = [], []
        for doc in documents:
            text = " ".join(doc.page_content.split())
            if text and not may_instruct(text):
                kept.append(doc)
                continue
            sentences = guard_units(text)
            clean = [s for s, flagged in sentences if not flagged]
            for s, flagged in sentences:
                if flagged:
                    removed.append(Removed(kind="sentence", ref=doc_ref(doc),
                                           reason="instruction inside retrieved text", detail=s[:160]))
            if clean:
                kept.append(doc if len(clean) == len(sentences) else with_text(doc, " ".join(clean)))
            elif sentences:
                removed.append(Removed(ref=doc_ref(doc), reason="passage consists only of instructions"))
        return FilterResult(kept, FilterReport(filter=self.name, kept=len(kept), removed=removed))


_VALUE = re.compile(r"\b\d[\d,.]*\b|\b[A-Z][\w'’-]*(?:\s+(?:of|de|the|von|van|[A-Z][\w'’-]*))*")
_STOP_CAPS = {"the", "a", "an", "in", "on", "it", "he", "she", "they", "this", "that", "his", "her", "its", "there"}


def values(text: str) -> set[str]:
    found = set()
    for match in _VALUE.findall(text):
        value = normal(match)
        if value and value not in _STOP_CAPS:
            found.add(value)
    return found


def conflicting_values(a: str, b: str) -> tuple[set[str], set[str]] | None:
    """The values only `a` names and only `b` names, when both are non-empty (a contradiction candidate)."""
    va, vb = values(a), values(b)
    na, nb = normal(a), normal(b)
    only_a = {v for v in va - vb if v not in nb}
    only_b = {v for v in vb - va if v not in na}
    return (only_a, only_b) if only_a and only_b else None


class ConsistencyFilter:
    """Factuality / consistency: cross-check evidence sentences against each other and against facts the user stated,
    and mark contradictions.

    Cheap, no LLM: two statements contradict when they are about the same thing (embedding similarity above a threshold)
    but each names a value the other does not (numbers, years, capitalised names). Passage-vs-passage contradictions are
    marked on the Documents (`metadata["contradictions"]`) and reported; sentences that contradict a user-stated fact
    are removed (the user's knowledge outranks retrieved text). KG facts arrive as passages (the KG-walk tools), so they
    are cross-checked like any other passage."""

    name = "consistency"

    def __init__(self, embedder: Embedder, *, user_facts: list[str] | None = None,
                 similarity: float = FILTER_DEFAULTS.consistency_similarity,
                 user_similarity: float = FILTER_DEFAULTS.user_fact_similarity) -> None:
        self.embedder = embedder
        self.user_facts = [f for f in (user_facts or []) if f.strip()]
        self.similarity = similarity
        self.user_similarity = user_similarity

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        units = [(d, s) for d, doc in enumerate(documents) for s in passage_sentences(self.embedder, doc)]
        if not units:
            return FilterResult(documents, FilterReport(filter=self.name, kept=len(documents)))
        # Sentences carry their passage title ("She was born in ..." keeps its subject); ingest stored their vectors.
        sent_vecs = np.concatenate([sentence_vectors(self.embedder, doc, [s for dd, s in units if dd == d])
                                    for d, doc in enumerate(documents)])
        fact_vecs: np.ndarray | list[np.ndarray] = self.embedder.encode(self.user_facts) if self.user_facts else []
        removed: list[Removed] = []
        dropped: set[int] = set()
        marks: dict[int, list[str]] = {}
        for fact, fact_vec in zip(self.user_facts, fact_vecs, strict=True):
            sims = sent_vecs @ fact_vec
            for i, (d, sentence) in enumerate(units):
                if sims[i] < self.user_similarity or not (diff := conflicting_values(sentence, fact)):
                    continue
                dropped.add(i)
                removed.append(Removed(kind="sentence", ref=doc_ref(documents[d]),
                                       reason="contradicts a user-stated fact",
                                       detail=f"{sentence[:160]!r} vs user {fact[:160]!r}: {sorted(diff[0])} vs "
                                              f"{sorted(diff[1])}"))
                marks.setdefault(d, []).append(f"user: {fact[:120]}")
        sims = sent_vecs @ sent_vecs.T
        for i in range(len(units)):
            for j in range(i + 1, len(units)):
                di, dj = units[i][0], units[j][0]
                if di == dj or sims[i, j] < self.similarity or i in dropped or j in dropped:
                    continue
                if diff := conflicting_values(units[i][1], units[j][1]):
                    removed.append(Removed(kind="kept_flagged", ref=doc_ref(documents[di]),
                                           reason=f"contradicts passage {doc_ref(documents[dj])} (both kept, marked)",
                                           detail=f"{sorted(diff[0])} vs {sorted(diff[1])}"))
                    marks.setdefault(di, []).append(f"passage {doc_ref(documents[dj])}")
                    marks.setdefault(dj, []).append(f"passage {doc_ref(documents[di])}")
        kept = []
        for d, doc in enumerate(documents):
            sentences = [s for i, (dd, s) in enumerate(units) if dd == d and i not in dropped]
            if not sentences:
                removed.append(Removed(ref=doc_ref(doc), reason="every sentence contradicts a higher-ranked source"))
                continue
            extra = {"contradictions": marks[d]} if d in marks else {}
            changed = any(i in dropped for i, (dd, _) in enumerate(units) if dd == d)
            kept.append(with_text(doc, " ".join(sentences), **extra) if changed or extra else doc)
        return FilterResult(kept, FilterReport(filter=self.name, kept=len(kept), removed=removed))


class BrevityFilter:
    """Brevity: keep the sentences that matter, within a token budget (counted with the embedder's tokenizer).

    Sentences are ranked by similarity to the question; the best are kept until the budget is spent, then restored to
    their original order within each passage. A passage's first sentence (usually naming its subject) gets a small
    bonus."""

    name = "brevity"

    def __init__(self, embedder: Embedder, *, token_budget: int = FILTER_DEFAULTS.brevity_tokens,
                 first_sentence_bonus: float = FILTER_DEFAULTS.brevity_first_sentence_bonus) -> None:
        self.embedder = embedder
        self.token_budget = token_budget
        self.first_sentence_bonus = first_sentence_bonus

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        units = [(d, j, s) for d, doc in enumerate(documents)
                 for j, s in enumerate(passage_sentences(self.embedder, doc))]
        if not units:
            return FilterResult(documents, FilterReport(filter=self.name, kept=len(documents)))
        # A sentence is scored with its passage's title in front ("She was born in ..." keeps its subject), from the
        # vectors ingest stored.
        sentences = np.concatenate([sentence_vectors(self.embedder, doc, [s for dd, _, s in units if dd == d])
                                    for d, doc in enumerate(documents)])
        scores = sentences @ self.embedder.encode([question])[0]
        ranked = sorted(range(len(units)),
                        key=lambda i: -(scores[i] + (self.first_sentence_bonus if units[i][1] == 0 else 0)))
        chosen: set[int] = set()
        spent = 0
        for i in ranked:
            cost = self.embedder.count_tokens(units[i][2])
            if spent + cost <= self.token_budget or not chosen:
                chosen.add(i)
                spent += cost
        kept, removed = [], []
        for d, doc in enumerate(documents):
            mine = [i for i, u in enumerate(units) if u[0] == d]
            keep = [units[i][2] for i in mine if i in chosen]
            for i in mine:
                if i not in chosen:
                    removed.append(Removed(kind="sentence", ref=doc_ref(doc),
                                           reason=f"over the {self.token_budget}-token budget "
                                           f"(similarity {scores[i]:.2f})", detail=units[i][2][:160]))
            if keep:
                kept.append(with_text(doc, " ".join(keep)))
            elif mine:
                removed.append(Removed(ref=doc_ref(doc), reason="no sentence within the token budget"))
        report = FilterReport(filter=self.name, kept=len(kept), removed=removed)
        return FilterResult(kept, report)


# How the configured chain builds each filter here (filters/__init__.py::FILTERS names these builders).


def instruction_guard_filter(c: FilterContext) -> InstructionGuardFilter:
    return InstructionGuardFilter()


def consistency_filter(c: FilterContext) -> ConsistencyFilter:
    s = c.settings
    return ConsistencyFilter(c.embedder, user_facts=c.user_facts, similarity=s.consistency_similarity,
                             user_similarity=s.user_fact_similarity)


def brevity_filter(c: FilterContext) -> BrevityFilter:
    return BrevityFilter(c.embedder, token_budget=c.settings.brevity_tokens,
                         first_sentence_bonus=c.settings.brevity_first_sentence_bonus)
