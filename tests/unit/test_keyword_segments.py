"""BM25 over several segments (keyword_index.search_segments): the scores of one index over the union of the live
documents, with deletions, empty segments, unknown words and saved segments. The oracle is bm25s itself: one
`BM25Index.build` over the union, whose full score vector also checks ids where equal scores may swap places."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer

from kgsolver.connectors.keyword_index import BM25Index, search_segments

WORDS = ["fever", "cough", "asthma", "insulin", "diabetes", "kidney", "liver", "heart", "stroke", "anemia", "migraine",
         "tremor", "rash", "vaccine", "virus", "bacteria", "antibiotic", "dose", "tablet", "injection", "symptom",
         "chronic", "acute", "therapy", "surgery"]
QUERIES = ["fever and cough", "insulin dose for diabetes", "chronic kidney liver heart", "asthma asthma therapy",
           "surgery", "virus vaccine bacteria antibiotic rash"]
SIZES = (25, 40, 15)
# global id = offset + stored id; with gaps between segments as a KB may have (sparse sums: a sort of the postings)
# or contiguous (dense sums over the id range)
OFFSETS = (0, 100, 1000)
CONTIGUOUS = (0, 25, 65)


def corpus(n: int, seed: int) -> list[str]:
    """Texts of 4-40 words drawn with Zipf-like weights, so document frequencies and lengths differ widely."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    weights /= weights.sum()
    return [" ".join(rng.choice(WORDS, size=rng.integers(4, 41), p=weights)) for _ in range(n)]


def segments(offsets: tuple[int, ...] = OFFSETS) -> tuple[list[tuple[BM25Index, int]], dict[int, str]]:
    parts, texts = [], {}
    for seg, (size, offset) in enumerate(zip(SIZES, offsets, strict=True)):
        seg_texts = corpus(size, seed=seg)
        parts.append((BM25Index.build(np.arange(size), seg_texts), offset))
        texts.update({offset + i: t for i, t in enumerate(seg_texts)})
    return parts, texts


def assert_same_as_union(result: tuple[np.ndarray, np.ndarray], texts: dict[int, str], queries: list[str],
                         k: int) -> None:
    """Same top-k scores as one bm25s index over `texts` (global id -> text), and each id returned with the score
    that index gives it (ties may order ids differently, never scores)."""
    scores, ids = result
    gids = np.array(sorted(texts), dtype=np.int64)
    union = BM25Index.build(gids, [texts[g] for g in gids])
    expected_scores, expected_ids = union.search(queries, k)
    np.testing.assert_allclose(scores[:, :expected_scores.shape[1]], expected_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ids >= 0, np.pad(expected_ids >= 0, ((0, 0), (0, k - expected_ids.shape[1])),
                                                    constant_values=False))
    for q, query in enumerate(queries):
        full = union.retriever.get_scores(union.retriever.get_tokens_ids(query_tokens(query)))
        hits = ids[q] >= 0
        rows = np.searchsorted(gids, ids[q][hits])
        np.testing.assert_allclose(full[rows], scores[q][hits], rtol=1e-5, atol=1e-6)


def query_tokens(query: str) -> list[str]:
    return bm25s.tokenize([query], stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,
                          show_progress=False)[0]


@pytest.mark.parametrize("offsets", [OFFSETS, CONTIGUOUS])
def test_three_segments_score_as_one_index_over_their_union(offsets: tuple[int, ...]):
    parts, texts = segments(offsets)
    result = search_segments(parts, QUERIES, k=10)
    assert result[0].shape == result[1].shape == (len(QUERIES), 10)
    assert_same_as_union(result, texts, QUERIES, k=10)
    # and not as each segment alone: the per-segment scores differ from the merged ones
    alone_scores, _ = parts[2][0].search(QUERIES[:1], 3)
    merged_scores, merged_ids = search_segments(parts, QUERIES[:1], k=80)
    in_last = merged_ids[0] >= offsets[2]
    assert not np.allclose(np.sort(merged_scores[0][in_last])[::-1][:3], alone_scores[0])


def test_result_does_not_depend_on_segment_order_or_batching():
    parts, _ = segments()
    scores, ids = search_segments(parts, QUERIES, k=10)
    scores_r, ids_r = search_segments(parts[::-1], QUERIES, k=10, batch_terms=5)
    np.testing.assert_array_equal(ids, ids_r)
    np.testing.assert_allclose(scores, scores_r, rtol=1e-6)


