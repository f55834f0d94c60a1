"""Published cells -> one figure per authority, year and measure; every cell accounted for.

In order:

1. **Authority.** The file's ONS code with ``model.ingestpub.changes.RECODES`` applied; where
   a file has no ONS code (SFR 2010), the code other files give the same 3-digit DfE code.
2. **Cells not used**, each with one outcome: ``authority_not_identified``; ``not_mapped``
   (a DfE category carecast has no figure for, with the catalogue's note); ``suppressed``,
   ``not_applicable``, ``not_available`` (the marker); ``authority_not_existing`` (a number
   for an authority in a year outside its existence, ``changes.REORGANISATIONS``);
   ``duplicate_in_file`` (the same category for the same authority and year again in one
   file, e.g. under its old and new code: the first number wins, over markers too).
3. **Groups.** Categories of one file going to the same figure (several DfE placement
   categories to ``residential``, ages 16, 17 and 18+ to ``16_to_17``) are added up, but
   only when every one of them has a number; otherwise the figure is not published and its
   numbers are ``group_incomplete``. A category marked not applicable (``z``) beside
   categories with numbers did not exist that year (e.g. "aged 18 and remained with current
   carers" before 2021) and counts as 0; a figure whose categories are all ``z`` (the
   authority did not exist) gives no row.
4. **Overlapping files.** When several files give the same figure for the same authority and
   year, the newest release wins (a DfE file before the derived panel of the same release,
   then the first file by path); the others are ``superseded``, and those with a different
   number are counted as disagreements. A figure a newer release withholds (suppressed) but
   an older one gives is taken from the older one, and counted.
5. **Combined units** of reorganised areas are added (``changes.combined_units``).

The winning cells are ``used``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from model.ingestpub.changes import (
    COMBINED_PREFIX,
    REORGANISATIONS,
    canonical_codes,
    combined_units,
    existence,
    membership,
    notes,
)
from model.ingestpub.tables import ReadResult
from model.observations import OBSERVATION_COLUMNS

FIGURE = ["measure", "state", "age_band", "reason"]
"""What a cell counts, besides authority and year (``to_state`` is always "")."""

GROUP = ["file", "authority", "year", *FIGURE]
KEY = ["authority", "year", *FIGURE]

CELL_OUTCOMES = (
    "used",
    "superseded",
    "group_incomplete",
    "suppressed",
    "not_applicable",
    "not_available",
    "duplicate_in_file",
    "not_mapped",
    "authority_not_existing",
    "authority_not_identified",
)
"""Every local-authority cell ends with exactly one of these."""

AUTHORITY_COLUMNS = [
    "authority", "old_la_code", "la_name", "first_year", "last_year", "notes", "kind", "part_of",
]  # fmt: skip


@dataclass
class Combined:
    """The figures chosen and how every cell was used."""

    observations: pd.DataFrame
    """``authority`` + ``model.observations.OBSERVATION_COLUMNS``, one row per figure."""
    sources: pd.DataFrame
    """The file and release each authority's figure (not combined units) came from."""
    cells: pd.DataFrame
    """Local-authority cells with ``authority``, ``outcome``, ``disagrees`` and ``zero_z``
    (a not-applicable category counted as 0 within a group)."""
    national: pd.DataFrame
    """National cells (for the identity check)."""
    superseded: pd.DataFrame
    """Per (file, winning file): figures superseded, how many differ, largest difference."""
    filled: pd.DataFrame
    """Figures a newer release withheld, taken from an older one (file, winner, count)."""
    authorities: pd.DataFrame
    """``AUTHORITY_COLUMNS``, one row per authority and combined unit."""


def _authorities(la: pd.DataFrame) -> pd.Series:
    """Canonical authority of each cell (see step 1), "" when unknown."""
    code = canonical_codes(la["new_code"])
    pairs = pd.DataFrame({"old": la["old_code"], "code": code})
    pairs = pairs[(pairs["code"] != "") & (pairs["old"] != "")]
    lookup = pairs.groupby("old")["code"].agg(lambda s: s.value_counts().index[0])
    found = la["old_code"].map(lookup)
    return code.where(code != "", found.fillna("")).astype(str)


