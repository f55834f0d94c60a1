"""Cuts a CIN XML file at ``<Child`` start tags into pieces, each parsed as a small
document of its own, and reads ranges of pieces (shared with worker processes for a big
file: :mod:`model.ingestcin.workers`).

**Pieces**: a file whose layout allows it (:func:`find_layout`: the first Child within
the first MiB, a simple prologue and Header, only end tags after the last Child, an
ASCII-based encoding) is cut at ``<Child`` start tags into pieces of about
:data:`PIECE_BYTES`; each piece is parsed as the small document ``prefix + piece +
suffix`` (the bytes before the first Child and after the last), its children validated
and flattened by one XSLT call (:mod:`model.ingestcin.batch`), and the piece freed.
Parsing small documents whole is about twice as fast as ``iterparse`` and needs no moving
of elements. Memory holds one piece's tree plus the tables. A file whose pieces do not all
parse or nest as expected (malformed XML, odd nesting) is streamed instead
(:mod:`model.ingestcin.stream`), with the same tables, row order and issues.
"""

from __future__ import annotations

import codecs
import io
import mmap
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from model.ingest.issue import Issue
from model.ingest.safe_xml import safe_parser
from model.ingestcin.account import CinFileAccount
from model.ingestcin.batch import extract, validate
from model.ingestcin.capped import Capped
from model.ingestcin.context import (
    FileContext,
    account_context,
    local_name,
    on_header,
    set_schema,
    strip_namespaces,
)
from model.ingestcin.document import CHILD_START
from model.ingestcin.tables import Tables
from model.ingestcin.workers import Workers, worker_count
from model.input_files import open_input

PIECE_BYTES = 2 << 20
"""Bytes per piece when a file is cut at Child boundaries (about 2000 children): each piece
is parsed as one small document, validated and extracted like a batch."""

_CHILD_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?Child\s*>")
_END_TAGS = re.compile(rb"\s*(?:</[^\s<>/]+\s*>\s*)*")
_XML_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_ASCII_BASED = re.compile(
    rb"(?i)utf-?8|(?:us-)?ascii|iso[-_]?8859-\d+|latin-?1|(?:windows|cp)-?125\d"
)
"""Encodings in which a ``<`` byte is always the character ``<`` (so cutting bytes at
``<Child`` cuts characters)."""
PREFIX_MAX_BYTES = 1 << 20
"""The first Child must start within this many bytes for a file to be cut into pieces."""
SUFFIX_MAX_BYTES = 1 << 16
"""The last Child must end within this many bytes of the end of the file."""


@dataclass(frozen=True)
class Layout:
    """How a file is cut: the bytes before the first Child (``prefix``: declaration, root,
    Header...), after the last (``suffix``: end tags), and the piece boundaries (file
    offsets of Child start tags, then the end of the last Child)."""

    prefix: bytes
    suffix: bytes
    bounds: tuple[int, ...]


def _simple_prefix(prefix: bytes) -> bool:
    """Whether every ``<`` in the prefix starts a tag (no comment, CDATA, DOCTYPE or
    processing instruction besides the XML declaration), in an ASCII-based encoding."""
    text = prefix.removeprefix(codecs.BOM_UTF8)
    declaration = _XML_DECLARATION.match(text)
    if declaration:
        encoding = _ENCODING.search(declaration.group())
        if encoding and not _ASCII_BASED.fullmatch(encoding.group(1)):
            return False
        text = text[declaration.end() :]
    return b"<!" not in text and b"<?" not in text


def find_layout(path: Path) -> Layout | None:
    """Where the file can be cut into pieces that each parse as a document of their own
    (``prefix + piece + suffix``), or None (the file is then streamed).

    Pieces are about :data:`PIECE_BYTES` long and start at a ``<Child`` start tag (any
    namespace prefix). The prefix must be simple (:func:`_simple_prefix`), so it holds no
    Child, and the suffix only end tags. A cut that fell inside a comment, CDATA section
    or processing instruction leaves it unterminated in its piece (the suffix cannot end
    it), so that piece fails to parse and the file is streamed instead: a wrong cut can
    cost time, never change a result. Boundaries depend only on the file, not on the
    number of processes, so every way of reading gives the same batches.
    """
    with open_input(path) as handle:
        if os.fstat(handle.fileno()).st_size < 2:
            return None
        return _layout_of(handle)


def _layout_of(handle: io.BufferedReader) -> Layout | None:
    """:func:`find_layout` on an open file (mapped, not read into memory)."""
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        first = CHILD_START.search(data, 0, PREFIX_MAX_BYTES)
        if first is None or not _simple_prefix(data[: first.start()]):
            return None
        tail = max(first.end(), len(data) - SUFFIX_MAX_BYTES)
        ends = list(_CHILD_END.finditer(data, tail))
        if not ends or not _END_TAGS.fullmatch(data, ends[-1].end()):
            return None
        last = ends[-1]
        bounds = [first.start()]
        while m := CHILD_START.search(data, bounds[-1] + max(1, PIECE_BYTES), last.end()):
            bounds.append(m.start())
        bounds.append(last.end())
        return Layout(data[: first.start()], data[last.end() :], tuple(bounds))


def _piece_parser() -> etree.XMLParser:
    return safe_parser(remove_comments=True, remove_pis=True)


