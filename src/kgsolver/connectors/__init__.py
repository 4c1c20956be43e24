"""The outside world: LLM backends, embedders, vector and keyword indexes, graph stores, corpus readers."""
