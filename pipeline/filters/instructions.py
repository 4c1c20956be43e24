"""Instruction guard: retrieved text is data, never instructions. Sentences that address the model ("ignore previous
instructions", "you must answer ...", "system prompt", role tags) are removed and reported before generation; the
generation prompts also fence passages as data. Neither the answer nor the preference policy can be set by a passage.
"""

from __future__ import annotations

import re

from langchain_core.documents import Document

from kgsolver.pipeline.filters.base import FilterReport, FilterResult, Removed, doc_ref, split_sentences, with_text

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context|above|previous)\b"
    r"|\b(you (must|should|have to) (now )?(answer|reply|respond|say|output))\b"
    r"|\b(answer|reply|respond) (only |always )?with\b"
    r"|\bsystem prompt\b|\bnew instructions?\b|</?(system|assistant|user|passages)>|\b(policy|mode) *[:=]"
    r"|\bas an? (ai|language model|assistant)\b",
    re.I,
)


def looks_like_instruction(sentence: str) -> bool:
    return bool(_INJECTION.search(sentence))


class InstructionGuardFilter:
    name = "instruction_guard"

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        kept, removed = [], []
        for doc in documents:
            sentences = split_sentences(doc.page_content)
            clean = [s for s in sentences if not looks_like_instruction(s)]
            for s in sentences:
                if s not in clean:
                    removed.append(Removed(kind="sentence", ref=doc_ref(doc), reason="instruction inside retrieved text",
                                           detail=s[:160]))
            if clean:
                kept.append(doc if len(clean) == len(sentences) else with_text(doc, " ".join(clean)))
            elif sentences:
                removed.append(Removed(ref=doc_ref(doc), reason="passage consists only of instructions"))
        return FilterResult(kept, FilterReport(filter=self.name, kept=len(kept), removed=removed))
