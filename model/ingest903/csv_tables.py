"""Parses the 903 CSV files whose header names a table, into batches of rows.

* **Delimiter**: the commonest of ``,``, tab, ``;`` and ``|`` in the header line.
* **Columns**: absent optional columns are added blank (a warning); unknown columns are
  kept (a warning).
* **Speed**: CSV files with the same header are concatenated and parsed in one call
  (pandas' pyarrow engine; cells as pandas ``str``), then split back by line counts; a
  file whose lines are not one record each (quoted newlines, ragged rows) is re-read on
  its own with the ``csv`` module, which gives exact line numbers (its cell-size limit
  raised to the file's size, so a 200 KB free-text cell is read). Rows whose cells are
  all blank (blank lines, lines of delimiters) are dropped with a warning; rows that
  cannot be read are counted in ``RawTable.unread``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.ingest.issue import Issue
from model.ingest903.discover import File, file_issue
from model.ingest903.parts import Batch, Capped, Part, repeat_str
from model.ingest903.recognise import ALL_COLUMNS, identify_table, normalise_names
from model.ingest903.stacked import STACKED_COLUMNS

BATCH_BYTES = 256 * 2**20
"""Largest concatenation of CSV bodies parsed in one call (bounds peak memory)."""

DELIMITERS = (",", "\t", ";", "|")


@dataclass
class CsvFile:
    """A CSV file whose header has been recognised, waiting to be parsed."""

    file: File
    table: str
    delimiter: str
    header: bytes
    names: list[str | None]
    body: bytes
    first_line: int
    """Line number of the first body line (header line + 1)."""
    issues: list[Issue]
    unread: int = 0
    """Rows of the file that could not be read (reported, never used)."""


def plan_csv(file: File, data: bytes, issues: list[Issue]) -> CsvFile | Issue:
    """Split off and recognise the header line; an Issue if the file is not usable."""
    stripped = data.lstrip(b"\n")
    if not stripped.strip():
        return file_issue(file, "empty file", "a header line of 903 column names, then rows")
    header_line = data.count(b"\n", 0, len(data) - len(stripped)) + 1
    header, _, body = stripped.partition(b"\n")
    text = header.decode("utf-8")
    delimiter = max(DELIMITERS, key=text.count)
    raw = next(csv.reader([text], delimiter=delimiter), [])
    names, notes = normalise_names(raw)
    table, problem = identify_table({n for n in names if n}, file.path.stem)
    if table is None:
        return file_issue(file, *problem)
    issues = issues + [file_issue(file, note, "the DfE column names", "warning") for note in notes]
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return CsvFile(file, table, delimiter, header, names, body, header_line + 1, issues)


def _parse_fast(data: bytes, n_fields: int, delimiter: str) -> pd.DataFrame | None:
    """Header-less CSV bytes as str columns "0".."n-1"; None if the parse fails."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=delimiter,
            header=None,
            names=[str(i) for i in range(n_fields)],
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="pyarrow",
        )
    except Exception:
        return None


def _parse_slow(plan: CsvFile) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse one file with the csv module: exact line numbers, ragged rows handled.

    Blank lines become blank rows (dropped later, with a count); short rows are padded with
    blanks (warning); long rows whose extra cells are blank are trimmed, other long rows are
    dropped (error); a row spanning several lines is kept, with a warning (a stray quote
    joins every line up to the next quote into one cell).
    """
    n = len(plan.names)
    records, lines = [], []
    short, long_ = Capped(plan, "short"), Capped(plan, "long")
    spans = Capped(plan, "multi-line")
    text = plan.body.decode("utf-8")
    reader = csv.reader(io.StringIO(text), delimiter=plan.delimiter)
    start = plan.first_line
    # The csv module refuses cells over 128 KiB by default and stops there: a free-text
    # column pasted into an extract would lose every row after it. The file is already
    # under the input size cap, so its own length bounds a cell.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        for record in reader:
            line, start = start, plan.first_line + reader.line_num
            if start - line > 1:
                spans.add(line, f"a row spanning lines {line}-{start - 1}")
            if not record:
                record = [""] * n  # counted and dropped with the other blank rows
            if len(record) < n:
                short.add(line, f"{len(record)} cell(s)")
                record += [""] * (n - len(record))
            elif len(record) > n:
                if any(record[n:]):
                    long_.add(line, f"{len(record)} cells (row not used)")
                    plan.unread += 1
                    continue
                record = record[:n]
            records.append(record)
            lines.append(line)
    except csv.Error as error:
        # The rest of the file cannot be split into rows: count what is lost.
        unread = max(plan.body.count(b"\n") - (start - plan.first_line), 1)
        plan.unread += unread
        plan.issues.append(
            file_issue(
                plan.file,
                f"unreadable CSV from line {start} ({error}): {unread} line(s) not read",
                "well-formed CSV",
                row=start,
            )
        )
    finally:
        csv.field_size_limit(limit)
    spans.close("one row per line (a quoted cell with line breaks, or a stray quote?)", "warning")
    short.close(f"{n} cells (the header's); missing cells read as blank", "warning")
    long_.close(f"{n} cells (the header's)", "error")
    frame = pd.DataFrame(records, columns=[str(i) for i in range(n)], dtype=object)
    return frame.astype("str"), np.asarray(lines, dtype=np.int64)


def csv_batches(plans: list[CsvFile]) -> list[Batch]:
    """Parse recognised CSV files, those with the same header together."""
    groups: dict[tuple, list[CsvFile]] = {}
    for plan in plans:
        groups.setdefault((plan.table, plan.delimiter, plan.header), []).append(plan)
    batches = []
    for members in groups.values():
        chunk: list[CsvFile] = []
        size = 0
        for plan in members:
            if chunk and size + len(plan.body) > BATCH_BYTES:
                batches.extend(_parse_group(chunk))
                chunk, size = [], 0
            chunk.append(plan)
            size += len(plan.body)
        batches.extend(_parse_group(chunk))
    return batches


def _parse_group(plans: list[CsvFile]) -> list[Batch]:
    """Batches for files sharing a header; a file the fast parse can't split goes alone."""
    counts = [plan.body.count(b"\n") for plan in plans]
    n = len(plans[0].names)
    frame = _parse_fast(b"".join(p.body for p in plans), n, plans[0].delimiter)
    if frame is not None and len(frame) == sum(counts):
        rows = np.concatenate(
            [
                np.arange(p.first_line, p.first_line + c, dtype=np.int64)
                for p, c in zip(plans, counts, strict=True)
            ]
        )
        return [_finish_batch(frame, rows, plans, counts)]
    if len(plans) > 1:  # find the odd file(s) by halving, so the rest stay batched
        half = len(plans) // 2
        return _parse_group(plans[:half]) + _parse_group(plans[half:])
    frame, rows = _parse_slow(plans[0])
    return [_finish_batch(frame, rows, plans, [len(frame)])]


