"""The `answer_form` block of KGSolverConfig (the answer-form step itself is pipeline/answer/answer_form.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AnswerFormSettings(BaseModel):
    """The `answer_form` block of KGSolverConfig: how the reader is asked for an answer of the right form, and what is
    done with its reply (the prompt options are read by pipeline/answer/reader_prompt.py)."""

    # On by default: measured not to lose on held-out HotpotQA questions (docs/RESULTS.md, "Reader"), and without it
    # a bare yes or no, which no passage contains, is treated as ungrounded.
    enabled: bool = Field(True, description="bring the generated short answer to the form the question asks for "
                                           "(yes/no, one of two named options, a year, a date, a number, an alias)")
    alias_window_chars: int = Field(160, description="an alias ('commonly called X') counts for the answered name "
                                                     "only this close after it in a passage")
    few_shot: bool = Field(False, description="show the reader worked examples of short answers (invented passages, "
                                              "earlier turns of the chat) before the question")
    compare: bool = Field(False, description="which-of-two and yes/no questions: the reader writes the fact for each "
                                             "side first, then an answer constrained to the two options or yes/no")
    compare_facts_chars: int = Field(240, description="compare: at most this many characters of facts before the "
                                     "answer")
    # On by default: no right answer lost on HotpotQA 1-200 with either model, and 12 wrong answers of the 0.5B and
    # the 1.5B became abstentions (docs/RESULTS.md, "Issue 16, sixth session").
    retry_echo: bool = Field(True, description="an answer that only repeats words of the question (\"The Deep Blue "
                             "Sea\" for \"the actor in The Deep Blue Sea won an award for which role?\") is not the "
                             "answer: the reader is told so and answers once more; a second echo abstains")
    # On by default: two more of the 0.5B's HotpotQA answers right (one in each part); with the 1.5B one gained and one
    # lost on the choice part, nothing changed held out (docs/RESULTS.md, "Issue 16, seventh session").
    same_values: bool = Field(True, description="yes/no questions asking whether two named things share an "
                              "attribute (\"Were A and B from the same country?\"): the reader gives each one's "
                              "value in its own call and the answer is yes when the two agree "
                              "(pipeline/answer/compare.py; with compare_values)")
    # "hop" by default: chosen on HotpotQA 1-100, where it gained 5 answers and lost none over the 0.5B and the 1.5B;
    # held out it gained 3 and lost 4 (the 1.5B's naive run lost 2 net): docs/RESULTS.md, "Issue 16, seventh session".
    passage_order: Literal["rank", "hop"] = Field("hop", description=(
        "the order of the reader's passages: 'rank' as retrieval ranked them, 'hop' the passages whose title the "
        "question names first (the first hop of a bridge, both sides of a comparison), then the others in rank order"))
    # On by default: it gained on the choice part (HotpotQA 1-100) with both the 0.5B and the 1.5B and lost nothing
    # held out (101-200); docs/RESULTS.md, "Issue 16, sixth session".
    compare_values: bool = Field(True, description="which-of-two questions comparing a date or a number (earlier, "
                                 "younger, more, taller): the reader gives each option's value in its own call and "
                                 "the parsed values decide (pipeline/answer/compare.py); else the ordinary answer")
