"""Code lists and the default mapping from DfE codes to model categories.

One place for the facts about codes that both the synthetic generator and the ingest need:
which SSDA903 codes are valid in which collection year (year ending 31 March), and which
model category each PLACE and REC code belongs to. Sources: ``docs/data-formats.md`` in the
shared design folder (DfE guidance, the DfE validators and the liia-tools schemas).
"""

from __future__ import annotations

AGE_BANDS: tuple[str, ...] = ("under_1", "1_to_4", "5_to_9", "10_to_15", "16_to_17")
"""DfE age bands; a child moves to the next band on the birthday given in AGE_BAND_LOWER."""

AGE_BAND_LOWER: tuple[int, ...] = (0, 1, 5, 10, 16)
"""Lower age (whole years) of each band in AGE_BANDS; every child leaves care at 18."""

CARE_LEAVING_AGE = 18

CARE_STATES: tuple[str, ...] = (
    "foster_kin",
    "foster_other",
    "residential",
    "supported",
    "with_parents",
    "adoption",
    "other",
)
"""Looked-after placement groups (model states)."""

UPSTREAM_STATES: tuple[str, ...] = ("cin", "cpp")
"""Open child-in-need case (not on a plan, not looked after) and child protection plan."""

OUTSIDE = "outside"
"""Not known to children's social care (pseudo-state for entries and exits)."""

EXIT_REASONS: tuple[str, ...] = ("return_home", "adoption", "sgo_cao", "independence", "other")

PLACE_GROUP: dict[str, str] = {
    **dict.fromkeys(["U1", "U2", "U3"], "foster_kin"),
    **dict.fromkeys(["U4", "U5", "U6"], "foster_other"),
    **dict.fromkeys(["K1", "K2", "R1", "R2", "R3", "R5", "S1"], "residential"),
    **dict.fromkeys(["H5", "P2", "K3", "P3"], "supported"),
    "P1": "with_parents",
    **dict.fromkeys(["A3", "A4", "A5", "A6"], "adoption"),
    **dict.fromkeys(["Z1", "Z11", "Z12", "Z13", "Z14"], "other"),
}
"""Default PLACE → placement group. Temporary codes (T0-T4) are deliberately absent: they
continue the placement around them."""

TEMPORARY_PLACES: frozenset[str] = frozenset({"T0", "T1", "T2", "T3", "T4"})

REC_REASON: dict[str, str] = {
    **dict.fromkeys(["E11", "E12"], "adoption"),
    **dict.fromkeys(["E4A", "E4B", "E13"], "return_home"),
    **dict.fromkeys(["E41", "E43", "E44", "E45", "E46", "E47", "E48"], "sgo_cao"),
    **dict.fromkeys(["E5", "E6", "E7", "E17"], "independence"),
    **dict.fromkeys(["E2", "E3", "E8", "E9", "E14", "E15", "E16", "E99"], "other"),
}
"""Default REC (reason episode ceased) → exit reason group. X1 is not an exit."""

LEGAL_STATUS_GROUPS: tuple[str, ...] = (
    "interim_care_order", "full_care_order", "placement_order", "voluntary",
    "detained_for_protection", "youth_justice", "short_break",
)  # fmt: skip

LEGAL_STATUS_GROUP: dict[str, str] = {
    "C1": "interim_care_order",
    "C2": "full_care_order",
    **dict.fromkeys(["D1", "E1"], "placement_order"),
    "V2": "voluntary",
    **dict.fromkeys(["V3", "V4"], "short_break"),
    **dict.fromkeys(["L1", "L2", "L3"], "detained_for_protection"),
    **dict.fromkeys(["J1", "J2", "J3"], "youth_justice"),
}
"""Default LS -> DfE legal-status group. Short breaks are excluded from every stock."""

SHORT_BREAK_LS: frozenset[str] = frozenset(
    code for code, group in LEGAL_STATUS_GROUP.items() if group == "short_break"
)

NEW_EPISODE_REASON: dict[str, str] = {
    "S": "starts_period",
    **dict.fromkeys(["L", "P", "T", "B", "U"], "continues_period"),
}
"""Default RNE -> whether the episode starts a period of care or continues one."""


def valid_place_codes(year: int) -> frozenset[str]:
    """PLACE codes valid in the 903 return for the year ending 31 March ``year``."""
    base = set(PLACE_GROUP) | TEMPORARY_PLACES
    base -= {"K3", "Z11", "Z12", "Z13", "Z14"}
    if year >= 2025:
        base.add("K3")
    if year >= 2026:
        base -= {"H5", "P2", "Z1"}
        base |= {"Z11", "Z12", "Z13", "Z14"}
    return frozenset(base)


def valid_rec_codes(year: int) -> frozenset[str]:
    """REC codes valid for the year ending 31 March ``year`` (E43/E44 → E45-E48 in 2018-19)."""
    codes = set(REC_REASON) - {"E99"} | {"X1"}
    if year >= 2019:
        codes -= {"E43", "E44"}
    else:
        codes -= {"E45", "E46", "E47", "E48"}
    return frozenset(codes)


def sex_codes(year: int) -> dict[str, str]:
    """Map M/F to the SEX code of the 903 for the year ending 31 March ``year``."""
    return {"M": "M", "F": "F"} if year >= 2025 else {"M": "1", "F": "2"}