def _finish_batch(
    frame: pd.DataFrame, rows: np.ndarray, plans: list[CsvFile], counts: list[int]
) -> Batch:
    """Name the columns, drop blank rows, and cut the batch into parts."""
    plan = plans[0]
    frame, extra, absent = _name_columns(frame, plan.names, plan.table)
    ends = np.cumsum(np.asarray(counts, dtype=np.int64))
    starts = ends - counts
    blank = _blank_rows(frame)
    blank_before = np.concatenate([[0], np.cumsum(blank)])
    dropped = blank_before[ends] - blank_before[starts]
    if blank.any():
        frame = frame[~blank].reset_index(drop=True)
        rows = rows[~blank]
        starts, ends = starts - blank_before[starts], ends - blank_before[ends]
    stacked = "YEAR" in frame.columns
    parts = []
    for p, start, stop, n_blank in zip(plans, starts, ends, dropped, strict=True):
        part = Part(p.file, p.table, int(start), int(stop), list(p.issues), stacked=stacked)
        part.unread = p.unread
        _column_issues(part, extra, absent, int(n_blank))
        parts.append(part)
    return Batch(frame, rows, parts)


def _name_columns(
    frame: pd.DataFrame, names: list[str | None], table: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Rename parsed columns to DfE names; add absent optional columns blank.

    Returns the frame (table columns in DfE order, then unknown columns, then LA/YEAR),
    the unknown columns and the absent ones.
    """
    renamed = {}
    for i, name in enumerate(names):
        if name is None:
            continue
        if name == "":
            if not frame[str(i)].ne("").any():
                continue  # a trailing delimiter: an unnamed, empty column
            name = f"COLUMN_{i + 1}"
        renamed[str(i)] = name
    frame = frame[list(renamed)].rename(columns=renamed)
    expected = ALL_COLUMNS[table]
    absent = [c for c in expected if c not in frame.columns]
    for column in absent:
        frame[column] = repeat_str([""], [len(frame)])
    extra = [c for c in frame.columns if c not in expected and c not in STACKED_COLUMNS]
    stacked = [c for c in STACKED_COLUMNS if c in frame.columns]
    return frame[expected + extra + stacked], extra, absent


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank (blank lines, or only delimiters)."""
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns:
        blank &= frame[column].eq("").to_numpy()
        if not blank.any():
            break
    return blank


def _column_issues(part: Part, extra: list[str], absent: list[str], n_blank: int) -> None:
    """Warnings about unknown and absent columns, blank rows, and an empty table."""
    columns = f"the {part.table} columns {', '.join(ALL_COLUMNS[part.table])}"
    notes = [
        (extra, f"unknown column(s) {', '.join(extra)} (kept)", columns),
        (absent, f"column(s) {', '.join(absent)} absent (read as blank)", columns),
        (n_blank, f"{n_blank} blank row(s) ignored", "one row per line, no blank lines"),
        (
            part.stop == part.start,
            "a header line but no rows (read as an empty table)",
            f"rows of the {part.table} table under the header",
        ),
    ]
    for when, found, expected in notes:
        if when:
            part.issues.append(file_issue(part.file, found, expected, "warning"))