def combine(read: ReadResult) -> Combined:
    """Apply steps 1-5 of the module notes to the cells read."""
    cells = read.cells
    la = cells[cells["level"] == "la"].reset_index(drop=True)
    la["authority"] = _authorities(la)
    outcome = pd.Series("", index=la.index, dtype=object)
    outcome[la["authority"] == ""] = "authority_not_identified"
    outcome[(outcome == "") & (la["measure"] == "")] = "not_mapped"
    marker = (outcome == "") & (la["status"] != "value")
    outcome[marker] = la.loc[marker, "status"]
    years = la[["authority"]].merge(existence(), on="authority", how="left")
    outside = (la["year"] < years["first"].fillna(0)) | (la["year"] > years["last"].fillna(9999))
    outcome[(outcome == "") & outside.to_numpy()] = "authority_not_existing"

    # Same category, authority and year twice in one file (e.g. under an old and a new
    # code): the first number wins over later numbers and over markers.
    same = ["file", "authority", "year", "label"]
    live = la[outcome.isin(["", "suppressed", "not_applicable", "not_available"])]
    live = live.assign(marker=outcome[live.index] != "").sort_values(["marker", "file", "line"])
    first = live.groupby(same)["value"].transform("first")
    repeat = live.duplicated(same)
    outcome[repeat[repeat].index] = "duplicate_in_file"
    disagrees = pd.Series(False, index=la.index)
    differs = (live["value"] != first).fillna(False) & ~live["marker"]
    disagrees[repeat[repeat].index] = differs[repeat].to_numpy()

    # Groups: every member (number or marker) of a figure in a file must have a number;
    # a not-applicable category beside numbers (one that did not exist that year) is 0.
    member = outcome.isin(["", "suppressed", "not_applicable", "not_available"])
    status = outcome.where(outcome != "", "value")[member]
    counts = (
        la[member]
        .assign(has=(status == "value").to_numpy(), z=(status == "not_applicable").to_numpy())
        .groupby(GROUP)
        .agg(
            members=("has", "size"),
            numbers=("has", "sum"),
            zs=("z", "sum"),
            latest=("release", "max"),
        )
    )
    complete = (counts["numbers"] > 0) & (counts["numbers"] + counts["zs"] == counts["members"])
    zero = la[GROUP].merge(
        complete[complete & (counts["zs"] > 0)].rename("zero").reset_index(), on=GROUP, how="left"
    )["zero"]
    zero = (zero.fillna(False).astype(bool) & (outcome == "not_applicable")).to_numpy()
    outcome[zero] = ""
    la.loc[zero, "value"] = 0
    numbers = la[outcome == ""]
    figures = (
        numbers.groupby(GROUP)
        .agg(value=("value", "sum"), release=("release", "max"), derived=("derived", "max"))
        .join(complete.rename("complete"))
        .reset_index()
    )
    incomplete = figures.loc[~figures["complete"], GROUP].assign(incomplete=True)
    flag = numbers[GROUP].merge(incomplete, on=GROUP, how="left")["incomplete"]
    outcome[numbers.index[flag.fillna(False).astype(bool).to_numpy()]] = "group_incomplete"
    figures = figures[figures["complete"]].drop(columns="complete")

    # Overlapping files: newest release, then DfE before derived, then path order.
    figures = figures.sort_values(
        ["release", "derived", "file"], ascending=[False, True, True], kind="stable"
    )
    winner = figures.drop_duplicates(KEY)
    losers = figures[figures.duplicated(KEY)].merge(
        winner[[*KEY, "file", "value", "release"]], on=KEY, suffixes=("", "_winner")
    )
    losers["differs"] = losers["value"] != losers["value_winner"]
    superseded = (
        losers.assign(diff=(losers["value"] - losers["value_winner"]).abs())
        .groupby(["file", "file_winner"], as_index=False)
        .agg(figures=("differs", "size"), differ=("differs", "sum"), largest=("diff", "max"))
    )
    lost = numbers[GROUP].merge(losers[[*GROUP, "differs"]], on=GROUP, how="left")
    was_lost = lost["differs"].notna().to_numpy()
    outcome[numbers.index[was_lost & (outcome[numbers.index] == "").to_numpy()]] = "superseded"
    disagrees[numbers.index[was_lost]] = (
        lost["differs"].fillna(False).astype(bool).to_numpy()[was_lost]
    )
    outcome[outcome == ""] = "used"

    # Figures a newer release withheld (marker or incomplete group) but an older one gives.
    withheld = counts[~complete].reset_index()
    withheld = withheld.merge(
        winner[[*KEY, "file", "release"]].rename(
            columns={"file": "file_winner", "release": "release_winner"}
        ),
        on=KEY,
    )
    withheld = withheld[withheld["latest"] > withheld["release_winner"]]
    filled = withheld.groupby(["file", "file_winner"], as_index=False).size()

    sources = winner[[*KEY, "file", "release"]].reset_index(drop=True)
    obs = winner[[*KEY, "value"]].reset_index(drop=True)
    obs = pd.concat([obs, combined_units(obs, FIGURE)], ignore_index=True)
    la = la.assign(outcome=outcome.astype(str), disagrees=disagrees, zero_z=zero)
    return Combined(
        observations=_tidy(obs),
        sources=sources,
        cells=la,
        national=cells[cells["level"] == "national"].reset_index(drop=True),
        superseded=superseded,
        filled=filled,
        authorities=_authority_table(la, obs),
    )