@pytest.mark.parametrize("offsets", [OFFSETS, CONTIGUOUS])
def test_deleted_documents_leave_results_and_statistics(offsets: tuple[int, ...]):
    parts, texts = segments(offsets)
    _, before = search_segments(parts, QUERIES, k=10)
    deleted = np.unique(np.concatenate([before[:, :3].ravel(), [5, offsets[1] + 1, offsets[2] + 3, offsets[2] + 14]]))
    deleted = deleted[deleted >= 0]
    result = search_segments(parts, QUERIES, k=10, deleted=deleted)
    assert not np.isin(result[1], deleted).any()
    live = {g: t for g, t in texts.items() if g not in set(deleted.tolist())}
    assert_same_as_union(result, live, QUERIES, k=10)  # df, N and average length over the live documents only
    twice = search_segments(parts, QUERIES, k=10, deleted=np.repeat(deleted, 2))  # an id listed twice counts once
    np.testing.assert_array_equal(twice[1], result[1])
    np.testing.assert_allclose(twice[0], result[0], rtol=1e-6)


def test_deletions_leave_no_holes_while_more_hits_exist():
    parts, texts = segments()
    matching = [g for g, t in texts.items() if "fever" in t.split()]
    assert len(matching) > 30
    deleted = np.array(sorted(matching[:20]), dtype=np.int64)
    scores, ids = search_segments(parts, ["fever"], k=10, deleted=deleted)
    assert (ids >= 0).all() and (scores > 0).all()
    assert set(ids[0].tolist()) <= set(matching[20:])


def test_empty_segments_change_nothing(tmp_path: Path):
    parts, texts = segments()
    empty = BM25Index.build(np.zeros(0, dtype=np.int64), [])
    empty.save(tmp_path / "empty")
    with_empty = [(empty, 5000), parts[0], (BM25Index.load(tmp_path / "empty"), 6000), *parts[1:]]
    scores, ids = search_segments(with_empty, QUERIES, k=10)
    scores_plain, ids_plain = search_segments(parts, QUERIES, k=10)
    np.testing.assert_array_equal(ids, ids_plain)
    np.testing.assert_allclose(scores, scores_plain, rtol=1e-6)
    only_empty = search_segments([(empty, 0)], QUERIES, k=4)
    assert (only_empty[1] == -1).all() and (only_empty[0] == 0).all()


def test_unknown_words_and_stopwords_match_nothing():
    parts, texts = segments()
    scores, ids = search_segments(parts, ["zyxwv qqqq", "the and of", ""], k=5)
    assert (ids == -1).all() and (scores == 0).all()
    mixed = search_segments(parts, ["zyxwv insulin qqqq dose"], k=5)
    known = search_segments(parts, ["insulin dose"], k=5)
    np.testing.assert_array_equal(mixed[1], known[1])
    np.testing.assert_allclose(mixed[0], known[0])
    # more slots than matching documents: the rest are -1, not duplicates or zeros with ids
    few_scores, few_ids = search_segments(parts, ["asthma"], k=200)
    n_match = sum("asthma" in t.split() for t in texts.values())
    assert (few_ids[0, :n_match] >= 0).all() and (few_ids[0, n_match:] == -1).all()
    assert len(set(few_ids[0, :n_match].tolist())) == n_match


def test_saved_segments_search_the_same_and_old_folders_are_named(tmp_path: Path):
    parts, _ = segments()
    loaded = []
    for i, (index, offset) in enumerate(parts):
        index.save(tmp_path / f"seg{i}")
        loaded.append((BM25Index.load(tmp_path / f"seg{i}"), offset))
    np.testing.assert_array_equal(search_segments(loaded, QUERIES, 10)[1], search_segments(parts, QUERIES, 10)[1])
    assert all(index._retriever is None for index, _ in loaded)  # bm25s' matrices stay on disk for this search
    np.testing.assert_array_equal(loaded[1][0].search(QUERIES, 5)[1], parts[1][0].search(QUERIES, 5)[1])
    (tmp_path / "seg1" / "tf_counts.npy").unlink()  # as a folder saved before issue 17
    old = BM25Index.load(tmp_path / "seg1")
    assert old.search(["fever"], 3)[1].shape == (1, 3)  # alone it still searches
    with pytest.raises(ValueError, match="seg1.*saved before issue 17"):
        search_segments([loaded[0], (old, 100)], ["fever"], 3)


def test_ids_in_any_order_and_bad_deleted_lists():
    texts = corpus(30, seed=7)
    order = np.random.default_rng(1).permutation(30)
    shuffled = BM25Index.build(order, [texts[i] for i in order])  # stored ids not ascending
    deleted = np.array([3, 11, 12, 29], dtype=np.int64)
    result = search_segments([(shuffled, 0)], QUERIES, k=8, deleted=deleted)
    assert_same_as_union(result, {i: t for i, t in enumerate(texts) if i not in deleted}, QUERIES, k=8)
    with pytest.raises(ValueError, match="sorted ascending"):
        search_segments([(shuffled, 0)], QUERIES, k=8, deleted=np.array([12, 3]))
