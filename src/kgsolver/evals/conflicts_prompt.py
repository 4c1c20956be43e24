"""The "plain RAG" baseline prompt for the knowledge-conflict suite: context and question, no precedence rules,
no filters, no guard (the prompt many RAG stacks use)."""

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

PLAIN_RAG_PROMPT = (
    "Answer the question based on the context. Reply in JSON: {\"answer\": the shortest exact answer}."
)


def plain_rag_messages(question: str, passages: list[str]) -> list[BaseMessage]:
    context = "\n\n".join(passages)
    return [SystemMessage(PLAIN_RAG_PROMPT), HumanMessage(f"Context:\n{context}\n\nQuestion: {question}")]
