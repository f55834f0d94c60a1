"""What makes a CIN XML file unusable as a whole, and the Issues that say so: a DOCTYPE, a
root other than ``<Message>``, XML that breaks.

* **Safety**: entities are never resolved, no DTD is loaded, no network is used, and
  ``huge_tree`` is off (:mod:`model.ingest.safe_xml`). Any DOCTYPE is refused (the whole
  file) with an Issue: census files have none, and refusing it defeats entity-expansion
  bombs and external entities outright. The check is made before a file is cut
  (:func:`has_doctype_prologue`), and a cut file's prefix holds no ``<!`` at all
  (:mod:`model.ingestcin.pieces`); pieces are parsed with the same safe settings.
* **Malformed XML** gives an error with the line number and libxml2's message (quoted
  input withheld); the children read before the error are kept, and the ``<Child`` start
  tags in the file's bytes are counted, so the file's
  :class:`~model.ingestcin.account.CinFileAccount` says how many were read and how many
  not. A file that breaks after its first Child is ``cut_short``: the ingest refuses to
  carry on (:mod:`model.ingestcin`).
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path

from lxml import etree

from model.ingest.issue import Issue
from model.ingest.safe_xml import DOCTYPE
from model.ingest.withhold import WITHHELD, withhold_values
from model.ingestcin.account import CinFileAccount
from model.ingestcin.context import local_name
from model.input_files import open_input, read_input

CHILD_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Child[\s/>]")
"""A Child start tag, with any namespace prefix (where files are cut into pieces)."""
_INPUT_BYTES = re.compile(r"Bytes: (?:0x[0-9A-Fa-f]{2}\s*)+")
"""The bytes of the input libxml2 quotes in an encoding error (they may be part of an id)."""
PROLOGUE_BYTES = 65536
"""Bytes searched for a DOCTYPE before parsing (the parse also checks the document's own
DOCTYPE record, for a DOCTYPE after a very long prologue)."""


def has_doctype_prologue(path: Path, encoding: str | None) -> bool:
    """Whether a DOCTYPE is in the file's first :data:`PROLOGUE_BYTES` (``encoding``: a
    UTF-16/32 encoding to decode them from, None for an ASCII-based file)."""
    with open_input(path) as handle:
        head = handle.read(PROLOGUE_BYTES)
    if encoding is not None:
        head = head.decode(encoding, "replace").encode("utf-8")
    return bool(DOCTYPE.search(head))


def refused(source: str) -> Issue:
    return Issue(
        source, None, None, "XML with a DOCTYPE declaration (refused: it can define entities)",
        "CIN census XML without a DOCTYPE",
    )  # fmt: skip


_QUOTED_PART = re.compile(r"'([^']*)'")


def _syntax_error(error: etree.XMLSyntaxError, path: Path) -> tuple[int, str]:
    """(line, message) of the error that broke the XML at ``path``. iterparse can raise
    a bare "no element found" at line 0 (for an undefined entity, say), the real error
    being in the log; the log also holds earlier parses' messages, so only this file's
    last fatal entry is taken."""
    if error.lineno and error.msg != "no element found":
        return error.lineno, str(error.msg)
    name = os.fsdecode(os.fsencode(path))
    fatal = [e for e in error.error_log if e.level_name == "FATAL" and e.filename == name]
    if fatal:
        return fatal[-1].line, fatal[-1].message
    return error.lineno or 0, str(error.msg or error)


def _syntax_message(message: str) -> str:
    """libxml2's message without the input it quotes (a name, an entity, raw bytes: they
    may be part of a child's identifier). A quoted part that is only punctuation (``'>'``)
    is syntax, kept; any other goes through :func:`withhold_values`."""
    message = _INPUT_BYTES.sub(f"bytes {WITHHELD}", message.strip())
    if all(not any(c.isalnum() for c in q) for q in _QUOTED_PART.findall(message)):
        return message
    return withhold_values(message)


def _count_children(path: Path, encoding: str | None) -> int:
    """``<Child`` start tags in the file's bytes (decoded from ``encoding`` first if given):
    the children a file held, however far its XML could be parsed."""
    if encoding is not None:
        return len(CHILD_START.findall(read_input(path).decode(encoding, "replace").encode()))
    with open_input(path) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return sum(1 for _ in CHILD_START.finditer(data))


def cut_short(
    path: Path,
    source: str,
    error: etree.XMLSyntaxError,
    position: int,
    account: CinFileAccount,
    encoding: str | None,
) -> Issue:
    """The Issue for XML that breaks, and the file's account: children found in its
    bytes, read (the ``position`` before the break) and not read."""
    line, message = _syntax_error(error, path)
    message = _syntax_message(message)
    where = f"line {line}" + (f" (after Child {position})" if position else "")
    found = f"malformed XML at line {line}: {message}"
    account.found = max(_count_children(path, encoding), position)
    account.unread = account.found - position
    if account.found:
        # A census that breaks after its first Child is incomplete, however many
        # children follow the break: the run must not carry on as if it were whole.
        account.cut_short = True
        found += (
            f" ({position} Child elements before it read and kept, {account.unread} from "
            "there on not read: the census is cut short)"
        )
        account.reason = f"cut short at {where}: {message}"
    return Issue(source, None, None, found, "well-formed XML")


def wrong_root(source: str, root: etree._Element) -> Issue:
    found = f"XML with root element <{local_name(root.tag)}> (line {root.sourceline})"
    return Issue(source, None, None, found, "CIN census XML: root element <Message>")
