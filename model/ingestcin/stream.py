"""Streams a CIN XML file with ``lxml.etree.iterparse``: the way to read any file that
cannot be cut into pieces (UTF-16, an odd layout, malformed XML).

``iterparse`` reports ``Header`` and ``Child`` end events; every :data:`BATCH_CHILDREN`
children are moved out of the parse tree into a holder and handled like a piece
(:func:`model.ingestcin.batch.flush_batch`). Every way of reading gives the same tables,
row order and issues; for a malformed file, the exact error and the children before it.
"""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from model.ingest.issue import Issue
from model.ingest.safe_xml import SAFE_OPTIONS
from model.ingestcin.account import CinFileAccount
from model.ingestcin.batch import flush_batch
from model.ingestcin.capped import Capped
from model.ingestcin.context import (
    FileContext,
    account_context,
    local_name,
    on_header,
    set_schema,
    strip_namespaces,
)
from model.ingestcin.document import cut_short, refused, wrong_root
from model.ingestcin.tables import Tables

BATCH_CHILDREN = 2000
"""Children validated and extracted together when a file is streamed (amortises the calls;
bounds the tree kept in memory)."""


def read_streaming(
    path: Path, source: str, tables: Tables, account: CinFileAccount, encoding: str | None
) -> list[Issue]:
    """Stream one CIN XML file into ``tables`` with iterparse; return its issues."""
    issues: list[Issue] = []
    ctx = FileContext(source)
    capped = Capped(source)
    position = 0
    # By name, not through a handle (checked by open_input before): from a Python file
    # object libxml2 loses the line and the message of some errors ("line 0: no element
    # found" for an undefined entity).
    context = etree.iterparse(
        os.fsencode(path),  # bytes: a name that is not valid UTF-8 still opens
        events=("end",),
        tag=("{*}Header", "{*}Child"),
        remove_comments=True,
        remove_pis=True,
        **SAFE_OPTIONS,
    )
    checked = False
    batch: list[etree._Element] = []
    try:
        for _event, elem in context:
            if not checked:
                # The root and any DOCTYPE are known by the first event.
                tree = elem.getroottree()
                if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
                    return [refused(source)]
                root = tree.getroot()
                if local_name(root.tag) != "Message":
                    return [wrong_root(source, root)]
                checked = True
            if local_name(elem.tag) == "Header":
                on_header(elem, ctx, path, issues)
                continue
            if position == 0 and ctx.schema is None and ctx.year < 0:
                # No Header before the first Child.
                set_schema(ctx, path, issues)
            position += 1
            if elem.tag[0] == "{":
                strip_namespaces(elem)
            batch.append(elem)
            if len(batch) >= BATCH_CHILDREN:
                # Moving the batch out of the parse tree frees it once extracted, so
                # memory holds at most one batch of children.
                parent = elem.getparent()
                flush_batch(batch, position - BATCH_CHILDREN + 1, ctx, tables, capped)
                if parent is not None:
                    del parent[:]  # anything else that accumulated (not Child: ignored)
    except etree.XMLSyntaxError as error:
        flush_batch(batch, position - len(batch) + 1, ctx, tables, capped)
        account_context(account, ctx, capped, position)
        issues.append(cut_short(path, source, error, position, account, encoding))
        return [*issues, *capped.issues()]
    flush_batch(batch, position - len(batch) + 1, ctx, tables, capped)
    root = context.root
    if root is not None and not checked:
        tree = root.getroottree()
        if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
            return [refused(source)]
        if local_name(root.tag) != "Message":
            return [wrong_root(source, root)]
    account_context(account, ctx, capped, position)
    if position == 0:
        issues.append(Issue(source, None, "Child", "no Child elements", "at least one Child"))
    return [*issues, *capped.issues()]
