"""The six tables the CIN reader fills, and the collector that moves their rows into Arrow.

Every cell is the text as found, "" when absent; dates stay ISO text for the cleaner;
repeated values are comma-joined:

* ``children``: one row per Child: :data:`CHILD_COLUMNS`. ``sex`` is the value of
  ``GenderCurrent`` (to 2023-24: 1/2/0/9) or ``Sex`` (from 2024-25: M/F/U), and
  ``sex_element`` says which element it came from ("" if neither).
* ``cin_details``: one row per CINdetails; ``_detail`` is its 1-based position within the
  child. ``assessments``, ``cin_plans``, ``section47`` and ``cpp`` carry ``LAchildID`` and
  the ``_detail`` of the CINdetails they belong to.
* Provenance on every table (:data:`PROVENANCE_COLUMNS`): ``_source`` (the file, as given
  or relative to the folder given), ``_child`` (1-based position of the Child element in
  the file: never its LAchildID), ``_year`` (census year, ending 31 March; -1 if unknown)
  and ``_la`` (the header's LEA, or the flat file's LA column).

Tables are held as Arrow strings (about the text's length, not ~50 bytes per Python
``str``) until :meth:`Tables.frames` makes the DataFrames.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

CHILD_COLUMNS = [
    "LAchildID", "UPN", "FormerUPN", "UPNunknown", "PersonBirthDate",
    "ExpectedPersonBirthDate", "sex", "sex_element", "PersonDeathDate", "Ethnicity",
    "Disabilities",
]  # fmt: skip
DETAIL_COLUMNS = [
    "LAchildID", "_detail", "CINreferralDate", "ReferralSource", "PrimaryNeedCode",
    "CINclosureDate", "ReasonForClosure", "DateOfInitialCPC", "ReferralNFA",
]  # fmt: skip
ASSESSMENT_COLUMNS = [
    "LAchildID", "_detail", "AssessmentActualStartDate", "AssessmentInternalReviewDate",
    "AssessmentAuthorisationDate", "AssessmentFactors",
]  # fmt: skip
PLAN_COLUMNS = ["LAchildID", "_detail", "CINPlanStartDate", "CINPlanEndDate"]
S47_COLUMNS = [
    "LAchildID", "_detail", "S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC",
    "ICPCnotRequired",
]  # fmt: skip
CPP_COLUMNS = [
    "LAchildID", "_detail", "CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse",
    "LatestCategoryOfAbuse", "NumberOfPreviousCPP", "CPPreviewDate",
]  # fmt: skip
PROVENANCE_COLUMNS = ["_source", "_child", "_year", "_la"]
TABLES: dict[str, list[str]] = {
    "children": CHILD_COLUMNS,
    "cin_details": DETAIL_COLUMNS,
    "assessments": ASSESSMENT_COLUMNS,
    "cin_plans": PLAN_COLUMNS,
    "section47": S47_COLUMNS,
    "cpp": CPP_COLUMNS,
}
"""Table name -> data columns (provenance columns follow)."""
INT_COLUMNS = frozenset({"_detail", "_child", "_year"})


class Tables:
    """Rows collected per table, moved into Arrow arrays chunk by chunk."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {name: [] for name in TABLES}
        self.chunks: dict[str, list[pa.Table]] = {name: [] for name in TABLES}

    def flush(self) -> None:
        """Move the collected rows into Arrow tables (frees the Python strings)."""
        for name, rows in self.rows.items():
            if not rows:
                continue
            columns = [*TABLES[name], *PROVENANCE_COLUMNS]
            arrays = []
            for col, values in zip(columns, zip(*rows, strict=True), strict=True):
                kind = pa.int64() if col in INT_COLUMNS else pa.large_string()
                arrays.append(pa.array(values, type=kind))
            self.chunks[name].append(pa.Table.from_arrays(arrays, names=columns))
            rows.clear()

    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per table: text columns as pandas ``str``, the rest int64."""
        self.flush()
        out = {}
        for name, chunks in self.chunks.items():
            columns = [*TABLES[name], *PROVENANCE_COLUMNS]
            if chunks:
                table = pa.concat_tables(chunks)
                frame = pd.DataFrame(
                    {
                        col: table.column(col).to_numpy()
                        if col in INT_COLUMNS
                        else pd.Series(table.column(col), dtype="str")
                        for col in columns
                    }
                )
            else:
                frame = pd.DataFrame(
                    {
                        c: pd.Series([], dtype="int64" if c in INT_COLUMNS else "str")
                        for c in columns
                    }
                )
            out[name] = frame
        self.chunks = {name: [] for name in TABLES}
        return out

    def mark(self) -> dict[str, int]:
        """Where the tables end now (see :meth:`rollback`)."""
        self.flush()
        return {name: len(chunks) for name, chunks in self.chunks.items()}

    def rollback(self, mark: dict[str, int]) -> None:
        """Drop the rows added since ``mark`` (a file read again another way)."""
        for name, n in mark.items():
            del self.chunks[name][n:]
