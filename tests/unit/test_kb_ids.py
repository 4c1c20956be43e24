"""Global chunk ids over segments, tombstones and the compaction policy (pipeline/kb/__init__.py)."""

import numpy as np
import pytest

from kgsolver.pipeline.kb import SegmentIds, is_dead, merge_dead, pick_for_compaction


def test_merge_dead_is_a_sorted_union():
    assert merge_dead(np.array([9, 2]), np.array([2, 5]), np.zeros(0)).tolist() == [2, 5, 9]
    assert merge_dead().tolist() == []


def test_is_dead_marks_exactly_the_tombstoned_ids():
    dead = np.array([3, 7, 20])
    assert is_dead(np.array([0, 3, 4, 7, 20, 21]), dead).tolist() == [False, True, False, True, True, False]
    assert is_dead(np.array([1, 2]), np.zeros(0, dtype=np.int64)).tolist() == [False, False]


def test_a_fresh_segment_maps_rows_to_base_plus_row():
    ids = SegmentIds(rows=4, base=10)
    assert ids.to_global(np.array([0, 3])).tolist() == [10, 13]
    mask, rows = ids.to_local(np.array([9, 10, 13, 14, 12]))
    assert mask.tolist() == [False, True, True, False, True] and rows.tolist() == [0, 3, 2]
    assert ids.all().tolist() == [10, 11, 12, 13]


def test_a_compacted_segment_keeps_its_explicit_ids():
    ids = SegmentIds(rows=3, explicit=np.array([2, 5, 9]))
    assert ids.to_global(np.array([2, 0])).tolist() == [9, 2]
    mask, rows = ids.to_local(np.array([5, 6, 9, 1, 2, 10]))  # 6 lies inside the range but is not held
    assert mask.tolist() == [True, False, True, False, True, False] and rows.tolist() == [1, 2, 0]
    assert ids.dead_in(np.array([1, 5, 6, 9])).tolist() == [5, 9]


def test_segment_ids_are_a_base_or_an_explicit_array_never_both():
    with pytest.raises(ValueError):
        SegmentIds(rows=2, base=0, explicit=np.array([0, 1]))
    with pytest.raises(ValueError):
        SegmentIds(rows=3, explicit=np.array([0, 1]))


def test_compaction_policy():
    # Few segments, few tombstones: nothing to do.
    assert pick_for_compaction([100, 10, 10], [0, 0, 1], max_segments=4, dead_ratio=0.2) == []
    # Too many tombstones: everything is merged (searches over-fetch past them).
    assert pick_for_compaction([100, 10], [25, 0], max_segments=4, dead_ratio=0.2) == [0, 1]
    # Too many segments: the smallest are merged into one, so that half the limit is left.
    rows = [1000, 5, 7, 3, 6, 2000, 8]
    picked = pick_for_compaction(rows, [0] * 7, max_segments=6, dead_ratio=0.2)
    assert picked == [1, 2, 3, 4, 6] and len(rows) - len(picked) + 1 == 3


def test_sentence_indexes_concatenate_renamed_without_re_encoding():
    from kgsolver.pipeline.kb.sentence_index import SentenceIndex

    def index(keys_counts, fill):
        rows, at = [], 0
        for key, count in keys_counts:
            rows.append((key, at, count))
            at += count
        vectors = np.arange(at * 2, dtype=np.float16).reshape(at, 2) + fill
        spans = np.stack([np.arange(at), np.arange(at) + 1], axis=1).astype(np.int32)
        return SentenceIndex(np.array(rows, dtype=np.int64), vectors, spans)

    a = index([(0, 2), (1, 1), (2, 3)], 0)  # rows 0..5
    b = index([(0, 1), (1, 2)], 100)  # rows 0..2
    # a's row 1 is deleted; a's rows 0, 2 become 3, 0; b's rows 0, 1 become 1, 2
    merged = SentenceIndex.concatenated([(a, np.array([2, 0]), np.array([0, 3])),
                                         (b, np.array([0, 1]), np.array([1, 2]))], 2)
    assert merged.rows[:, 0].tolist() == [0, 1, 2, 3]
    assert merged.of_chunk(3).tolist() == a.of_chunk(0).tolist()
    assert merged.of_chunk(0).tolist() == a.of_chunk(2).tolist()
    assert merged.of_chunk(2).tolist() == b.of_chunk(1).tolist()
    assert merged.of_chunk(1).tolist() == b.of_chunk(0).tolist()
    assert merged.spans[merged.rows[3, 1]].tolist() == [0, 1] and len(merged.vectors) == 2 + 3 + 1 + 2
