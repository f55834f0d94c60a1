"""Inject the data-quality problems real 903 returns have, and record each one.

Faults change the written files only, never the truth: an ingest that repairs a fault
correctly still reproduces the true stocks and flows. Every injected fault gets a manifest
row saying where it is and whether a correct repair can recover the truth; the ingest's
round-trip test counts the unrecoverable ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.synth.draws import Draws
from model.synth.records import SimulatedAuthority
from model.synth.truth_config import FaultRates
from model.synth.write_903 import CsvStyle

MANIFEST_COLUMNS = ["fault", "year", "table", "child", "decom", "detail", "recoverable"]
CODE_COLUMNS = ["RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "REC", "REASON_PLACE_CHANGE"]
DATE_COLUMNS = {"episodes": ["DECOM", "DEC"], "header": ["DOB", "MC_DOB"], "uasc": ["DOB", "DUC"]}
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
NBSP = "\u00a0"

Returns = dict[int, dict[str, pd.DataFrame]]


@dataclass
class FaultLog:
    """Manifest rows and the CSV style chosen for each (year, table) file."""

    rows: list[tuple] = field(default_factory=list)
    styles: dict[tuple[int, str], CsvStyle] = field(default_factory=dict)

    def add(
        self,
        fault: str,
        year: int,
        table: str,
        child: str = "",
        decom: str = "",
        detail: str = "",
        recoverable: bool = True,
    ) -> None:
        self.rows.append((fault, year, table, child, decom, detail, recoverable))

    def manifest(self) -> pd.DataFrame:
        """The manifest as a table, in injection order."""
        return pd.DataFrame(self.rows, columns=MANIFEST_COLUMNS)


def _ddmmyyyy(ts: pd.Timestamp) -> str:
    return ts.strftime("%d/%m/%Y")


def _successors(auth: SimulatedAuthority) -> pd.DataFrame:
    """Episodes with the DECOM of the same child's next episode (NaT for the last)."""
    ep = auth.episodes.sort_values(["child_id", "decom"], kind="stable").copy()
    same_child = ep.child_id.eq(ep.child_id.shift(-1))
    ep["next_decom"] = ep.decom.shift(-1).where(same_child)
    return ep.reset_index(drop=True)


def _year_of(day: pd.Timestamp) -> int:
    """Year ending 31 March that contains ``day``."""
    return day.year + (1 if day.month >= 4 else 0)


def _rows_of(table: pd.DataFrame, child: str, decom: str) -> pd.Series:
    return (table.CHILD == child) & (table.DECOM == decom)


def inject_faults(
    auth: SimulatedAuthority, returns: Returns, rates: FaultRates, rng: np.random.Generator
) -> FaultLog:
    """Change ``returns`` (year -> table name -> string table) in place; return the log."""
    draws = Draws(rng)
    log = FaultLog()
    years = sorted(returns)
    _episode_faults(auth, returns, rates, draws, log, last_year=years[-1])
    _near_duplicates(returns, rates, draws, log)
    _code_faults(returns, rates, draws, log)
    _header_disagreement(returns, rates, draws, log)
    _file_faults(returns, rates, draws, log)
    return log


def _episode_faults(
    auth: SimulatedAuthority,
    returns: Returns,
    rates: FaultRates,
    draws: Draws,
    log: FaultLog,
    last_year: int,
) -> None:
    """Stale open episodes, overlaps and gaps, applied to every file holding the episode."""
    first_day = pd.Timestamp(f"{min(returns) - 1}-04-01")
    for row in _successors(auth).itertuples(index=False):
        if pd.isna(row.dec) or row.dec < first_day or row.ls in ("V3", "V4"):
            continue
        year = _year_of(row.dec)
        if year > last_year:
            continue
        decom = _ddmmyyyy(row.decom)
        u = draws.random()
        if u < rates.stale_open and year < last_year:
            table = returns[year]["episodes"]
            mask = _rows_of(table, row.child_id, decom)
            table.loc[mask, ["DEC", "REC"]] = ""
            log.add(
                "stale_open",
                year,
                "episodes",
                row.child_id,
                row.decom.date().isoformat(),
                f"true DEC {row.dec.date()} REC {row.rec}",
                recoverable=row.rec == "X1",
            )
            continue
        if row.rec != "X1" or pd.isna(row.next_decom):
            continue
        u -= rates.stale_open
        shift = draws.integers(1, 11)
        if u < rates.overlap:
            new_dec = row.dec + pd.Timedelta(days=shift)
            fault = "overlap"
        elif u < rates.overlap + rates.gap and row.dec - pd.Timedelta(days=shift) > row.decom:
            new_dec = row.dec - pd.Timedelta(days=shift)
            fault = "gap"
        else:
            continue
        if _year_of(new_dec) != year:
            continue
        table = returns[year]["episodes"]
        mask = _rows_of(table, row.child_id, decom)
        table.loc[mask, "DEC"] = _ddmmyyyy(new_dec)
        log.add(
            fault,
            year,
            "episodes",
            row.child_id,
            row.decom.date().isoformat(),
            f"DEC {row.dec.date()} written as {new_dec.date()}",
        )


