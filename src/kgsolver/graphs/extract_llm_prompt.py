"""Prompt of the LLM triple extractor (graphs/extract_llm.py)."""

SYSTEM = (
    "You extract a knowledge graph from text. For each numbered passage, list the factual (subject, predicate, "
    "object) triples it states. Subjects and objects are short names copied from the passage (people, places, "
    "organisations, works, diseases, drugs, concepts). Predicates are short lower-case verb phrases such as "
    "'member of', 'born in', 'treats'. Do not invent facts that the passage does not state. Reply with JSON only."
)


def user_message(passages: list[tuple[int, str, str]], entity_types: list[str], relation_types: list[str]) -> str:
    lines = []
    if entity_types:
        lines.append("Allowed entity types: " + ", ".join(entity_types) + ".")
    if relation_types:
        lines.append("Allowed predicates (use exactly these): " + ", ".join(relation_types) + ".")
    for n, (_, title, text) in enumerate(passages):
        lines.append(f"Passage {n} (title: {title}):\n{text}")
    lines.append('Answer as {"triples": [{"passage": N, "subject": "...", "subject_type": "...", '
                 '"predicate": "...", "object": "...", "object_type": "..."}]}')
    return "\n\n".join(lines)
