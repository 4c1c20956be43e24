"""Prompt for one Knowledge-Solver hop: a numbered choice list of the current node's relations."""

SYSTEM = (
    "You walk a knowledge graph to answer a question. You see the facts found so far and the relations of the "
    "current entity, numbered. Pick the number of the relation that leads toward the answer. "
    "Pick 0 if the facts found so far already answer the question.\n"
    "Reply in JSON: {\"choice\": <number>}"
)


def user_message(question: str, path: list[str], node: str, choices: list[str]) -> str:
    facts = "\n".join(f"- {p}" for p in path) or "- none yet"
    listed = "\n".join(f"{n}. {c}" for n, c in enumerate(choices, start=1))
    return f"Question: {question}\nFacts so far:\n{facts}\nCurrent entity: {node}\nRelations:\n0. stop\n{listed}"
