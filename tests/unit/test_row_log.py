"""The resumable log of the atomize job and the eval runner (connectors/row_log.py): a torn last line is skipped,
the file is rewritten without it only when asked, and a writer reopening the log starts on a fresh line."""

from __future__ import annotations

import json

from kgsolver.connectors.row_log import RowLog, read_rows


def test_a_torn_last_line_is_skipped_and_the_next_row_is_not_glued_to_it(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"key": "a", "n": 1}) + "\n" + json.dumps({"key": "a", "n": 2}) + '\n{"key": "b", "n')
    assert read_rows(path, lambda row: row["key"]) == {"a": {"key": "a", "n": 2}}  # the last row per key wins
    with RowLog(path) as log:
        log.write({"key": "c", "n": 3})
    assert list(read_rows(path, lambda row: row["key"])) == ["a", "c"]


def test_repair_rewrites_the_file_without_the_bad_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    rows = [{"key": "a"}, {"key": "b"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"key": "c"', encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    read_rows(path, lambda row: row["key"])
    assert path.read_text(encoding="utf-8") == before
    assert list(read_rows(path, lambda row: row["key"], repair=True)) == ["a", "b"]
    assert path.read_text(encoding="utf-8").splitlines() == [json.dumps(r) for r in rows]
    assert read_rows(tmp_path / "missing.jsonl", lambda row: row["key"]) == {}
