"""The knowledge base and everything that writes it: ingest (local and Ray), chunking, segments, files and ids,
compaction, format upgrade, document admin, the sentence and atomic indexes, the graph build and the atomize job."""
