"""One file's row-level Issues, capped per element and kind and listed by child position.

Issues are capped at :data:`MAX_ISSUES_PER_KIND` per file, element and kind, plus one
summary, and listed in the order of the children they are about, so that the list does not
depend on how the file was read (streamed in batches, cut into pieces, shared between
processes: :meth:`Capped.merge`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from model.ingest.issue import Issue

MAX_ISSUES_PER_KIND = 20
"""Issues kept per file, element and kind; the rest are counted in one summary Issue."""


class Capped:
    """Collects one file's row-level issues, keeping at most ``limit`` per (element, kind).

    Issues are listed by child position (stable), so the list does not depend on how the
    file was cut into batches, pieces or ranges.
    """

    def __init__(self, source: str, limit: int | None = None) -> None:
        self.source = source
        self.limit = MAX_ISSUES_PER_KIND if limit is None else limit
        self.kept: list[tuple[Issue, tuple[str | None, str]]] = []
        self.counts: Counter[tuple[str | None, str]] = Counter()
        self.invalid = 0
        """Children that failed the XSD (each counted once, however many errors)."""

    def add(self, issue: Issue, kind: str) -> None:
        key = (issue.column, kind)
        self.counts[key] += 1
        if self.counts[key] <= self.limit:
            self.kept.append((issue, key))

    def merge(self, other: Capped, rows: int, lines: int) -> None:
        """Add the issues of the range of the file that follows: ``other``'s child
        positions and XSD line numbers are shifted by ``rows`` and ``lines``."""
        kept: Counter[tuple[str | None, str]] = Counter()
        self.invalid += other.invalid
        for issue, key in other.kept:
            kept[key] += 1
            self.counts[key] += 1
            if self.counts[key] <= self.limit:
                self.kept.append((_shift_issue(issue, rows, lines), key))
        for key, n in other.counts.items():
            self.counts[key] += n - kept[key]

    def issues(self) -> list[Issue]:
        """The kept issues plus one summary per kind that overflowed."""
        kept = sorted(self.kept, key=lambda ik: -1 if ik[0].row is None else ik[0].row)
        out = [issue for issue, _ in kept]
        keys = dict.fromkeys([key for _, key in kept] + list(self.counts))
        for column, kind in keys:
            n = self.counts[(column, kind)]
            if n > self.limit:
                found = f"{n - self.limit} more of: {kind} (not listed)"
                out.append(Issue(self.source, None, column, found, "see the issues above"))
        return out


_LINE_SUFFIX = re.compile(r" \(line (\d+)\)$")
"""How :func:`model.ingestcin.xsd_messages.xsd_issue` ends its ``found`` text."""


def _shift_issue(issue: Issue, rows: int, lines: int) -> Issue:
    """The issue of a range of pieces, located in the whole file: its child position moved
    on by ``rows``, the line of an XSD message by ``lines``."""
    found = issue.found
    if lines and found.startswith("XSD: "):
        found = _LINE_SUFFIX.sub(lambda m: f" (line {int(m.group(1)) + lines})", found)
    row = None if issue.row is None else issue.row + rows
    return replace(issue, row=row, found=found)
