"""Local authority changes since 2010, and the rule carecast applies to each.

Years are years ending 31 March: a change on 1 April 2019 takes effect in 2020.

**Recodes** (:data:`RECODES`): the same children's services area under a new ONS code (a
county council becoming a unitary authority on the same boundary, or a code reissued after
a minor boundary correction). DfE's newer releases show the whole series under the new code,
and so does carecast: every figure published under the old code belongs to the new one.

**Reorganisations** (:data:`REORGANISATIONS`): areas merged or split. The authorities
before the change (predecessors) keep their series up to the year before, the authorities
after it (successors) theirs from the change on; neither is stretched over the other's years.
One *combined reporting unit* per reorganisation covers the whole area over all years: the
sum of the predecessors before the change and of the successors after it, for each figure
every member of that year gives (a figure any member lacks, e.g. suppressed, gives no
combined row). It is what a user wanting one long series for the area fits: Northamptonshire
before and after its split, or Bournemouth, Poole and Dorset (whose split of Dorset cannot be
undone: Christchurch moved from Dorset to BCP).

Combined units have codes starting ``CMB_`` (never an ONS code). ``authorities.csv`` marks
them ``kind`` = ``combined`` and names, for each authority in one, its unit (``part_of``).
**Never add a combined unit to authorities**: national totals are the sum over ``kind`` =
``authority`` (each area is counted once in every year, because predecessors and successors
never share a year), and a model fitting every series should take either a combined unit or
its members, not both.

What the files in ``data/dfe_published`` (years to 2021) show: BCP and the new Dorset from
2020 with Bournemouth, Poole and the old Dorset county up to 2019 ("z" after); North and West
Northamptonshire listed with "z" up to 2021 (they start in 2022); Cumberland and Westmorland
and Furness listed with "z" in the 2025 releases (they start in 2024); Buckinghamshire,
North Yorkshire and Somerset under both codes (the 2025 releases recode their history);
Gateshead and Northumberland under their pre-2013 codes in some SFR files.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from model.ingestpub.tables import LA_CODE_PREFIXES

COMBINED_PREFIX = "CMB_"


@dataclass(frozen=True)
class Recode:
    """The same area published under ``old`` before ``year`` and ``new`` from then on."""

    old: str
    new: str
    year: int
    name: str
    why: str


@dataclass(frozen=True)
class Reorganisation:
    """``predecessors`` (up to ``year`` - 1) became ``successors`` (from ``year``)."""

    unit: str
    name: str
    year: int
    predecessors: tuple[str, ...]
    successors: tuple[str, ...]
    why: str


RECODES: tuple[Recode, ...] = (
    Recode("E08000020", "E08000037", 2014, "Gateshead", "new code after a boundary correction"),
    Recode(
        "E06000048", "E06000057", 2014, "Northumberland", "new code after a boundary correction"
    ),
    Recode("E10000002", "E06000060", 2021, "Buckinghamshire", "county became a unitary authority"),
    Recode("E10000023", "E06000065", 2024, "North Yorkshire", "county became a unitary authority"),
    Recode("E10000027", "E06000066", 2024, "Somerset", "county became a unitary authority"),
)
"""Same area, new code: every figure goes to ``new`` (years of the first new-code figure)."""

REORGANISATIONS: tuple[Reorganisation, ...] = (
    Reorganisation(
        "CMB_BCP_DORSET",
        "Bournemouth, Christchurch and Poole and Dorset (combined)",
        2020,
        ("E06000028", "E06000029", "E10000009"),
        ("E06000058", "E06000059"),
        "Bournemouth and Poole, with Christchurch from Dorset county, became Bournemouth, "
        "Christchurch and Poole; the rest of Dorset county became the Dorset unitary",
    ),
    Reorganisation(
        "CMB_NORTHAMPTONSHIRE",
        "Northamptonshire (combined)",
        2022,
        ("E10000021",),
        ("E06000061", "E06000062"),
        "Northamptonshire split into North Northamptonshire and West Northamptonshire",
    ),
    Reorganisation(
        "CMB_CUMBRIA",
        "Cumbria (combined)",
        2024,
        ("E10000006",),
        ("E06000063", "E06000064"),
        "Cumbria split into Cumberland and Westmorland and Furness",
    ),
)
"""Merges and splits: members keep their own years; a combined unit spans them all."""

RECODED = {r.old: r.new for r in RECODES}


def canonical_codes(codes: pd.Series) -> pd.Series:
    """ONS codes with :data:`RECODES` applied; anything but an authority's ONS code is ""."""
    text = codes.astype(str).str.strip().str.upper()
    valid = text.str.fullmatch(r"E\d{8}") & text.str.startswith(LA_CODE_PREFIXES)
    return text.where(valid, "").replace(RECODED)


def existence() -> pd.DataFrame:
    """Years each member of a reorganisation existed: ``authority``, ``first`` (first year,
    0 when open), ``last`` (last year, 9999 when open)."""
    rows = []
    for change in REORGANISATIONS:
        rows += [(code, 0, change.year - 1) for code in change.predecessors]
        rows += [(code, change.year, 9999) for code in change.successors]
    return pd.DataFrame(rows, columns=["authority", "first", "last"]).drop_duplicates("authority")


def membership() -> dict[str, str]:
    """Authority -> the combined unit it belongs to."""
    return {
        code: change.unit
        for change in REORGANISATIONS
        for code in change.predecessors + change.successors
    }


def combined_units(observations: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The combined units' rows from the authorities' rows: per reorganisation, year and
    key, the sum over the members of that year, when every member gives the figure.

    ``observations`` holds ``authority``, ``year``, the ``keys`` and ``value``."""
    out = []
    for change in REORGANISATIONS:
        members = pd.DataFrame(
            [(c, False) for c in change.predecessors] + [(c, True) for c in change.successors],
            columns=["authority", "after"],
        )
        rows = observations.merge(members, on="authority")
        rows = rows[(rows["year"] >= change.year) == rows["after"]]
        if rows.empty:
            continue
        needed = members.groupby("after").size().rename("needed")
        sums = (
            rows.groupby(["year", "after", *keys], as_index=False)
            .agg(value=("value", "sum"), members=("authority", "nunique"))
            .merge(needed, left_on="after", right_index=True)
        )
        sums = sums[sums["members"] == sums["needed"]]
        out.append(sums.assign(authority=change.unit)[["authority", "year", *keys, "value"]])
    if not out:
        return observations.iloc[:0][["authority", "year", *keys, "value"]]
    return pd.concat(out, ignore_index=True)


def notes(code: str) -> str:
    """What :data:`RECODES` and :data:`REORGANISATIONS` say about one authority."""
    said = [
        f"also published as {r.old} ({r.why}; {r.new} from {r.year}); all years under {r.new}"
        for r in RECODES
        if r.new == code
    ]
    for change in REORGANISATIONS:
        if code == change.unit:
            said.append(
                f"combined reporting unit: sum of {' + '.join(change.predecessors)} up to "
                f"{change.year - 1} and of {' + '.join(change.successors)} from {change.year} "
                f"({change.why}); never add it to its members"
            )
        elif code in change.predecessors:
            said.append(
                f"ended in {change.year - 1}: {change.why} (part of {change.unit} with its "
                "successors)"
            )
        elif code in change.successors:
            said.append(
                f"exists from {change.year}: {change.why} (part of {change.unit} with its "
                "predecessors)"
            )
    return "; ".join(said)
