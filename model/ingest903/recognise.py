"""Which 903 table a file is, by its column names.

* **Header names** are stripped and upper-cased; inner whitespace becomes ``_`` when that
  gives a DfE name (``PLACE PROVIDER`` -> ``PLACE_PROVIDER``); XML's ``CHILDID`` and
  ``PL`` become ``CHILD`` and ``PLACE``. A repeated name keeps its first column.
* **Table recognition**: among the tables (``TABLE_COLUMNS`` and the other 903 tables in
  :data:`OTHER_TABLE_COLUMNS`) whose required columns are all present, the one whose
  columns best match the file's (Jaccard index; ``LA``/``YEAR`` ignored). With no such
  table, a file whose name names a table (``uasc.csv``) or whose columns mostly match one
  gets a "missing required column" error; any other file gets "not a 903 table", listing
  the closest tables and what each lacks. A "not a 903 table" issue lists only the 903
  column names of the first line and counts its other fields: the line may be a row of
  data (the column-name line missing) or another file's content.
"""

from __future__ import annotations

import re

from model.ingest.tables import REQUIRED_COLUMNS, TABLE_COLUMNS
from model.ingest.withhold import WITHHELD
from model.ingest903.stacked import STACKED_COLUMNS

OTHER_TABLE_COLUMNS: dict[str, list[str]] = {
    "reviews": ["CHILD", "DOB", "REVIEW", "REVIEW_CODE"],
    "oc2": [
        "CHILD", "DOB", "SDQ_SCORE", "SDQ_REASON", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS",
        "TEETH_CHECK", "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE", "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ],
    "oc3": ["CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"],
    "ad1": [
        "CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR",
        "LS_ADOPTR",
    ],
    "placed_for_adoption": [
        "CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED",
    ],
    "previous_permanence": ["CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"],
    "missing": ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
    "sw_episodes": ["CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"],
    "dolo": ["CHILD", "DOB", "DOLO_START", "DOLO_END"],
}  # fmt: skip
"""The 903 tables the model does not use (data-formats.md §1.2), recognised so they are
counted rather than reported as unknown."""

OTHER_REQUIRED_COLUMNS: dict[str, list[str]] = {
    "reviews": ["CHILD", "REVIEW", "REVIEW_CODE"],
    "oc2": ["CHILD", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK"],
    "oc3": ["CHILD", "IN_TOUCH", "ACTIV", "ACCOM"],
    "ad1": ["CHILD", "DATE_INT", "DATE_MATCH"],
    "placed_for_adoption": ["CHILD", "DATE_PLACED"],
    "previous_permanence": ["CHILD", "PREV_PERM"],
    "missing": ["CHILD", "MISSING", "MIS_START"],
    "sw_episodes": ["CHILD", "SW_ID", "SW_DECOM"],
    "dolo": ["CHILD", "DOLO_START"],
}
"""Columns that identify each other table (its distinctive, never-blank columns)."""

ALL_COLUMNS = {**TABLE_COLUMNS, **OTHER_TABLE_COLUMNS}
ALL_REQUIRED = {**REQUIRED_COLUMNS, **OTHER_REQUIRED_COLUMNS}
TABLE_ORDER = {name: i for i, name in enumerate(ALL_COLUMNS)}
KNOWN_NAMES = frozenset(c for cols in ALL_COLUMNS.values() for c in cols) | set(STACKED_COLUMNS)
XML_ALIASES = {"CHILDID": "CHILD", "PL": "PLACE"}
SHARED_COLUMNS = frozenset({"CHILD", "DOB", "SEX"})
"""Columns many tables share: they say nothing about which table a file is."""

NAME_HINTS = {
    "sw_episodes": "sw_episodes", "social_worker": "sw_episodes", "episode": "episodes",
    "header": "header", "uasc": "uasc", "review": "reviews", "oc2": "oc2", "oc3": "oc3",
    "ad1": "ad1", "placed_for_adoption": "placed_for_adoption",
    "placedadoption": "placed_for_adoption", "previous_permanence": "previous_permanence",
    "prevperm": "previous_permanence", "missing": "missing", "dolo": "dolo",
}  # fmt: skip
"""File-name fragments that name a table (longest first wins), for clearer errors."""


def normalise_names(raw: list[str]) -> tuple[list[str | None], list[str]]:
    """DfE names for the header fields (None: a repeated column, dropped); and notes."""
    notes: list[str] = []
    names: list[str | None] = []
    for field_name in raw:
        name = field_name.strip().upper()
        collapsed = re.sub(r"\s+", "_", name)
        if name not in KNOWN_NAMES and collapsed in KNOWN_NAMES:
            name = collapsed
        names.append(name)
    for alias, target in XML_ALIASES.items():
        if alias in names and target not in names:
            names[names.index(alias)] = target
            notes.append(f"column {alias} read as {target} (its XML name)")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name and name in seen:
            notes.append(f"column {name} appears more than once; column {i + 1} was ignored")
            names[i] = None
        seen.add(name or "")
    return names, notes


def _hint(stem: str) -> str | None:
    """The table a file name names, if any (``2017-uasc`` -> uasc)."""
    name = re.sub(r"[^a-z0-9]+", "_", stem.lower())
    for fragment in sorted(NAME_HINTS, key=len, reverse=True):
        if fragment in name:
            return NAME_HINTS[fragment]
    return None


def _jaccard(columns: set[str], table: str) -> float:
    expected = set(ALL_COLUMNS[table])
    return len(columns & expected) / len(columns | expected)


def identify_table(columns: set[str], stem: str = "") -> tuple[str | None, tuple[str, str] | None]:
    """The 903 table a set of (normalised) column names is, or None and (found, expected).

    ``stem`` is the file name without extension. When it names a table (``2019-uasc``) that
    matches the columns better than every table whose required columns are present, the
    answer is that table's "missing required column" error rather than a worse match.
    """
    columns = set(columns) - set(STACKED_COLUMNS)
    candidates = [t for t in ALL_COLUMNS if set(ALL_REQUIRED[t]) <= columns]
    hinted = _hint(stem)
    if candidates:
        best = max(candidates, key=lambda t: (_jaccard(columns, t), -TABLE_ORDER[t]))
        # uasc.csv without DUC has all of header's required columns, but is a broken uasc.
        if (
            not hinted
            or hinted in candidates
            or _jaccard(columns, hinted) <= _jaccard(columns, best)
        ):
            return best, None
        return None, _missing_required(columns, hinted)
    closest = max(ALL_COLUMNS, key=lambda t: (_distinctive(columns, t), _jaccard(columns, t)))
    if not _distinctive(columns, closest):
        closest = None
    for table in (hinted, closest):
        if table and _jaccard(columns, table) >= 0.5:
            return None, _missing_required(columns, table)
    ranked = sorted(ALL_COLUMNS, key=lambda t: (-_jaccard(columns, t), TABLE_ORDER[t]))[:3]
    could = "; ".join(
        f"{t} (missing {', '.join(c for c in ALL_REQUIRED[t] if c not in columns)})" for t in ranked
    )
    return None, (
        f"not a 903 table: {_columns_found(columns)}",
        f"the columns of a 903 table, e.g. {could}",
    )


def _columns_found(columns: set[str]) -> str:
    """What a first line held, without echoing it: the 903 column names in it, and how many
    other fields. A first line of data (a header line missing) or of another file (a
    symlink to a system file) would otherwise put a child's id or the file's content into
    the report; such fields are withheld."""
    known = sorted(columns & KNOWN_NAMES)
    others = len(columns - KNOWN_NAMES)
    if not known:
        return (
            f"a first line of {len(columns)} field(s), none of them a 903 column name "
            f"{WITHHELD} (is the line of column names missing?)"
        )
    more = f" and {others} other field(s) {WITHHELD}" if others else ""
    return f"903 column(s) {', '.join(known)}{more}"


def _missing_required(columns: set[str], table: str) -> tuple[str, str]:
    missing = ", ".join(c for c in ALL_REQUIRED[table] if c not in columns)
    return (
        f"the {table} table without its required column(s) {missing}",
        f"the {table} columns {', '.join(ALL_COLUMNS[table])}",
    )


def _distinctive(columns: set[str], table: str) -> int:
    return len(columns & (set(ALL_COLUMNS[table]) - SHARED_COLUMNS))
