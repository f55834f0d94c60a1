"""Find and decode the 903 tables in an authority's files: CSV (any system's export) or XML.

``read_903(paths)`` takes files and folders (:func:`model.ingest903.discover.find_files`)
and returns a :class:`~model.ingest.tables.ReadResult`: one :class:`RawTable` per table
found, with every cell as raw text, and an :class:`Issue` for everything that could not be
used or is worth a look. It never raises on bad input. See ``model/ingest/tables.py`` for
the contract.

A file is sniffed (:mod:`model.ingest903.discover`), decoded
(:mod:`model.ingest903.decode`) and recognised by its columns
(:mod:`model.ingest903.recognise`); CSV files are parsed in batches
(:mod:`model.ingest903.csv_tables`), XML documents on their own
(:mod:`model.ingest903.xml_tables`); each table gets its collection year
(:mod:`model.ingest903.years`), or its rows theirs from the stacked layout
(:mod:`model.ingest903.stacked`).

**Files** are opened with :func:`model.input_files.open_input` (regular files under the
size cap only: FIFOs, devices and symlink loops are issues saying what they are).

**Issues** go into the ``RawTable`` they concern; problems of files that gave no table
(and of an XML document as a whole) go into ``ReadResult.issues``. Issues name the file,
row and column, never a child identifier, date of birth or postcode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from model.ingest.issue import Issue
from model.ingest.tables import RawTable, ReadResult
from model.ingest903.csv_tables import CsvFile, csv_batches, plan_csv
from model.ingest903.decode import decode
from model.ingest903.discover import (
    SNIFF_BYTES,
    File,
    file_issue,
    find_files,
    is_xml,
    missing_reason,
    not_a_table,
)
from model.ingest903.parts import Batch, repeat_str
from model.ingest903.recognise import TABLE_ORDER
from model.ingest903.stacked import STACKED_COLUMNS, stacked_years
from model.ingest903.xml_tables import read_xml, utf16_xml
from model.ingest903.years import assign_years, episode_years
from model.input_files import max_input_bytes, open_input


def _provenance(batch: Batch) -> pd.DataFrame:
    """The batch frame with _source, _row, _year and _la (LA/YEAR dropped)."""
    frame = batch.frame
    counts = [p.stop - p.start for p in batch.parts]
    if "YEAR" in frame.columns:
        years = stacked_years(batch)
    else:
        per_part = [p.year if p.year is not None else -1 for p in batch.parts]
        years = np.repeat(np.asarray(per_part, dtype=np.int64), counts)
    la = frame["LA"].array if "LA" in frame.columns else repeat_str([""], [len(frame)])
    frame = frame.drop(columns=[c for c in STACKED_COLUMNS if c in frame.columns])
    sources = repeat_str([p.file.source for p in batch.parts], counts)
    return frame.assign(_source=sources, _row=batch.rows, _year=years, _la=la)


def _tables(batch: Batch) -> list[RawTable]:
    frame = _provenance(batch)
    return [
        RawTable(
            part.file.source,
            part.table,
            frame.iloc[part.start : part.stop].reset_index(drop=True),
            part.year,
            part.issues,
            span=part.span,
            unread=part.unread,
        )
        for part in batch.parts
    ]


def read_903(paths: Sequence[Path]) -> ReadResult:
    """Find and decode every 903 table under ``paths`` (files or folders)."""
    files, issues = find_files(paths)
    result = ReadResult(issues=issues, files_seen=[f.source for f in files])
    plans: list[CsvFile] = []
    batches: list[Batch] = []
    for file in files:
        _read_one(file, plans, batches, result.issues)
    batches.extend(csv_batches(plans))
    for batch in batches:
        episode_years(batch)
    parts = [part for batch in batches for part in batch.parts]
    assign_years(parts)
    for batch in batches:
        result.tables.extend(_tables(batch))
    result.tables.sort(key=lambda t: (t.source, TABLE_ORDER[t.table]))
    return result


def _read_one(file: File, plans: list[CsvFile], batches: list[Batch], issues: list[Issue]) -> None:
    """Classify one file: queue a CSV for parsing, read an XML, or record why not."""
    try:
        # open_input refuses FIFOs (which would block) and devices (read without end),
        # and files over the size cap.
        with open_input(file.path) as handle:
            # Classify by the first block, so a large binary file is not read whole.
            data = handle.read(SNIFF_BYTES)
            problem = not_a_table(file, data)
            if problem is None:
                data += handle.read(max_input_bytes() + 1 - len(data))
                problem = not_a_table(file, data)
    except OSError as error:
        issues.append(file_issue(file, _unreadable(file, error), "a readable CSV or XML file"))
        return
    if problem:
        issues.append(problem)
        return
    data = utf16_xml(data)
    if is_xml(data):
        episodes, others, xml_issues = read_xml(file, data)
        issues.extend(xml_issues)
        if episodes is not None:
            batches.extend([episodes, *others])
        return
    text, decode_issues = decode(file, data)
    if text is None:
        issues.extend(decode_issues)
        return
    plan = plan_csv(file, text, decode_issues)
    if isinstance(plan, Issue):
        issues.extend([*decode_issues, plan])
    else:
        plans.append(plan)


def _unreadable(file: File, error: OSError) -> str:
    """Why a file could not be read, in words (never its content)."""
    missing = missing_reason(file.path)
    if missing:
        return f"not read ({missing})"
    return f"not read ({error.strerror})"


def all_issues(result: ReadResult) -> list[Issue]:
    """Every issue: the file-level ones, then each table's."""
    return result.issues + [issue for table in result.tables for issue in table.issues]
