"""The multi-hop retriever: PIKE-RAG atomizing and knowledge-aware decomposition, the Knowledge-Solver KG walk, and
one budgeted agent over search tools (dense, BM25, atomic questions, KG walk, personalized PageRank, neighbourhood)."""
