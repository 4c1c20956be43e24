"""Prompt for knowledge atomizing: the questions one passage answers (short, for a 0.5B-1.5B model)."""

SYSTEM = (
    "You write the questions that a passage answers. Each question must be answerable from the passage alone, "
    "name its subject explicitly (no 'he', 'it', 'this'), and ask for one fact.\n"
    "Reply in JSON: {\"questions\": [\"...\", \"...\"]}"
)


def user_message(title: str, text: str, n: int) -> str:
    return f"Passage title: {title}\nPassage: {text}\n\nWrite {n} different questions this passage answers."
