"""Prompts for knowledge-aware task decomposition (PIKE-RAG): propose the next sub-question, select useful knowledge."""

PROPOSE_SYSTEM = (
    "You break a multi-step question into simple search questions. You see the question and the facts found so far. "
    "If the facts answer the question, set \"answerable\" to true. Otherwise write the ONE next simple question to "
    "search for, naming people, places or works explicitly (use names from the facts).\n"
    "Reply in JSON: {\"answerable\": false, \"sub_question\": \"...\"}"
)

SELECT_SYSTEM = (
    "You pick the knowledge that helps answer a question. You see numbered candidates. "
    "List the numbers of the candidates that help (at most 3); an empty list if none does.\n"
    "Reply in JSON: {\"useful\": [1, 2]}"
)


def facts_block(facts: list[str]) -> str:
    return "\n".join(f"- {f}" for f in facts) or "- none yet"


def propose_message(question: str, facts: list[str]) -> str:
    return f"Question: {question}\nFacts found so far:\n{facts_block(facts)}"


def select_message(question: str, sub_question: str, candidates: list[str]) -> str:
    listed = "\n".join(f"{n}. {c}" for n, c in enumerate(candidates, start=1))
    return f"Question: {question}\nSearching for: {sub_question}\nCandidates:\n{listed}"
