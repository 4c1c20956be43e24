"""What every corpus reader yields (`SourceDocument`), what it reports (`ReadReport`), and the one text-decoding policy
they share.

Decoding: strict UTF-8 (a byte-order mark is dropped). A file that is not UTF-8 and has no UTF-8 multi-byte character
before its first bad byte is read as Windows-1252 (`FALLBACK_ENCODING`, the Western superset of Latin-1), and the
report says so. A file that is UTF-8 up to a bad byte, or that Windows-1252 cannot decode either, is an error naming
the file, line and byte offset: guessing would silently garble it.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgsolver.connectors import CorpusFormatError

log = logging.getLogger(__name__)
FALLBACK_ENCODING = "cp1252"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class SourceDocument:
    id: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    where: str = ""  # "file:line" (or "documents[3]" for the API), for messages; never stored


@dataclass
class ReadReport:
    """What a read skipped, what it noticed (formats detected, encodings guessed) and why, so the CLI can tell the
    user."""

    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        log.warning(reason)
        self.skipped.append(reason)

    def note(self, message: str) -> None:
        log.info(message)
        self.notes.append(message)


def looks_binary(head: bytes) -> bool:
    """NUL bytes in the first block mean binary, unless the file starts with a UTF-16 byte-order mark."""
    return b"\x00" in head and not head.startswith(_UTF16_BOMS)


def bad_byte_message(path: Path | str, data: bytes, offset: int, line_offset: int = 0, line: int | None = None) -> str:
    """"file:LINE: byte 0xE9 at byte offset N is not UTF-8": `line` given, or counted in `data` up to `offset`."""
    line = line if line is not None else data.count(b"\n", 0, offset) + 1
    return (f"{path}:{line}: byte 0x{data[offset]:02x} at byte offset {line_offset + offset} is not valid UTF-8; "
            f"convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)")


def decode_text(path: Path, data: bytes, report: ReadReport) -> str:
    """The text of a whole file under the policy in the module docstring."""
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
    if any(byte >= 0x80 for byte in data[:bad]):  # valid UTF-8 characters before: a damaged UTF-8 file
        raise CorpusFormatError(bad_byte_message(path, data, bad))
    try:
        text = data.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError as exc:
        raise CorpusFormatError(bad_byte_message(path, data, exc.start).replace(
            "is not valid UTF-8", f"is neither UTF-8 nor {FALLBACK_ENCODING}")) from None
    line = data.count(b"\n", 0, bad) + 1
    report.note(f"{path}: not UTF-8; read as {FALLBACK_ENCODING} (Western European), "
                f"first non-UTF-8 byte at line {line}")
    return text
