"""One problem found in an input file, located for the data team that must fix it.

Every reader and cleaner reports problems as :class:`Issue` objects: file, position (row,
or Child element for CIN XML), field, what was found and what was expected. An Issue never
holds a child identifier.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem found, located precisely enough for a data team to fix it at source."""

    source: str
    row: int | None
    column: str | None
    found: str
    expected: str
    severity: str = "error"
    """"error" (the row or file was not used), "warning" (used, but worth a look)."""

    def message(self) -> str:
        """One readable line: file, row, column, what was found and what was expected."""
        where = self.source
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.found}; expected {self.expected}"