def _tidy(obs: pd.DataFrame) -> pd.DataFrame:
    """Observation rows in the published layout, sorted."""
    out = obs.assign(
        period=obs["year"].astype(str) + "-03-31",
        to_state="",
        value=obs["value"].astype("int64"),
    )
    out = out[["authority", *OBSERVATION_COLUMNS]]
    return out.sort_values(list(out.columns[:-1]), ignore_index=True)


def _authority_table(la: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """One row per authority (as the newest release names it) and combined unit."""
    named = la[la["authority"] != ""].sort_values(
        ["release", "year", "file", "line"], ascending=[False, False, True, True]
    )
    name = named[named["name"] != ""].drop_duplicates("authority").set_index("authority")["name"]
    old = named[named["old_code"].str.fullmatch(r"\d{3}")].drop_duplicates("authority")
    old = old.set_index("authority")["old_code"]
    span = obs.groupby("authority")["year"].agg(["min", "max"])
    codes = sorted(set(named["authority"]) | set(span.index))
    part_of = membership()
    units = {change.unit: change for change in REORGANISATIONS}
    rows = []
    for code in codes:
        first, last = span.loc[code].tolist() if code in span.index else [pd.NA, pd.NA]
        said = notes(code)
        if code not in span.index:
            said = "; ".join(filter(None, ["no figures in these files", said]))
        combined = code.startswith(COMBINED_PREFIX)
        rows.append(
            (
                code,
                "" if combined else old.get(code, ""),
                units[code].name if combined else name.get(code, ""),
                first,
                last,
                said,
                "combined" if combined else "authority",
                "" if combined else part_of.get(code, ""),
            )
        )
    table = pd.DataFrame(rows, columns=AUTHORITY_COLUMNS)
    for column in ("first_year", "last_year"):
        table[column] = table[column].astype("Int64")
    return table


def national_total(observations: pd.DataFrame, authorities: pd.DataFrame) -> pd.DataFrame:
    """Sum over authorities (never combined units) per period and figure: the national
    figure each area counted once."""
    real = authorities.loc[authorities["kind"] == "authority", ["authority"]]
    rows = observations.merge(real, on="authority")
    keys = [c for c in OBSERVATION_COLUMNS if c != "value"]
    return rows.groupby(keys, as_index=False)["value"].sum()


def lost_figures(read: ReadResult, combined: Combined) -> pd.DataFrame:
    """The figures (``file`` + ``KEY``) the files not read would have given that no file
    read gives: the local-authority cells of ``read.unread`` with a carecast figure, for
    an authority identified (as step 1 does, codes of every file counting) and existing in
    that year, less the figures ``combined`` took from other files."""
    unread = read.unread[read.unread["level"] == "la"]
    if unread.empty:
        return pd.DataFrame(columns=["file", *KEY])
    la = read.cells[read.cells["level"] == "la"]
    both = pd.concat([la, unread], ignore_index=True)
    cells = unread.assign(authority=_authorities(both).iloc[len(la) :].to_numpy())
    cells = cells[(cells["authority"] != "") & (cells["measure"] != "")]
    span = cells[["authority"]].merge(existence(), on="authority", how="left")
    inside = (cells["year"].to_numpy() >= span["first"].fillna(0).to_numpy()) & (
        cells["year"].to_numpy() <= span["last"].fillna(9999).to_numpy()
    )
    wanted = cells.loc[inside, ["file", *KEY]].drop_duplicates()
    given = combined.sources[KEY].drop_duplicates().assign(given=True)
    wanted = wanted.merge(given, on=KEY, how="left")
    return wanted[wanted["given"].isna()].drop(columns="given").reset_index(drop=True)
