"""What became of each file the CIN reader found: :class:`CinFileAccount` and its status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from model.ingest.issue import Issue

READ, PARTLY_READ, NOT_READ = "read", "partly read", "not read"
"""What became of a file found (:attr:`CinFileAccount.status`)."""


@dataclass
class CinFileAccount:
    """What became of one file found under the paths given, for the report and the log.

    ``status``: :data:`READ` (every Child element, or every row of a flat file, read),
    :data:`PARTLY_READ` (``unread`` of them not read, for ``reason``) or :data:`NOT_READ`
    (nothing read, for ``reason``). ``found`` counts the Child elements in an XML file
    (every ``<Child`` start tag in its bytes, when the XML breaks before the end) or the
    data rows of a flat file; ``read`` those read into the tables (children without
    LAchildID included: the cleaner quarantines them), so ``found = read + unread``.
    ``cut_short``: the XML broke (truncated or malformed) after its first Child, so the
    census is incomplete. ``xsd_invalid``: children that failed the XSD (``xsd``).
    ``years``: census years (ending 31 March) of the rows read; ``warnings``: loud notes
    (every Child failing the XSD...). Never holds a child's identifier.
    """

    source: str
    kind: str = ""
    status: str = READ
    found: int = 0
    read: int = 0
    unread: int = 0
    unit: str = "Child elements"
    reason: str = ""
    cut_short: bool = False
    xsd: str = ""
    xsd_invalid: int = 0
    years: list[int] = field(default_factory=list)
    la: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the file, its years and what became of it."""
        years = ", ".join(map(str, self.years)) or "year unknown"
        text = f"{self.source} ({self.kind or 'unknown kind'}, {years}): {self.status}"
        if self.status != NOT_READ:
            text += f", {self.read} of {self.found} {self.unit}"
        if self.reason:
            text += f" ({self.reason})"
        return text


def settle(account: CinFileAccount, issues: Sequence[Issue]) -> None:
    """The file's status from its counts; the reason a file was not read is its first
    error when nothing more precise was said."""
    if account.read == 0 and not account.cut_short:
        account.status = NOT_READ
        if not account.reason:
            errors = [i.found for i in issues if i.severity == "error" and i.row is None]
            account.reason = errors[0] if errors else "nothing to read"
    elif account.unread or account.cut_short:
        account.status = PARTLY_READ
    if account.read and account.xsd_invalid == account.read and account.kind == "XML":
        account.warnings.append(
            f"every one of its {account.read} Child elements failed the XSD ({account.xsd}): "
            "is the census year right, and is the file a CIN census of that year?"
        )
