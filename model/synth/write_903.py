"""Cut a simulated authority's history into annual SSDA903 returns and write them as CSV.

Each year's return (year ending 31 March) holds every episode open at any time in the
year, as known on 31 March: an episode that ends later is written open (DEC and REC blank),
so it reappears, closed, in a later return. Tables have exactly DfE's column names, dates
as dd/mm/yyyy and the codes valid for the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.codes import sex_codes
from model.synth.records import SimulatedAuthority

HEADER_COLUMNS = ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
EPISODE_COLUMNS_903 = [
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
]
UASC_COLUMNS = ["CHILD", "SEX", "DOB", "DUC"]
TABLE_COLUMNS = {"header": HEADER_COLUMNS, "episodes": EPISODE_COLUMNS_903, "uasc": UASC_COLUMNS}


@dataclass
class CsvStyle:
    """How a table's file is encoded: what real case-management exports vary in."""

    encoding: str = "utf-8"
    line_ending: str = "\n"


def collection_folder(year: int) -> str:
    """Folder name of the return for the year ending 31 March ``year``, e.g. ``2019-20``."""
    return f"{year - 1}-{year % 100:02d}"


def _date_text(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%d/%m/%Y").fillna("")


def return_tables(auth: SimulatedAuthority, year: int) -> dict[str, pd.DataFrame]:
    """The Header, Episodes and UASC tables of the 903 return for the year ending 31 March
    ``year``, every cell a string as it will be written."""
    start = pd.Timestamp(f"{year - 1}-04-01")
    end = pd.Timestamp(f"{year}-03-31")
    ep = auth.episodes
    in_year = (ep.decom <= end) & (ep.dec.isna() | (ep.dec >= start))
    ep = ep[in_year].sort_values(["child_id", "decom"], kind="stable")
    open_at_end = ep.dec.isna() | (ep.dec > end)
    episodes = pd.DataFrame(
        {
            "CHILD": ep.child_id,
            "DECOM": _date_text(ep.decom),
            "RNE": ep.rne,
            "LS": ep.ls,
            "CIN": ep.cin,
            "PLACE": ep.place,
            "PLACE_PROVIDER": ep.place_provider,
            "DEC": _date_text(ep.dec.where(~open_at_end)),
            "REC": ep.rec.where(~open_at_end, ""),
            "REASON_PLACE_CHANGE": ep.reason_place_change,
            "HOME_POST": ep.home_post,
            "PL_POST": ep.pl_post,
            "URN": ep.urn,
        }
    )
    kids = auth.children[auth.children.child_id.isin(set(ep.child_id))]
    sex = kids.sex.map(sex_codes(year))
    header = pd.DataFrame(
        {
            "CHILD": kids.child_id,
            "SEX": sex,
            "DOB": _date_text(kids.dob),
            "ETHNIC": kids.ethnicity,
            "UPN": kids.upn.where(kids.upn != "", kids.upn_unknown),
            # Whether the child is a mother: asked of girls (rules 393, 607); none are here.
            "MOTHER": np.where(kids.sex == "F", "0", ""),
            "MC_DOB": "",
        }
    )
    uasc_kids = kids[kids.uasc]
    uasc = pd.DataFrame(
        {
            "CHILD": uasc_kids.child_id,
            "SEX": sex[kids.uasc],
            "DOB": _date_text(uasc_kids.dob),
            "DUC": _date_text(uasc_kids.duc),
        }
    )
    return {
        name: table.reset_index(drop=True)
        for name, table in (("header", header), ("episodes", episodes), ("uasc", uasc))
    }


def write_table(table: pd.DataFrame, path: Path, style: CsvStyle | None = None) -> None:
    """Write one table as CSV in the given style (quoting only where a value needs it)."""
    style = style or CsvStyle()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = table.to_csv(index=False, lineterminator=style.line_ending)
    path.write_bytes(text.encode(style.encoding))
