"""Search shareable outputs and logs for the child identifiers of the inputs (test helper).

``identifiers(folder)`` collects every child id, UPN, date of birth and postcode from the
903 CSV returns and CIN census XML under a folder; ``leaks(paths, found)`` lists every place
one of them appears in files (text, CSV, JSON, Parquet, Excel, netCDF) or strings (logs).

Matching is by whole token (no letter or digit either side, nor a point that joins
digits; see ``_tokens``), so a child id of
``1011190`` is found in ``CHILD=1011190`` but not inside the cost ``21011190.5``. Numeric
columns of tables are not searched as text (a cost can equal an id by chance); a column
whose *name* is an identifier field is a leak whatever it holds. Dates of birth are searched
in the returns' own format and in ISO form, except those on the first or last day of a
month, which the outputs legitimately print as period ends and window starts.
"""

from __future__ import annotations

import json
import re
import zipfile
from calendar import monthrange
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd
from lxml import etree

ID_COLUMNS = {"CHILD", "UPN", "DOB", "HOME_POST", "PL_POST", "LACHILDID", "PERSONBIRTHDATE"}
PLACEHOLDERS = {f"UN{n}" for n in range(1, 11)} | {"", "XXXXXXX"}
"""Codes standing in for an unknown UPN or URN: not identifiers."""
CIN_IDS = {"LAchildID": "child id", "UPN": "UPN", "FormerUPN": "UPN"}
CIN_DATES = {"PersonBirthDate", "ExpectedPersonBirthDate"}


def _birth_forms(text: str) -> set[str]:
    """A date of birth as the outputs could print it (none if on a month's first or last
    day, see the module)."""
    try:
        if "/" in text:
            day, month, year = (int(p) for p in text.split("/"))
        else:
            year, month, day = (int(p) for p in text[:10].split("-"))
        born = date(year, month, day)
    except ValueError:
        return set()
    if born.day in (1, monthrange(born.year, born.month)[1]):
        return set()
    return {born.strftime("%d/%m/%Y"), born.isoformat()}


def identifiers(folder: Path) -> dict[str, set[str]]:
    """Every child id, UPN, date of birth and postcode in the returns under ``folder``."""
    found: dict[str, set[str]] = {"child id": set(), "UPN": set(), "DOB": set(), "postcode": set()}
    for path in sorted(Path(folder).rglob("*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column, kind in (("CHILD", "child id"), ("UPN", "UPN")):
            if column in table:
                found[kind] |= set(table[column].str.strip())
        for column in ("HOME_POST", "PL_POST"):
            if column in table:
                found["postcode"] |= set(table[column].str.strip())
        for column in ("DOB", "MC_DOB"):
            if column in table:
                for value in table[column]:
                    found["DOB"] |= _birth_forms(value.strip())
    for path in sorted(Path(folder).rglob("*.xml")):
        for element in etree.parse(str(path)).iter():
            name = etree.QName(element).localname if isinstance(element.tag, str) else ""
            value = (element.text or "").strip()
            if name in CIN_IDS:
                found[CIN_IDS[name]].add(value)
            elif name in CIN_DATES:
                found["DOB"] |= _birth_forms(value)
            elif name.lower() in ("postcode", "personpostcode"):
                found["postcode"].add(value)
    return {kind: values - PLACEHOLDERS for kind, values in found.items()}


_WORD = re.compile(r"[0-9A-Za-z'./-]+")
_EDGES = ".'-/"


def _tokens(text: str) -> set[str]:
    """Every string of ``text`` an identifier could be, as a whole token: each word (runs of
    letters, digits and ``' . - /``) with its edges trimmed, its parts between quotes,
    hyphens and slashes, and each pair of words one space apart (postcodes). A point inside
    a number stays, so a cost of ``8576089.5`` is not the id ``8576089``; a point that ends
    a sentence goes. One pass of a simple pattern: the outputs run to tens of megabytes and
    the identifiers to tens of thousands, too many for one regular expression."""
    tokens: set[str] = set()
    previous: tuple[int, str] | None = None
    for match in _WORD.finditer(text):
        word = match.group().strip(_EDGES)
        tokens.add(word)
        tokens.update(part.strip(_EDGES) for part in re.split(r"['/-]", word))
        if previous and previous[0] == match.start() - 1 and text[previous[0]] == " ":
            tokens.add(f"{previous[1]} {word}")
        previous = (match.end(), word)
    return tokens


def _table_text(table: pd.DataFrame) -> tuple[str, list[str]]:
    """A table's searchable text (column names and text columns) and its identifier-named
    columns."""
    text_columns = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    parts = [" ".join(map(str, table.columns))]
    parts += [" ".join(table[c].astype(str)) for c in text_columns]
    named = [str(c) for c in table.columns if str(c).upper().replace(" ", "_") in ID_COLUMNS]
    return "\n".join(parts), named


def _json_strings(value: object) -> Iterable[str]:
    """Every key and string in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, str):
        yield value


def _texts(path: Path) -> tuple[list[str], list[str]]:
    """(searchable texts, identifier-named columns) of one output file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text, named = _table_text(pd.read_csv(path, dtype=None, keep_default_na=False))
        return [text], named
    if suffix == ".parquet":
        text, named = _table_text(pd.read_parquet(path))
        return [text], named
    if suffix == ".json":
        return [" ".join(_json_strings(json.loads(path.read_text(encoding="utf-8"))))], []
    if suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            members = [n for n in book.namelist() if n.endswith(".xml")]
            texts = [book.read(n).decode("utf-8", "replace") for n in members]
        # A cell that is exactly an identifier field's name heads an identifier column.
        named = [c for c in sorted(ID_COLUMNS) if any(f">{c}<" in t.upper() for t in texts)]
        return texts, named
    if suffix in (".png", ".pdf"):
        return [], []  # images: their text comes from the tables searched beside them
    return [path.read_bytes().decode("utf-8", "replace")], []


def leaks(
    found: dict[str, set[str]], paths: Iterable[Path] = (), texts: dict[str, str] | None = None
) -> list[str]:
    """Where any identifier of ``found`` appears: each file under ``paths`` (folders
    searched whole) and each named text of ``texts`` (for example a run's console output)."""
    sources: list[tuple[str, list[str], list[str]]] = []
    for root in paths:
        files = [root] if Path(root).is_file() else sorted(Path(root).rglob("*"))
        sources += [(str(f), *_texts(f)) for f in files if f.is_file()]
    sources += [(name, [text], []) for name, text in (texts or {}).items()]
    problems = []
    for name, chunks, named in sources:
        problems += [f"{name}: a column named {column}" for column in named]
        tokens = set().union(*map(_tokens, chunks)) if chunks else set()
        for kind, values in found.items():
            hits = sorted(tokens & values)
            if hits:
                problems.append(f"{name}: {kind} {hits[0]!r}")
    return problems
