"""DOCX files as users have them, read through MarkItDown and mammoth with the installed (locked) versions.

`tests/data/documents/quokka_field_notes.docx` was written by LibreOffice 7.4 (docProps/app.xml names it), from a
heading, a paragraph, a list, a table and accented text."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from kgsolver.connectors import CorpusFormatError
from kgsolver.connectors.corpus_documents import ReadReport
from kgsolver.connectors.document_reader import read_document

DATA = Path(__file__).resolve().parents[1] / "data" / "documents"


def _read(path: Path) -> str:
    documents = list(read_document(path, path.parent, ReadReport()))
    assert len(documents) == 1
    return documents[0].text


def test_a_libreoffice_docx_arrives_with_its_heading_list_table_and_accents(tmp_path: Path) -> None:
    source = DATA / "quokka_field_notes.docx"
    assert b"LibreOffice" in zipfile.ZipFile(source).read("docProps/app.xml")
    text = _read(shutil.copy(source, tmp_path / source.name))
    assert "# Quokka field notes" in text
    assert "Quokkas in the Velmar valley eat only blue ferns" in text
    assert "Tillmouth marsh: none since the flood of 1893." in text
    assert "| Cape Orrin | 5 |" in text
    assert "crème brûlée" in text


def test_a_python_docx_file_arrives(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Harbour log", level=1)
    document.add_paragraph("The Tillmouth harbour froze in 1893.")
    document.save(str(tmp_path / "log.docx"))
    text = _read(tmp_path / "log.docx")
    assert "# Harbour log" in text and "The Tillmouth harbour froze in 1893." in text


def test_a_broken_equation_pre_pass_still_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What MarkItDown 0.1.9 with lxml 6.2.0 does to every file: its pre-pass writes document.xml back without the
    `w:` prefixes, and mammoth finds no body. The reader must read the file as it was written."""
    import io

    from markitdown import StreamInfo
    from markitdown.converters import _docx_converter

    def drop_prefixes(stream):  # type: ignore[no-untyped-def]
        source = zipfile.ZipFile(stream)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for item in source.infolist():
                data = source.read(item)
                if item.filename == "word/document.xml":
                    data = data.replace(b"<w:", b"<").replace(b"</w:", b"</")
                target.writestr(item, data)
        out.seek(0)
        return out

    monkeypatch.setattr(_docx_converter, "pre_process_docx", drop_prefixes)
    source = shutil.copy(DATA / "quokka_field_notes.docx", tmp_path / "notes.docx")
    # the failure the fallback exists for
    with pytest.raises(ValueError, match="body element"), open(source, "rb") as handle:
        _docx_converter.DocxConverter().convert(handle, StreamInfo(extension=".docx"))
    assert "eat only blue ferns" in _read(source)


def test_a_docx_without_a_document_part_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(CorpusFormatError, match="empty.docx: cannot convert .docx file to text"):
        _read(path)
