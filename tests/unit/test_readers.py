"""Corpus readers on real and deliberately broken files."""

import gzip
import json

import pytest

from kgsolver.connectors.corpus_readers import ReadReport, read_corpus
from kgsolver.connectors.errors import CorpusFormatError


def test_reads_demo_jsonl_with_metadata(demo_corpus):
    docs = list(read_corpus(demo_corpus))
    assert len(docs) == 300
    assert all(d.id and d.text for d in docs)
    assert any(d.title == "Neil Peart" for d in docs)


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": oops}\n')
    with pytest.raises(CorpusFormatError, match=r"bad\.jsonl:2: malformed JSON at column 21 \(Expecting value\)"):
        list(read_corpus(path))


def test_a_record_cut_short_is_placed_on_its_own_line(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text('{"id": "a", "text": \n')  # past the line end; json alone says "line 2 column 1"
    with pytest.raises(CorpusFormatError, match=r"cut\.jsonl:1: malformed JSON at column 22 \(Expecting value\)"):
        list(read_corpus(path))


def test_missing_field_names_file_line_and_field(tmp_path):
    path = tmp_path / "nofield.jsonl"
    path.write_text('{"id": "a", "body": "x"}\n')
    with pytest.raises(CorpusFormatError, match=r"nofield\.jsonl:1: record has no text field"):
        list(read_corpus(path))


def test_empty_and_binary_files_are_reported_and_skipped(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.md").write_bytes(b"\x00\x01\x02binary\xff" * 50)
    (tmp_path / "note.md").write_text("# Aspirin\nAspirin inhibits cyclooxygenase.")
    report = ReadReport()
    docs = list(read_corpus(tmp_path, report))
    assert [d.title for d in docs] == ["Aspirin"]
    assert any("empty.txt: empty file" in s for s in report.skipped)
    assert any("blob.md: binary file" in s for s in report.skipped)


def test_kilt_knowledge_source_format(tmp_path):
    record = {"_id": "22003", "wikipedia_id": "22003", "wikipedia_title": "Neil Peart",
              "text": ["Neil Peart\n", "Neil Ellwood Peart was a Canadian musician.", "Section::::Career.\n", "He drummed."]}
    path = tmp_path / "kilt.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(record) + "\n")
    (doc,) = read_corpus(path)
    assert (doc.id, doc.title) == ("22003", "Neil Peart")
    assert "Canadian musician" in doc.text and "Section::::" not in doc.text


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(CorpusFormatError, match="no such file"):
        list(read_corpus(tmp_path / "nope.jsonl"))
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusFormatError, match="unsupported corpus format"):
        list(read_corpus(tmp_path / "x.pdf"))
