"""Corpus readers on real and deliberately broken files."""

import gzip
import json

import pytest

from kgsolver.connectors import CorpusFormatError
from kgsolver.connectors.corpus_readers import ReadReport, read_corpus


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
              "text": ["Neil Peart\n", "Neil Ellwood Peart was a Canadian musician.", "Section::::Career.\n",
                       "He drummed."]}
    path = tmp_path / "kilt.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(record) + "\n")
    (doc,) = read_corpus(path)
    assert (doc.id, doc.title) == ("22003", "Neil Peart")
    assert "Canadian musician" in doc.text and "Section::::" not in doc.text


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(CorpusFormatError, match="no such file"):
        list(read_corpus(tmp_path / "nope.jsonl"))
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(CorpusFormatError, match=r"x\.xlsx: unsupported corpus format: unsupported file type \.xlsx"):
        list(read_corpus(tmp_path / "x.xlsx"))
    with pytest.raises(CorpusFormatError, match="unknown corpus format 'csv'"):
        list(read_corpus(tmp_path, fmt="csv"))


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# Issue 19.2: one field (`wikipedia_title`) used to switch a record to KILT and replace its id.
def test_a_wikipedia_title_field_never_replaces_the_id(tmp_path):
    path = _jsonl(tmp_path / "docs.jsonl", [
        {"id": "a", "title": "A", "text": "alpha", "wikipedia_title": "Alpha"},
        {"id": "b", "title": "B", "text": "beta", "wikipedia_title": "Beta"},
    ])
    report = ReadReport()
    docs = list(read_corpus(path, report))
    assert [(d.id, d.title) for d in docs] == [("a", "A"), ("b", "B")]
    assert docs[0].metadata["wikipedia_title"] == "Alpha"
    assert report.notes == [f"{path}: detected format jsonl (all 2 records agree)"]


def test_the_format_is_detected_from_every_record(tmp_path):
    kilt = {"wikipedia_id": "7", "wikipedia_title": "Seven", "text": ["Seven is a number."]}
    path = _jsonl(tmp_path / "mixed.jsonl", [kilt, {**kilt, "wikipedia_id": "8"}, {"id": "x", "text": "plain"}])
    with pytest.raises(CorpusFormatError, match=r"mixed\.jsonl:3: record looks like jsonl but the file's first "
                                                r"record \(line 1\) is kilt"):
        list(read_corpus(path))
    report = ReadReport()
    _jsonl(path, [kilt])
    assert [d.id for d in read_corpus(path, report)] == ["7"]
    assert report.notes == [f"{path}: detected format kilt (all 1 records agree)"]


def test_an_explicit_format_is_obeyed(tmp_path):
    path = _jsonl(tmp_path / "k.jsonl", [{"wikipedia_id": "7", "wikipedia_title": "Seven", "text": ["Seven."]}])
    with pytest.raises(CorpusFormatError, match=r"k\.jsonl:1: record has no id field"):
        list(read_corpus(path, fmt="jsonl"))
    (doc,) = read_corpus(path, fmt="kilt")
    assert (doc.id, doc.title, doc.text) == ("7", "Seven", "Seven.")
    with pytest.raises(CorpusFormatError, match=r"k\.jsonl: unsupported corpus format: a jsonl file is not read "
                                                r"with --format text"):
        list(read_corpus(path, fmt="text"))


@pytest.mark.parametrize("record, needle", [
    ({"id": 1, "text": "x"}, r"field 'id' must be a string, got int 1"),
    ({"id": None, "text": "x"}, r"field 'id' must be a string, got NoneType None"),
    ({"id": " ", "text": "x"}, r"field 'id' is empty"),
    ({"title": "t", "text": "x"}, r"record has no id field"),
])
def test_missing_and_non_string_ids_name_file_line_and_field(tmp_path, record, needle):
    path = _jsonl(tmp_path / "ids.jsonl", [{"id": "ok", "text": "fine"}, record])
    with pytest.raises(CorpusFormatError, match=r"ids\.jsonl:2: " + needle):
        list(read_corpus(path))


def test_kilt_ids_must_be_strings(tmp_path):
    path = _jsonl(tmp_path / "k.jsonl", [{"wikipedia_id": 22003, "wikipedia_title": "Neil Peart", "text": ["x"]}])
    with pytest.raises(CorpusFormatError, match=r"k\.jsonl:1: field 'wikipedia_id' must be a string, got int"):
        list(read_corpus(path))


# Issue 19.7: a Latin-1 file was skipped as "binary" (exit 0), a bad byte after 4 KB escaped without file or line.
def test_a_latin1_text_file_is_read_and_the_fallback_reported(tmp_path):
    (tmp_path / "notes.txt").write_bytes("Café au lait and crème brûlée.\n".encode("latin-1"))
    report = ReadReport()
    (doc,) = read_corpus(tmp_path, report)
    assert doc.text == "Café au lait and crème brûlée.\n"
    assert report.skipped == [] and report.notes == [
        f"{tmp_path / 'notes.txt'}: not UTF-8; read as cp1252 (Western European), first non-UTF-8 byte at line 1"]


def test_a_bad_byte_after_4kb_names_file_line_and_offset(tmp_path):
    head = "Straße\n" + "plain ascii line\n" * 300  # a UTF-8 character first: the file is UTF-8, damaged later
    (tmp_path / "damaged.md").write_bytes(head.encode("utf-8") + b"broken \xff here\n")
    offset = len(head.encode("utf-8")) + len("broken ")
    with pytest.raises(CorpusFormatError, match=rf"damaged\.md:302: byte 0xff at byte offset {offset} is not valid "
                                                r"UTF-8"):
        list(read_corpus(tmp_path))
    lines = [json.dumps({"id": f"d{n}", "text": "x" * 40}) + "\n" for n in range(120)]
    body = "".join(lines).encode("utf-8")
    last = b'{"id": "z", "text": "caf'
    (tmp_path / "late.jsonl").write_bytes(body + last + b'\xe9"}\n')
    with pytest.raises(CorpusFormatError, match=rf"late\.jsonl:121: byte 0xe9 at byte offset {len(body + last)} is not "
                                                r"valid UTF-8"):
        list(read_corpus(tmp_path / "late.jsonl"))


def test_other_file_types_in_a_folder_are_listed_as_skipped(tmp_path):
    (tmp_path / "a.md").write_text("# A\nalpha")
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "docs.jsonl").write_text('{"id": "d", "text": "delta"}\n')
    report = ReadReport()
    assert [d.id for d in read_corpus(tmp_path, report, fmt="text")] == ["a.md"]
    assert report.skipped == [f"{tmp_path / 'docs.jsonl'}: a jsonl file is not read with --format text, skipped",
                              f"{tmp_path / 'table.xlsx'}: unsupported file type .xlsx (read: .jsonl, .jsonl.gz, "
                              f".docx, .htm, .html, .markdown, .md, .pdf, .txt), skipped"]


def test_a_json_file_is_read_when_named_alone_and_skipped_in_a_folder(tmp_path):
    (tmp_path / "package.json").write_text('{"name": "not a corpus",\n "version": "1"}\n')
    (tmp_path / "docs.json").write_text('{"id": "d", "text": "delta"}\n')
    report = ReadReport()
    assert list(read_corpus(tmp_path, report)) == []
    assert len(report.skipped) == 2 and all("unsupported file type .json" in s for s in report.skipped)
    assert [d.id for d in read_corpus(tmp_path / "docs.json")] == ["d"]
