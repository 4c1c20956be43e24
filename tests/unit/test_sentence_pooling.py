"""Sentence vectors pooled from the chunk pass (issue 35): which tokens each sentence averages, and how a knowledge
base records the way its sentence vectors were made."""

import json

import numpy as np

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.embedders import span_means
from kgsolver.pipeline.kb.sentence_index import (
    ENCODED,
    POOLED,
    SentenceIndex,
    folded,
    pooling_groups,
    recorded_method,
    sentence_spans,
)


def test_groups_cover_the_title_and_the_sentence_in_the_indexed_text():
    chunk = Chunk(0, "d", "Marie Curie", "She was  born\nin Warsaw.   She won two prizes.", 0, 0, {})
    sentences = ["She was born in Warsaw.", "She won two prizes."]
    groups = pooling_groups(chunk, sentences, sentence_spans(chunk.text, sentences))
    text = chunk.indexed_text()
    for sentence, group in zip(sentences, groups, strict=True):
        assert text[slice(*group[0])] == "Marie Curie"
        assert folded(text[slice(*group[1])]) == sentence


def test_a_sentence_without_a_span_is_left_to_encode():
    chunk = Chunk(0, "d", "", "One. Two.", 0, 0, {})
    assert pooling_groups(chunk, ["One.", "Two."], []) == [[], []]
    assert pooling_groups(chunk, ["One."], [(0, 4)]) == [[(0, 4)]]


def test_span_means_skip_special_tokens_and_cut_texts():
    states = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [9.0, 9.0]], dtype=np.float32)
    offsets = np.array([[0, 0], [0, 3], [4, 7], [0, 0]])  # [CLS] "one" "two" [SEP]
    pooled = span_means(states, offsets, [[(0, 3)], [(0, 7)], [(4, 12)], []])
    assert np.allclose(pooled[0], [1.0, 0.0])
    assert np.allclose(pooled[1], [2 ** -0.5, 2 ** -0.5])
    assert np.isnan(pooled[2]).all() and np.isnan(pooled[3]).all()  # past the last token; no span at all


def test_the_method_is_saved_and_an_unrecorded_one_is_encoded(tmp_path):
    SentenceIndex.empty(4, POOLED).save(tmp_path / "pooled")
    assert SentenceIndex.load(tmp_path / "pooled").method == POOLED
    (tmp_path / "old").mkdir()
    SentenceIndex.empty(4).save(tmp_path / "old")
    (tmp_path / "old" / "meta.json").write_text(json.dumps({"format": 3}))  # as written before issue 35
    assert SentenceIndex.load(tmp_path / "old").method == ENCODED
    assert recorded_method({"name": "m", "dimensions": 4}) == ENCODED
    assert recorded_method({"name": "m", "dimensions": 4, "sentence_vectors": POOLED}) == POOLED
