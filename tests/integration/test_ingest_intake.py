"""Ingest intake (issue 19.2 and 19.7): ids kept as given, duplicates and empty documents reported, nothing written
on a bad corpus, PDF/HTML/DOCX and Latin-1 text arriving in the knowledge base, a progress bar for the graph step."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from kgsolver.connectors import CorpusFormatError
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.serve.api import create_app


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _texts_by_doc(root) -> dict[str, str]:
    kb = KnowledgeBase.open(root)
    texts: dict[str, str] = {}
    for chunk in kb.chunks.values():
        texts[chunk.doc_id] = texts.get(chunk.doc_id, "") + chunk.text
    return texts


@pytest.fixture
def no_graph(config):
    return config.model_copy(update={"graph": config.graph.model_copy(update={"extractor": "none"})})


def _ingest(corpus, root, config, embedder, **kwargs):
    return ingest(corpus, root, config, embedder=embedder, show_progress=False, **kwargs)


def test_documents_with_a_wikipedia_title_keep_their_ids(tmp_path, embedder, no_graph):
    corpus = _jsonl(tmp_path / "docs.jsonl", [
        {"id": "a", "title": "Alpha", "text": "Alpha is the first letter.", "wikipedia_title": "Alpha"},
        {"id": "b", "title": "Beta", "text": "Beta is the second letter.", "wikipedia_title": "Beta"},
    ])
    report = _ingest(corpus, tmp_path / "kb", no_graph, embedder)
    assert report.documents_added == 2
    assert _texts_by_doc(tmp_path / "kb") == {"a": "Alpha is the first letter.", "b": "Beta is the second letter."}


def test_a_duplicate_id_is_an_error_and_nothing_is_written(tmp_path, embedder, no_graph):
    root = tmp_path / "kb"
    _ingest(_jsonl(tmp_path / "first.jsonl", [{"id": "a", "text": "Alpha stays."}]), root, no_graph, embedder)
    manifest = (root / "manifest.json").read_text()
    dup = _jsonl(tmp_path / "dup.jsonl", [{"id": "n", "text": "New one."}, {"id": "a", "text": "Alpha changed."},
                                          {"id": "a", "text": "Alpha twice."}])
    with pytest.raises(CorpusFormatError, match=rf"dup\.jsonl:3: duplicate id 'a' \(first at {dup}:2\); ids must be "
                                                r"unique"):
        _ingest(dup, root, no_graph, embedder)
    assert (root / "manifest.json").read_text() == manifest
    assert _texts_by_doc(root) == {"a": "Alpha stays."}
    with pytest.raises(CorpusFormatError, match="duplicate id"):
        _ingest(dup, tmp_path / "fresh-kb", no_graph, embedder)
    assert not (tmp_path / "fresh-kb").exists()


@pytest.mark.parametrize("policy, kept, listed_as", [("warn", "Alpha twice.", "warnings"),
                                                      ("skip", "Alpha changed.", "skipped")])
def test_on_duplicate_warn_or_skip_names_both_lines(tmp_path, embedder, no_graph, policy, kept, listed_as):
    dup = _jsonl(tmp_path / "dup.jsonl", [{"id": "a", "text": "Alpha changed."}, {"id": "a", "text": "Alpha twice."}])
    report = _ingest(dup, tmp_path / "kb", no_graph, embedder, on_duplicate=policy)
    assert getattr(report, listed_as) == [f"{dup}:2: duplicate id 'a' (first at {dup}:1)"
                                          + (": this record replaces it" if policy == "warn" else ", skipped")]
    assert report.documents_added == 1 and _texts_by_doc(tmp_path / "kb") == {"a": kept}


def test_empty_documents_are_skipped_with_file_and_line_and_not_counted(tmp_path, embedder, no_graph):
    corpus = _jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": "Alpha."}, {"id": "e", "text": "  \n"}])
    report = _ingest(corpus, tmp_path / "kb", no_graph, embedder)
    assert (report.documents_read, report.documents_added) == (1, 1)
    assert report.skipped == [f"{corpus}:2: document 'e' has no text, skipped"]
    assert KnowledgeBase.open(tmp_path / "kb").manifest["counts"]["documents"] == 1


def test_api_metadata_never_sets_an_id(tmp_path, embedder, no_graph):
    client = TestClient(create_app(tmp_path / "root", no_graph, embedder=embedder))
    docs = [{"id": "x1", "title": "X", "text": "The first text.",
             "metadata": {"wikipedia_title": "T", "wikipedia_id": "9"}},
            {"id": "x2", "title": "Y", "text": "The second text.", "metadata": {"wikipedia_id": "x1", "id": "x1"}},
            {"id": "x3", "title": "Z", "text": "   ", "metadata": {}}]
    report = client.post("/kb/meta/documents", json={"documents": docs}).json()
    assert (report["documents_added"], report["documents_total"]) == (2, 2)
    assert report["skipped"] == ["documents[2]: document 'x3' has no text, skipped"]
    assert _texts_by_doc(tmp_path / "root" / "meta") == {"x1": "The first text.", "x2": "The second text."}
    response = client.post("/kb/meta/documents", json={"documents": [docs[0], docs[0]]})
    assert response.status_code == 400 and "documents[1]: duplicate id 'x1' (first at documents[0])" in response.text


def _write_pdf(path, sentence):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=sentence)
    pdf.output(str(path))


def _write_docx(path, sentence):
    import docx

    document = docx.Document()
    document.add_heading("Quokka notes", level=1)
    document.add_paragraph(sentence)
    document.save(str(path))


def test_pdf_html_docx_and_latin1_text_arrive_in_the_kb(tmp_path, embedder, no_graph):
    folder = tmp_path / "corpus"
    folder.mkdir()
    _write_pdf(folder / "report.pdf", "The zorblax reactor runs on frozen lemonade.")
    _write_docx(folder / "notes.docx", "Quokkas in the Velmar valley eat only blue ferns.")
    (folder / "page.html").write_text("<html><head><title>Harbour log</title></head><body><h1>Harbour</h1>"
                                      "<p>The Tillmouth harbour froze in 1893.</p><script>var x=1;</script></body>"
                                      "</html>", encoding="utf-8")
    (folder / "café.txt").write_bytes("Le café de Qorth sert une crème brûlée.\n".encode("latin-1"))
    (folder / "data.xlsx").write_bytes(b"PK\x03\x04")
    report = _ingest(folder, tmp_path / "kb", no_graph, embedder)
    texts = _texts_by_doc(tmp_path / "kb")
    assert "zorblax reactor runs on frozen lemonade" in texts["report.pdf"]
    assert "eat only blue ferns" in texts["notes.docx"]
    assert "Tillmouth harbour froze in 1893" in texts["page.html"] and "var x" not in texts["page.html"]
    assert texts["café.txt"].strip() == "Le café de Qorth sert une crème brûlée."
    assert report.documents_added == 4
    assert report.skipped == [f"{folder / 'data.xlsx'}: unsupported file type .xlsx (read: .jsonl, .jsonl.gz, .docx, "
                              f".htm, .html, .markdown, .md, .pdf, .txt), skipped"]
    assert any("café.txt: not UTF-8; read as cp1252" in note for note in report.notes)


def test_a_damaged_pdf_is_an_error_naming_the_file(tmp_path, embedder, no_graph):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    with pytest.raises(CorpusFormatError, match=r"broken\.pdf: cannot convert \.pdf file to text"):
        _ingest(tmp_path / "broken.pdf", tmp_path / "kb", no_graph, embedder)
    assert not (tmp_path / "kb").exists()


def test_the_graph_step_shows_progress_only_when_asked(tmp_path, embedder, config, capsys):
    corpus = _jsonl(tmp_path / "docs.jsonl", [{"id": "p", "title": "Neil Peart", "text": "Neil Peart drummed for Rush "
                                                                                         "in Toronto."}])
    ingest(corpus, tmp_path / "quiet", config, embedder=embedder, show_progress=False)
    assert capsys.readouterr().err == ""
    report = ingest(corpus, tmp_path / "kb", config, embedder=embedder, show_progress=True)
    err = capsys.readouterr().err
    assert report.graph.chunks_extracted == 1
    assert re.search(r"embed: 100%\|[^|]*\| 1/1 \[", err) and re.search(r"graph: 100%\|[^|]*\| 1/1 \[.*chunk/s", err)
