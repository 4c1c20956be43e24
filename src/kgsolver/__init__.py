"""kgsolver: retrieval- and knowledge-graph-augmented question answering over domain corpora.

Four packages, dependencies pointing one way: connectors (the outside world) <- graphs (the knowledge graph) <-
pipeline (ingest, retrieve, filter, answer, the agent, the CLI and API) <- evals (datasets, metrics, runner)."""
