"""One batch of Child elements (a piece, or streamed children moved into a holder) into the
tables: validated against the file's XSD, flattened, its rows added with their provenance.

* **Validation**: a batch is first validated in one call, and child by child only if it
  fails (:func:`validate`). A child failing the XSD is still used (decided: most failures
  are order or format slips the cleaner's own checks catch where they matter), and
  whatever can be used is still extracted from it.
* **A Child without LAchildID** (absent or blank) gives an error; its rows are read with
  a blank LAchildID, so that the cleaner quarantines and counts them (every Child found is
  counted as read).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from model.ingest.issue import Issue
from model.ingestcin.capped import Capped
from model.ingestcin.context import FileContext
from model.ingestcin.flatten import TABLE_DATA, flat_table
from model.ingestcin.tables import PROVENANCE_COLUMNS, TABLES, Tables
from model.ingestcin.xsd_messages import BATCH_TAG, xsd_issue


def validate(
    root: etree._Element,
    children: Sequence[etree._Element],
    first: int,
    ctx: FileContext,
    capped: Capped,
    lines: int = 0,
) -> None:
    """Validate ``children`` (all of ``root``'s Child elements, ``first`` being the file
    position of the first) and add their XSD issues; ``lines``: see
    :func:`~model.ingestcin.xsd_messages.xsd_issue`.

    ``root`` is first validated whole as a :data:`BATCH_TAG` (renamed to it): one call
    instead of one per child, about a third faster. Only if that fails is each Child
    validated on its own, which gives the same issues per child as before (a batch with
    anything besides Child elements fails, and so takes this way too).
    """
    schema = ctx.schema
    if schema is None or not children:
        return
    if not root.attrib:  # attributes (xsi:type...) could change what the batch means
        root.tag = BATCH_TAG
        if schema.validate(root):
            return
    for position, child in enumerate(children, first):
        if not schema.validate(child):
            capped.invalid += 1
            for error in schema.error_log:
                issue = xsd_issue(ctx.source, position, error, ctx.xsd_name, lines)
                capped.add(issue, issue.expected)


def extract(
    root: etree._Element,
    children: int,
    first: int,
    ctx: FileContext,
    tables: Tables,
    capped: Capped,
) -> None:
    """Add the rows of ``root``'s ``children`` Child elements to ``tables`` (``first``: the
    file position of the first). A Child without LAchildID gets an Issue, and its rows
    are added with a blank LAchildID: read, so that the cleaner quarantines and counts
    them (skipping them here would lose them from the accounting)."""
    flat = flat_table(root, children)
    if flat.num_rows == 0:
        return
    code = flat.column("f0")
    # Each line's child (1-based in the batch) and CINdetails (1-based in the child), from
    # the running counts of C and D lines (see flatten_xslt for the order of lines).
    is_child = pc.equal(code, "C")
    child = pc.cumulative_sum(pc.cast(is_child, pa.int64()))
    index = pc.subtract(child, 1)
    details = pc.cumulative_sum(pc.cast(pc.equal(code, "D"), pa.int64()))
    detail = pc.subtract(details, pc.take(details.filter(is_child), index))
    ident = pc.take(flat.column("f1").filter(is_child), index)
    has_id = pc.not_equal(pc.utf8_trim_whitespace(ident), "")
    position = pc.add(child, first - 1)
    no_id = pc.and_(is_child, pc.invert(has_id))
    for pos in position.filter(no_id).to_pylist():
        found = "Child without LAchildID (blank or absent): its records quarantined"
        capped.add(Issue(ctx.source, pos, "LAchildID", found, "a child id"), "no LAchildID")
    for letter, (table, data_columns) in TABLE_DATA.items():
        mask = pc.equal(code, letter)
        rows = flat.filter(mask)
        n = rows.num_rows
        if n == 0:
            continue
        arrays = {"LAchildID": ident.filter(mask)}
        if table != "children":
            arrays["_detail"] = detail.filter(mask)
        for i, name in enumerate(data_columns):
            arrays[name] = rows.column(f"f{2 + i}")
        arrays["_source"] = pa.array([ctx.source] * n, pa.large_string())
        arrays["_child"] = position.filter(mask)
        arrays["_year"] = pa.array([ctx.year] * n, pa.int64())
        arrays["_la"] = pa.array([ctx.la] * n, pa.large_string())
        columns = [*TABLES[table], *PROVENANCE_COLUMNS]
        tables.chunks[table].append(pa.table([arrays[c] for c in columns], names=columns))


def flush_batch(
    batch: list[etree._Element], first: int, ctx: FileContext, tables: Tables, capped: Capped
) -> None:
    """Validate and extract a batch of streamed Child elements, then free them.

    ``first`` is the file position of the batch's first Child.
    """
    if not batch:
        return
    holder = etree.Element(BATCH_TAG)
    holder.extend(batch)  # moves them out of the parse tree, so they are freed below
    validate(holder, batch, first, ctx, capped)
    n = len(batch)
    batch.clear()
    extract(holder, n, first, ctx, tables, capped)