def _near_duplicates(returns: Returns, rates: FaultRates, draws: Draws, log: FaultLog) -> None:
    """A stale open copy of an episode with DECOM a few days later, in the same file."""
    for year, tables in returns.items():
        episodes = tables["episodes"]
        copies = []
        for i in range(len(episodes)):
            if draws.random() >= rates.near_duplicate or episodes.LS.iat[i] in ("V3", "V4"):
                continue
            row = episodes.iloc[i].copy()
            decom = pd.to_datetime(row.DECOM, format="%d/%m/%Y")
            shifted = decom + pd.Timedelta(days=draws.integers(1, 6))
            if _year_of(shifted) != year or (
                row.DEC and pd.to_datetime(row.DEC, format="%d/%m/%Y") <= shifted
            ):
                continue
            row.DECOM, row.DEC, row.REC = _ddmmyyyy(shifted), "", ""
            copies.append((i, row))
            log.add(
                "near_duplicate",
                year,
                "episodes",
                row.CHILD,
                decom.date().isoformat(),
                f"open copy with DECOM {shifted.date()}",
            )
        if copies:
            parts = []
            start = 0
            for i, row in copies:
                parts.extend([episodes.iloc[start : i + 1], row.to_frame().T])
                start = i + 1
            parts.append(episodes.iloc[start:])
            tables["episodes"] = pd.concat(parts, ignore_index=True)


def _code_faults(returns: Returns, rates: FaultRates, draws: Draws, log: FaultLog) -> None:
    """Lower-case and space-padded codes on some episode rows."""
    for year, tables in returns.items():
        episodes = tables["episodes"]
        for i in range(len(episodes)):
            u = draws.random()
            if u < rates.lowercase_codes:
                fault, change = "lowercase_codes", str.lower
            elif u < rates.lowercase_codes + rates.padded_codes:
                fault, change = "padded_codes", lambda code: f" {code}  " if code else code
            else:
                continue
            for column in CODE_COLUMNS:
                episodes.iat[i, episodes.columns.get_loc(column)] = change(episodes[column].iat[i])
            log.add(fault, year, "episodes", episodes.CHILD.iat[i], episodes.DECOM.iat[i])


def _header_disagreement(returns: Returns, rates: FaultRates, draws: Draws, log: FaultLog) -> None:
    """An earlier year's Header row disagrees with the latest one (ethnicity or UPN)."""
    years = sorted(returns)
    for year in years[:-1]:
        header = returns[year]["header"]
        later = set().union(*(set(returns[y]["header"].CHILD) for y in years if y > year))
        for i in range(len(header)):
            if header.CHILD.iat[i] not in later or draws.random() >= rates.header_disagreement:
                continue
            if draws.random() < 0.5:
                column, value = "ETHNIC", "NOBT" if header.ETHNIC.iat[i] != "NOBT" else "REFU"
            else:
                column, value = "UPN", "UN5"
            header.iat[i, header.columns.get_loc(column)] = value
            log.add(
                "header_disagreement",
                year,
                "header",
                header.CHILD.iat[i],
                "",
                f"{column} written as {value}",
            )


def _file_faults(returns: Returns, rates: FaultRates, draws: Draws, log: FaultLog) -> None:
    """Encodings, line endings and date formats, one choice per file."""
    for year, tables in returns.items():
        for name, table in tables.items():
            style = CsvStyle()
            if draws.random() < rates.windows_line_endings:
                style.line_ending = "\r\n"
                log.add("windows_line_endings", year, name)
            u = draws.random()
            if u < rates.cp1252 and name == "episodes" and len(table):
                style.encoding = "cp1252"
                rows = table.index[table.PLACE != ""][:5]
                table.loc[rows, "PLACE"] = table.loc[rows, "PLACE"] + NBSP
                log.add("cp1252", year, name, detail="non-breaking space after some PLACE codes")
            elif u < rates.cp1252 + rates.byte_order_mark:
                style.encoding = "utf-8-sig"
                log.add("byte_order_mark", year, name)
            columns = DATE_COLUMNS[name]
            u = draws.random()
            if u < rates.excel_serial_dates:
                for column in columns:
                    table[column] = _excel_serial(table[column])
                log.add("excel_serial_dates", year, name, detail=", ".join(columns))
            elif u < rates.excel_serial_dates + rates.two_digit_years and name == "episodes":
                table["DEC"] = table["DEC"].str.replace(r"/\d\d(\d\d)$", r"/\1", regex=True)
                log.add("two_digit_years", year, name, detail="DEC as dd/mm/yy")
            log.styles[(year, name)] = style


def _excel_serial(values: pd.Series) -> pd.Series:
    """dd/mm/yyyy strings to Excel serial day numbers ("" stays "")."""
    dates = pd.to_datetime(values.replace("", None), format="%d/%m/%Y")
    serial = (dates - EXCEL_EPOCH).dt.days
    return serial.map(lambda d: "" if pd.isna(d) else str(int(d)))
