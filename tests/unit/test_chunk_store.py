"""The per-segment SQLite chunk store (connectors/chunk_store.py): written once, read by row and by document."""

import json

import pytest

from kgsolver.connectors.chunk_store import ChunkStore, write_store


def _rows(n_docs: int, per_doc: int):
    row = 0
    for d in range(n_docs):
        for i in range(per_doc):
            meta = json.dumps({"content_sha1": f"sha-{d}", "source": "unit"})
            yield row, f"d{d}::{i}", f"d{d}", f"Title {d}", f"text {d}.{i}", i * 10, i * 10 + 9, meta
            row += 1


def test_rows_by_position_and_by_document(tmp_path):
    path = tmp_path / "chunks.sqlite"
    assert write_store(path, _rows(50, 3)) == 150
    store = ChunkStore(path)
    assert len(store) == 150
    got = store.rows([4, 0, 149, 4, 999])  # duplicates once, an absent row left out
    assert sorted(got) == [0, 4, 149]
    assert (got[4].doc_id, got[4].text, got[4].start, got[4].end) == ("d1", "text 1.1", 10, 19)
    assert json.loads(got[149].metadata)["content_sha1"] == "sha-49"
    assert store.positions_of(["d2", "nope", "d0"]) == [(0, "d0"), (1, "d0"), (2, "d0"),
                                                        (6, "d2"), (7, "d2"), (8, "d2")]
    assert store.content_hashes(["d3"]) == [(9, "d3", "sha-3"), (10, "d3", "sha-3"), (11, "d3", "sha-3")]


def test_scans_stream_every_row_in_order(tmp_path):
    path = tmp_path / "chunks.sqlite"
    write_store(path, _rows(7, 3))
    store = ChunkStore(path)
    assert [r.row for r in store.scan(batch=4)] == list(range(21))
    assert [row for row, _, _ in store.documents(batch=5)] == list(range(21))


def test_many_ids_are_bound_in_batches(tmp_path):
    path = tmp_path / "chunks.sqlite"
    write_store(path, _rows(1200, 1))
    assert len(ChunkStore(path).rows(list(range(1200)))) == 1200  # past one statement's batch of 500
    assert len(ChunkStore(path).positions_of([f"d{i}" for i in range(1200)])) == 1200


def test_a_store_is_written_once_and_opened_read_only(tmp_path):
    path = tmp_path / "chunks.sqlite"
    write_store(path, _rows(1, 1))
    with pytest.raises(FileExistsError):
        write_store(path, _rows(1, 1))
    store = ChunkStore(path)
    with pytest.raises(Exception, match="readonly|read-only"):
        store._db.execute("DELETE FROM chunks")
    with pytest.raises(FileNotFoundError):
        ChunkStore(tmp_path / "missing.sqlite")
