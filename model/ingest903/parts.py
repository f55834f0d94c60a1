"""The 903 tables in progress: each table found in a file (:class:`Part`) as rows of the
frame parsed with others of its kind (:class:`Batch`), and its row-level issues, capped.

Row-level issues are capped at :data:`MAX_ROW_ISSUES` per file and kind, plus one summary
(:class:`Capped`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from model.ingest.issue import Issue
from model.ingest903.discover import File, file_issue

MAX_ROW_ISSUES = 50
"""Row-level issues kept per file and kind; the rest are summarised in one issue."""


@dataclass
class Part:
    """One table found in one file: rows ``start:stop`` of its batch's frame."""

    file: File
    table: str
    start: int = 0
    stop: int = 0
    issues: list[Issue] = field(default_factory=list)
    stacked: bool = False
    data_year: int | None = None
    """Year from the table's own dates (episodes only)."""
    first_year: int | None = None
    """Earliest year the table's own dates cover (episodes only; see EpisodesYear)."""
    span: tuple[int, int] | None = None
    """First and last collection years the table covers (see RawTable.span)."""
    unread: int = 0
    """Rows of the file that could not be read."""
    year: int | None = None
    sibling: Part | None = None
    """For XML: the episodes part of the same document."""


@dataclass
class Batch:
    """Rows of one or more files' tables of the same kind, parsed together."""

    frame: pd.DataFrame
    rows: np.ndarray
    parts: list[Part]


class FileIssues(Protocol):
    """Where one file's issues are collected (a :class:`Part`, a CSV file being parsed)."""

    file: File
    issues: list[Issue]


class Capped:
    """Row issues of one kind for one file, at most MAX_ROW_ISSUES, then a summary."""

    def __init__(self, plan: FileIssues, kind: str, column: str | None = None) -> None:
        self.plan, self.kind, self.column = plan, kind, column
        self.found: list[tuple[int, str]] = []
        self.count = 0

    def add(self, row: int, found: str) -> None:
        self.count += 1
        if len(self.found) < MAX_ROW_ISSUES:
            self.found.append((row, found))

    def close(self, expected: str, severity: str) -> None:
        file, issues = self.plan.file, self.plan.issues
        for row, found in self.found:
            issues.append(file_issue(file, found, expected, severity, row, self.column))
        if self.count > len(self.found):
            more = self.count - len(self.found)
            issues.append(
                file_issue(
                    file,
                    f"{more} more rows like the above ({self.kind})",
                    expected,
                    severity,
                    column=self.column,
                )
            )


def repeat_str(values: list[str], counts: list[int]) -> pd.api.extensions.ExtensionArray:
    """``values[i]`` repeated ``counts[i]`` times, as pandas ``str``.

    Built as an Arrow dictionary array: converting millions of Python strings is ~5x slower.
    """
    indices = pa.array(np.repeat(np.arange(len(values), dtype=np.int32), counts))
    dictionary = pa.array(values, type=pa.large_string())
    return pd.array(
        pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string()), dtype="str"
    )
