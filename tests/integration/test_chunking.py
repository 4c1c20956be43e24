"""Token chunking keeps ids, titles and exact character offsets."""

from kgsolver.connectors.corpus_readers import SourceDocument
from kgsolver.pipeline.kb.chunking import TokenChunker


def test_windows_overlap_and_offsets_point_into_the_source(embedder):
    text = " ".join(f"word{i} is followed by another token." for i in range(200))
    doc = SourceDocument("d1", "Long", text)
    chunks = list(TokenChunker(embedder.tokenizer, chunk_tokens=64, overlap_tokens=16).chunk([doc]))
    assert len(chunks) > 5
    assert [c.chunk_id for c in chunks[:2]] == ["d1::0", "d1::1"]
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert embedder.count_tokens(chunk.text) <= 64
    assert chunks[1].start < chunks[0].end  # overlap
    assert chunks[-1].end == len(text.rstrip())


def test_short_document_is_one_chunk_and_blank_is_none(embedder):
    chunker = TokenChunker(embedder.tokenizer, 200, 40)
    chunks = list(chunker.chunk([SourceDocument("a", "A", "Short text."), SourceDocument("b", "B", "   ")]))
    assert [(c.chunk_id, c.text) for c in chunks] == [("a::0", "Short text.")]
