"""Instruction guard: retrieved text is data, never instructions.

First layer, by construction: the generation prompt quotes every passage inside its own delimited block, neutralises
delimiter look-alikes in the passage text (pipeline/answer/generate.py), and tells the model that passages are data; the
preference policy comes from the configuration or the caller, never from passage text.

This filter is the second layer, and deletes only what was measured safe to delete: role markers (fake tags, "##
SYSTEM" headers, chat-template tokens, [INST], code fences) with the text a commanding marker opens, and sentences
matching patterns with zero false positives on the supporting sentences of the shared HotpotQA and KILT sets
(tests/unit/test_untrusted_text.py, benchmarks/injection_guard.py): "ignore the previous instructions" in a few
languages and notes addressed to the model. Matching runs on a folded copy of the sentence (NFKC, zero-width and bidi
characters dropped, Cyrillic and Greek look-alikes mapped to Latin), and a keyword spelled out letter by letter
("i g n o r e") is flagged. Ordinary prose ("an assistant to the chemist", "Transport mode:", "answer with") is never
touched: an earlier, broader pattern list deleted real evidence (issue 19). Figures: docs/RESULTS.md.
"""

from __future__ import annotations

import re
import unicodedata

from langchain_core.documents import Document

from kgsolver.pipeline.answer.filters.base import (
    FilterReport,
    FilterResult,
    Removed,
    doc_ref,
    split_sentences,
    with_text,
)

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
