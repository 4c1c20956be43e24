"""Reader prompt options (the `answer_form` block's `few_shot`, `compare` and `passage_order`): worked examples of short
answers shown before the question, the explicit comparison asked of which-of-two and yes/no questions, and the order
of the passages.

The examples are invented (made-up people, places and works, so no benchmark question and no fact the model may know
is in them); they show the answer forms small models get wrong: the attribute the question asks for rather than the
entity it is about, one of two named options as the question writes it, and a bare yes or no.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langchain_core.documents import Document
from pydantic import BaseModel, Field, create_model

from kgsolver.connectors.text import title_name
from kgsolver.pipeline.answer.answer_form import AnswerForm

# (passages as (title, text), question, the JSON reply)
EXAMPLES: tuple[tuple[tuple[tuple[str, str], ...], str, str], ...] = (
    ((("Marsh Lantern", "Marsh Lantern is a 1998 novel by Ilse Varga, set in a fishing town on the Baltic coast."),
      ("Ilse Varga", "Ilse Varga (born 1961) is a Hungarian writer and translator who lives in Szeged.")),
     "What nationality is the author of the novel Marsh Lantern?",
     '{"answer": "Hungarian", "passages": [1, 2]}'),
    ((("Corvin Bridge", "The Corvin Bridge is a road bridge over the river Tessa in Varo, opened in 1931."),
      ("Aldmoor Viaduct", "The Aldmoor Viaduct is a stone railway viaduct in Kelby, completed in 1874.")),
     "Which opened first, the Corvin Bridge or the Aldmoor Viaduct?",
     '{"answer": "Aldmoor Viaduct", "passages": [1, 2]}'),
    ((("Teodor Malec", "Teodor Malec (1902-1977) was a Polish composer of film scores and chamber music."),
      ("Rosa Indrani", "Rosa Indrani (born 1970) is an Indian painter known for her temple murals.")),
     "Were Teodor Malec and Rosa Indrani both composers?",
     '{"answer": "no", "passages": [1, 2]}'),
)


def example_turns() -> list[tuple[list[Document], str, str]]:
    """Each worked example as (passages, question, reply), for the chat template's earlier turns."""
    return [([Document(page_content=text, metadata={"title": title}) for title, text in passages], question, reply)
            for passages, question, reply in EXAMPLES]


def comparison_options(form: AnswerForm | None) -> tuple[str, ...]:
    """The answers a compared question allows: the two options named, or yes and no; () for any other question."""
    if form is None:
        return ()
    if form.kind == "choice" and len(form.options) == 2:
        return form.options
    return ("yes", "no") if form.kind == "yes_no" else ()


def comparison_note(options: tuple[str, ...]) -> str:
    """What the compared question asks of the reader, after the question."""
    allowed = " or ".join(f'"{o}"' for o in options)
    return ("\nThis question compares two things. In \"facts\", first write what the passages say about each of them "
            f"that the question asks; then \"answer\" with {allowed}, exactly as written here.")


def comparison_reply(options: tuple[str, ...], facts_chars: int) -> type[BaseModel]:
    """The reply schema of a compared question: the facts first (so they are written before the answer), then an
    answer constrained to the options."""
    answer: Any = Literal[options]  # the options are runtime strings: a Literal built at run time
    return create_model("ComparedReply", facts=(str, Field(max_length=facts_chars)), answer=(answer, ...),
                        passages=(list[int], Field(default_factory=list, max_length=10)))


def names_title(question: str, doc: Document) -> bool:
    """Whether the question writes the passage's title's name ("Catawissa (tugboat)" -> "Catawissa") as whole words
    and with the title's capitals: case counts so that a page named by a common word ("It", "Time") is not matched
    by that word in a question."""
    name = " ".join(title_name(doc.metadata.get("title", "")).split())
    return bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", question) is not None


def hop_order(question: str, documents: list[Document]) -> list[Document]:
    """The passages whose title the question names (`names_title`) first, then the others, each group in the order
    given. A bridge question names its first hop and a comparison both sides: a small reader reads those before the
    passages retrieval ranked above them."""
    named = [names_title(question, d) for d in documents]
    pairs = list(zip(documents, named, strict=True))
    return [d for d, n in pairs if n] + [d for d, n in pairs if not n]
