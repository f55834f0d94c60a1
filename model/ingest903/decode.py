"""Decodes a 903 file's text, whatever its encoding, into normalised UTF-8 bytes.

**Decoding**: UTF-8 with or without BOM; else UTF-16 with a BOM (XML too, re-declared as
UTF-8 for the safe parser: :func:`model.ingest903.xml_tables.utf16_xml`); else
Windows-1252 (a warning). CRLF (and lone CR) line endings become LF; non-breaking spaces
become spaces (cells are otherwise untouched: the cleaner strips and records).
"""

from __future__ import annotations

import codecs

from model.ingest.issue import Issue
from model.ingest903.discover import File, file_issue


def decode(file: File, data: bytes) -> tuple[bytes | None, list[Issue]]:
    """Normalised UTF-8 bytes (no BOM, LF line ends, no NBSP), or None if undecodable."""
    issues = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    # ASCII is valid UTF-8 and far quicker to check than decoding.
    if not data.isascii() and not _is_utf8(data):
        text = decode_fallback(data)
        if text is None:
            found = "text that is neither UTF-8 nor Windows-1252"
            return None, [file_issue(file, found, "a CSV or XML file saved as UTF-8")]
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        encoding = "UTF-16" if utf16 else "Windows-1252 (cp1252)"
        issues.append(file_issue(file, f"not UTF-8; read as {encoding}", "UTF-8", "warning"))
        data = text.encode("utf-8")
    # Byte-level replacements are safe in UTF-8 and much faster than on str.
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"\xc2\xa0" in data:
        data = data.replace(b"\xc2\xa0", b" ")
    return data, issues


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_fallback(data: bytes) -> str | None:
    """Text of bytes that are not UTF-8: UTF-16 if they start with its BOM, else
    Windows-1252 (None if even that fails: cp1252 leaves five byte values undefined)."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        return data.decode("utf-16" if utf16 else "cp1252").lstrip("\ufeff")
    except UnicodeDecodeError:
        return None
