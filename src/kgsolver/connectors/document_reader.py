"""One document per file: plain text and Markdown as they are, PDF, HTML and DOCX converted to Markdown text by
MarkItDown (the converter GraphRAG uses; `pip install 'kgsolver[documents]'`).

The id is the path relative to the folder ingested. An empty file, a binary file, or a document with no text is
reported as skipped; a file that cannot be decoded or converted is an error naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from kgsolver.connectors import CorpusFormatError
from kgsolver.connectors.corpus_documents import ReadReport, SourceDocument, decode_text, looks_binary

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
DOCUMENT_SUFFIXES = {".pdf", ".html", ".htm", ".docx"}


def _title_of(text: str, fallback: str) -> str:
    first = text.lstrip().splitlines()[0]
    return first.lstrip("# ").strip() if first.startswith("#") else fallback


def read_text_file(path: Path, root: Path, report: ReadReport) -> Iterator[SourceDocument]:
    data = path.read_bytes()
    if not data or looks_binary(data[:4096]):
        report.skip(f"{path}: {'empty' if not data else 'binary'} file, skipped")
        return
    text = decode_text(path, data, report)
    if not text.strip():
        report.skip(f"{path}: empty file, skipped")
        return
    relative = str(path.relative_to(root))
    yield SourceDocument(relative, _title_of(text, path.stem.replace("_", " ")), text, {"path": relative},
                         where=str(path))


@cache
def _converter(suffix: str) -> Any:
    """MarkItDown's converter for this suffix, called directly: `MarkItDown.convert` falls back to reading a broken
    PDF as plain text, which would ingest its raw bytes."""
    try:
        from markitdown.converters import DocxConverter, HtmlConverter, PdfConverter
    except ImportError as exc:
        raise CorpusFormatError("reading PDF, HTML or DOCX files needs MarkItDown: "
                                "pip install 'kgsolver[documents]'") from exc
    by_suffix = {".pdf": PdfConverter, ".docx": DocxConverter, ".html": HtmlConverter, ".htm": HtmlConverter}
    return by_suffix[suffix]()


def _convert(path: Path) -> Any:
    from markitdown import StreamInfo

    suffix = path.suffix.lower()
    info = StreamInfo(extension=suffix, filename=path.name, local_path=str(path))
    with path.open("rb") as handle:
        try:
            return _converter(suffix).convert(handle, info)
        except ValueError:
            if suffix != ".docx":
                raise
            handle.seek(0)
            return _docx_as_written(handle)


def _docx_as_written(handle: BinaryIO) -> Any:
    """A DOCX read by mammoth as the file holds it, the way MarkItDown reads it less its equation pre-pass.

    That pre-pass re-serialises word/document.xml through BeautifulSoup's lxml parser; with lxml 6.2.0 the `w:`
    prefixes are lost, and mammoth then finds no body in any ordinary Word or LibreOffice file. Equations (OMML) are
    read as their text here instead of LaTeX. A file that mammoth cannot read either raises its own error."""
    import mammoth
    from markitdown.converters import HtmlConverter

    html = mammoth.convert_to_html(handle).value
    return HtmlConverter().convert_string(html)


def read_document(path: Path, root: Path, report: ReadReport) -> Iterator[SourceDocument]:
    if path.stat().st_size == 0:
        report.skip(f"{path}: empty file, skipped")
        return
    try:
        result = _convert(path)
    except CorpusFormatError:
        raise
    except Exception as exc:  # each converter raises its parser's own errors; the file is what the user must fix
        raise CorpusFormatError(f"{path}: cannot convert {path.suffix} file to text ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    text = result.text_content or ""
    if not text.strip():
        hint = " (a scanned PDF needs OCR first)" if path.suffix.lower() == ".pdf" else ""
        report.skip(f"{path}: no text found in the {path.suffix} file{hint}, skipped")
        return
    relative = str(path.relative_to(root))
    title = (result.title or "").strip() or _title_of(text, path.stem.replace("_", " "))
    yield SourceDocument(relative, title, text, {"path": relative, "converted_from": path.suffix.lstrip(".")},
                         where=str(path))