def _prefix_headers(
    path: Path, layout: Layout, ctx: FileContext, issues: list[Issue]
) -> int | None:
    """Read the Header(s) before the first Child, as streaming would, from the document
    ``prefix + suffix``; return how many there are, or None if the file should be streamed
    (the prefix and suffix do not make a document with a <Message> root and no Child)."""
    try:
        root = etree.fromstring(layout.prefix + layout.suffix, _piece_parser())
    except etree.XMLSyntaxError:
        return None
    if local_name(root.tag) != "Message":
        return None  # streaming reports the wrong root
    headers = 0
    for _event, elem in etree.iterwalk(root, events=("end",), tag=("{*}Header", "{*}Child")):
        if local_name(elem.tag) != "Header":
            return None
        on_header(elem, ctx, path, issues)
        headers += 1
    if ctx.schema is None and ctx.year < 0:
        set_schema(ctx, path, issues)  # as streaming does at the first Child
    return headers


def _piece_children(root: etree._Element, headers: int) -> list[etree._Element] | None:
    """The piece's Child elements, or None unless they are all siblings and the only
    Header elements are the prefix's ``headers`` (else streaming, which reads Child and
    Header elements at any depth, could read the file differently)."""
    children = []
    seen_headers = 0
    for elem in root.iter("{*}Header", "{*}Child"):
        if local_name(elem.tag) == "Header":
            seen_headers += 1
        else:
            children.append(elem)
    if seen_headers != headers or not children:
        return None
    parent = children[0].getparent()
    if any(child.getparent() is not parent for child in children):
        return None
    return children


def _read_range(
    path: Path,
    ctx: FileContext,
    layout: Layout,
    headers: int,
    span: tuple[int, int],
    tables: Tables,
    capped: Capped,
    poll: Callable[[int, int], int] | None = None,
) -> tuple[int, int] | None:
    """Read pieces ``span[0]`` to ``span[1] - 1`` into ``tables`` and ``capped``, child
    positions counted from 1 and XSD lines as if the range followed the prefix; return
    (children read, line breaks in the range), or None if the file should be streamed.

    ``poll(next piece, end)``, called after each piece, returns the range's new end (the
    pieces after it having been handed to a worker process).
    """
    parser = _piece_parser()
    bounds = layout.bounds
    position = lines = 0
    i, end = span
    with open_input(path) as handle:
        handle.seek(bounds[i])
        while i < end:
            piece = handle.read(bounds[i + 1] - bounds[i])
            try:
                root = etree.fromstring(layout.prefix + piece + layout.suffix, parser)
            except etree.XMLSyntaxError:
                return None
            children = _piece_children(root, headers)
            if children is None:
                return None
            for child in children:
                if child.tag[0] == "{":
                    strip_namespaces(child)
            # Validated and extracted where they are: moving them into a holder, as
            # streaming does, would cost about a tenth of the time.
            container = children[0].getparent()
            validate(container, children, position + 1, ctx, capped, lines)
            extract(container, len(children), position + 1, ctx, tables, capped)
            position += len(children)
            lines += piece.count(b"\n")
            i += 1
            if poll is not None:
                end = poll(i, end)
    return position, lines


@dataclass
class _RangeResult:
    """What a worker process read: tables with child positions counted from 1 in the
    range, issues with lines counted as if the range followed the prefix."""

    tables: dict[str, pa.Table]
    capped: Capped
    children: int
    lines: int


def range_worker(
    path: Path, ctx: FileContext, layout: Layout, headers: int, limit: int,
    span: tuple[int, int],
) -> _RangeResult | None:  # fmt: skip
    """Read one range of pieces on its own (in a worker process, or here as a fallback)."""
    tables = Tables()
    capped = Capped(ctx.source, limit)
    stats = _read_range(path, ctx, layout, headers, span, tables, capped)
    if stats is None:
        return None
    frames = {name: pa.concat_tables(chunks) for name, chunks in tables.chunks.items() if chunks}
    return _RangeResult(frames, capped, *stats)


def read_pieces(
    path: Path, source: str, layout: Layout, tables: Tables, account: CinFileAccount
) -> list[Issue] | None:
    """Read a file piece by piece into ``tables``; return its issues, or None if the file
    should be streamed instead (the caller then drops what was added to ``tables``).

    For a big file, worker processes are started (:mod:`model.ingestcin.workers`), and
    this one starts reading. Each worker that is ready takes the back half of the pieces
    this one has still to read; their tables follow this one's, in order, with child
    positions, issue rows and XSD lines moved on by the ranges before. A worker that fails
    has its range read here. ``account``: see :func:`model.ingestcin.read.read_cin`.
    """
    ctx = FileContext(source)
    issues: list[Issue] = []
    headers = _prefix_headers(path, layout, ctx, issues)
    if headers is None:
        return None
    capped = Capped(source)
    args = (path, ctx, layout, headers, capped.limit)
    count = worker_count(path.stat().st_size) - 1
    with Workers(count, range_worker, args, layout.bounds) as workers:
        workers.wait_ready()
        span = (0, workers.share(0, len(layout.bounds) - 1))
        stats = _read_range(path, ctx, layout, headers, span, tables, capped, workers.share)
        if stats is None:
            return None
        children, lines = stats
        for part in workers.results():
            if part is None:
                return None
            for name, table in part.tables.items():
                index = table.schema.get_field_index("_child")
                moved = pc.add(table.column("_child"), children)
                tables.chunks[name].append(table.set_column(index, "_child", moved))
            capped.merge(part.capped, children, lines)
            children += part.children
            lines += part.lines
    account_context(account, ctx, capped, children)
    return [*issues, *capped.issues()]
