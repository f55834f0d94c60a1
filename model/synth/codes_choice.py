"""Draw the DfE codes of simulated records: realistic weights, valid for the record's date.

Each function takes the simulation's random generator and returns codes exactly as DfE
defines them. Code lists change over the years (see ``model.codes``); functions that need
it take the day (days since 1970-01-01) the code applies from.
"""

from __future__ import annotations

from model.codes import REC_REASON
from model.synth.draws import Draws

Rng = Draws

APRIL_2018 = 17622  # 2018-04-01: SGO codes E45-E48 replace E43/E44
APRIL_2023 = 19448  # 2023-04-01: referral source 5D and closure RC9 in the CIN schema
OCTOBER_2023 = 19658  # 2023-10-28: unregistered independent living (P2) no longer allowed
APRIL_2024 = 19814  # 2024-04-01: registered supported accommodation (K3)
APRIL_2025 = 20179  # 2025-04-01: H5, P2 and Z1 retired; Z11-Z14 introduced

ETHNICITIES = (
    "WBRI",
    "WIRI",
    "WIRT",
    "WOTH",
    "WROM",
    "MWBC",
    "MWBA",
    "MWAS",
    "MOTH",
    "AIND",
    "APKN",
    "ABAN",
    "AOTH",
    "BCRB",
    "BAFR",
    "BOTH",
    "CHNE",
    "OOTH",
    "REFU",
    "NOBT",
)
ETHNICITY_WEIGHTS = (
    0.66,
    0.01,
    0.005,
    0.04,
    0.005,
    0.03,
    0.01,
    0.01,
    0.03,
    0.015,
    0.025,
    0.01,
    0.01,
    0.02,
    0.03,
    0.01,
    0.005,
    0.02,
    0.01,
    0.015,
)
UASC_ETHNICITIES = ("AOTH", "BAFR", "OOTH", "BOTH", "WOTH")
FACTORS = (
    "1B",
    "2B",
    "3A",
    "3B",
    "4A",
    "4B",
    "5B",
    "6B",
    "8F",
    "10A",
    "11A",
    "14A",
    "15A",
    "16A",
    "17A",
    "18A",
    "19A",
    "20",
)
UPN_CHECK = "ABCDEFGHJKLMNPQRTUVWXYZ"


def _pick(rng: Rng, codes: tuple[str, ...], weights: tuple[float, ...]) -> str:
    return rng.pick(codes, weights)


def ethnicity(rng: Rng, uasc: bool) -> str:
    """An ethnicity code from the 20 DfE codes (UASC children from a few codes)."""
    if uasc:
        return UASC_ETHNICITIES[rng.integers(0, len(UASC_ETHNICITIES))]
    return _pick(rng, ETHNICITIES, ETHNICITY_WEIGHTS)


def upn(rng: Rng, lea: str) -> str:
    """A 13-character UPN with a valid check letter: check letter, LA code, establishment
    number (4 digits), year (2 digits), serial (3 digits)."""
    body = lea + str(rng.integers(0, 10**9)).zfill(9)
    total = sum(int(ch) * weight for ch, weight in zip(body, range(2, 14), strict=True))
    return UPN_CHECK[total % 23] + body


def postcode(rng: Rng) -> str:
    """A partial postcode as the 903 records it: outward code and sector, e.g. ``AB12 3``."""
    letters = "ABCDEFGHJKLMNPRSTUWY"
    area = letters[rng.integers(0, len(letters))] + letters[rng.integers(0, len(letters))]
    return f"{area}{int(rng.integers(1, 30))} {int(rng.integers(0, 10))}"


def primary_need(rng: Rng, uasc: bool) -> str:
    """CIN primary need code at referral."""
    if uasc:
        return "N8"
    return _pick(
        rng,
        ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9", "N0"),
        (0.55, 0.04, 0.03, 0.1, 0.15, 0.03, 0.005, 0.02, 0.04, 0.035),
    )


def category_of_need(rng: Rng, route: str, uasc: bool) -> str:
    """903 CIN (category of need) for a period of care; constant within the period."""
    if uasc:
        return "N8"
    if route == "cpp":
        return "N1"
    return _pick(
        rng,
        ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"),
        (0.65, 0.03, 0.03, 0.08, 0.13, 0.04, 0.002, 0.038),
    )


def referral_source(rng: Rng, day: int) -> str:
    """Source of a referral (5D, early help, exists from 2023-24)."""
    codes = (
        "1A",
        "1B",
        "1C",
        "1D",
        "2A",
        "2B",
        "3A",
        "3B",
        "3C",
        "3D",
        "3E",
        "3F",
        "4",
        "5A",
        "5B",
        "5C",
        "6",
        "7",
        "8",
        "9",
        "10",
    )
    weights = (
        0.05,
        0.01,
        0.02,
        0.01,
        0.18,
        0.02,
        0.03,
        0.03,
        0.01,
        0.02,
        0.03,
        0.05,
        0.03,
        0.03,
        0.03,
        0.04,
        0.29,
        0.04,
        0.05,
        0.01,
        0.02,
    )
    if day >= APRIL_2023 and rng.random() < 0.05:
        return "5D"
    return _pick(rng, codes, weights)


def direct_referral_source(rng: Rng, uasc: bool, day: int) -> str:
    """Source of the referral made on the day a child unknown to services enters care."""
    if uasc:
        return "7"
    return _pick(rng, ("6", "5C", "3E", "7"), (0.6, 0.15, 0.15, 0.1))


def assessment_factors(rng: Rng, authorised: int) -> str:
    """Comma-joined factors identified at assessment (codes valid in every schema)."""
    n = int(rng.integers(0, 4))
    if n == 0:
        return "21"
    chosen = sorted({FACTORS[rng.integers(0, len(FACTORS))] for _ in range(n)})
    return ",".join(chosen)


def after_assessment_closure(rng: Rng, day: int) -> str:
    """Closure reason of a case closed at its assessment (RC9 from 2023-24)."""
    return "RC9" if day >= APRIL_2023 and rng.random() < 0.3 else "RC8"


def ongoing_closure_reason(rng: Rng) -> str:
    """Closure reason of an ongoing child-in-need case."""
    return _pick(rng, ("RC7", "RC5", "RC3", "RC4"), (0.9, 0.06, 0.02, 0.02))


def closure_reason_at_18(rng: Rng) -> str:
    """Closure reason of a case closing on the child's 18th birthday."""
    return "RC6" if rng.random() < 0.1 else "RC7"


def closure_reason_for_exit(rec: str) -> str:
    """CIN closure reason of a case closed on the day the child leaves care."""
    if rec in ("E11", "E12"):
        return "RC1"
    if rec == "E41":
        return "RC3"
    if REC_REASON.get(rec) == "sgo_cao":
        return "RC4"
    if rec == "E3":
        return "RC5"
    if rec == "E7":
        return "RC6"
    return "RC7"


def abuse_category(rng: Rng) -> str:
    """Category of abuse of a child protection plan."""
    return _pick(rng, ("NEG", "EMO", "PHY", "SAB", "MUL"), (0.5, 0.36, 0.07, 0.04, 0.03))


def entry_legal_status(rng: Rng, route: str, band: int, uasc: bool) -> str:
    """Legal status of a child's first episode in a period of care."""
    if uasc:
        return "V2"
    if band == 0:
        return _pick(rng, ("C1", "V2", "L2"), (0.6, 0.35, 0.05))
    if route == "cpp":
        return _pick(rng, ("C1", "V2", "L2"), (0.7, 0.2, 0.1))
    if route == "outside" and band >= 3:
        return _pick(rng, ("V2", "L1", "J1", "C1"), (0.6, 0.1, 0.1, 0.2))
    return _pick(rng, ("V2", "C1", "L2"), (0.5, 0.4, 0.1))


def next_legal_status(rng: Rng, ls: str, band: int, place: str) -> str | None:
    """Legal status after a change of legal status only, or None when there is none."""
    if place.startswith("A"):
        return None
    options: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
        "C1": (("C2",), (1.0,)),
        "L1": (("V2", "C1"), (0.5, 0.5)),
        "L2": (("C1",), (1.0,)),
        "L3": (("V2",), (1.0,)),
        "J1": (("V2",), (1.0,)),
        "J2": (("V2",), (1.0,)),
        "V2": (("C1",), (1.0,)),
    }
    if ls == "C2" and band <= 1:
        return "E1"
    if ls not in options:
        return None
    return _pick(rng, *options[ls])


def place_code(rng: Rng, group: str, day: int, ls: str, uasc: bool) -> str:
    """A PLACE code in the placement group that is valid on ``day``."""
    if group == "foster_kin":
        return _pick(rng, ("U1", "U2", "U3"), (0.3, 0.05, 0.65))
    if group == "foster_other":
        return _pick(rng, ("U4", "U5", "U6"), (0.35, 0.05, 0.6))
    if group == "residential":
        if ls.startswith("J"):
            return _pick(rng, ("K1", "R5", "K2"), (0.3, 0.3, 0.4))
        return _pick(rng, ("K2", "K1", "R1", "R2", "R3", "S1"), (0.8, 0.02, 0.08, 0.02, 0.04, 0.04))
    if group == "supported":
        if day >= APRIL_2024:
            return "K3"
        # Independent living (P2) for looked-after children ended on 28 October 2023.
        return "H5" if day >= OCTOBER_2023 else _pick(rng, ("H5", "P2"), (0.8, 0.2))
    if group == "with_parents":
        return "P1"
    if group == "adoption":
        return (
            _pick(rng, ("A5", "A6"), (0.3, 0.7))
            if ls == "E1"
            else _pick(rng, ("A3", "A4"), (0.3, 0.7))
        )
    if day >= APRIL_2025:
        return _pick(rng, ("Z11", "Z12", "Z13", "Z14"), (0.4, 0.3, 0.2, 0.1))
    return "Z1"


def provider(rng: Rng, place: str) -> str:
    """PLACE_PROVIDER for a placement (blank where DfE wants none)."""
    if place in ("T0", "T1", "T2", "T3") or place.startswith("Z"):
        return ""
    if place == "P1":
        return "PR0"
    if place in ("U1", "U2", "U3", "T4"):
        return "PR1"
    if place.startswith("U"):
        return _pick(rng, ("PR1", "PR4", "PR5"), (0.6, 0.35, 0.05))
    if place.startswith("A"):
        return _pick(rng, ("PR1", "PR2", "PR5"), (0.6, 0.2, 0.2))
    if place in ("H5", "P2", "K3"):
        return _pick(rng, ("PR4", "PR1", "PR5"), (0.6, 0.3, 0.1))
    if place in ("R2", "R5"):
        return "PR3"
    return _pick(rng, ("PR4", "PR1", "PR5"), (0.75, 0.15, 0.1))


def urn(rng: Rng, place: str) -> str:
    """Ofsted unique reference number for registered settings, else ``XXXXXXX``."""
    if place in ("K1", "K2", "K3"):
        return f"SC{int(rng.integers(100000, 1000000))}"
    return "XXXXXXX"


def placement_change_reason(rng: Rng, day: int) -> str:
    """REASON_PLACE_CHANGE for a move to a new placement."""
    return _pick(
        rng,
        ("CARPL", "CREQB", "CREQO", "LAREQ", "CHILD", "STAND", "CLOSE", "OTHER"),
        (0.4, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.15),
    )


def temporary_place(rng: Rng, place: str) -> tuple[str, int]:
    """A temporary placement code and its length in days (T3 only from foster care)."""
    codes = ("T0", "T1", "T2", "T3", "T4") if place.startswith("U") else ("T0", "T1", "T2", "T4")
    code = codes[rng.integers(0, len(codes))]
    length = int(rng.integers(2, 8 if code == "T4" else 11))
    return code, length


def short_break_place(rng: Rng) -> str:
    """Placement of a short break (V3) episode."""
    return _pick(rng, ("U4", "U6", "K2"), (0.3, 0.3, 0.4))


def exit_code(rng: Rng, reason: str, group: str, day: int, ls: str, uasc: bool) -> str:
    """REC for leaving care before the 18th birthday with the given reason group."""
    if reason == "adoption":
        return _pick(rng, ("E11", "E12"), (0.8, 0.2))
    if reason == "return_home":
        return _pick(rng, ("E4A", "E4B", "E13"), (0.6, 0.1, 0.3))
    if reason == "sgo_cao":
        if rng.random() < 0.25:
            return "E41"
        kin = group == "foster_kin"
        if day < APRIL_2018:
            return "E43" if (kin or rng.random() < 0.5) else "E44"
        if group.startswith("foster"):
            return "E45" if kin else "E46"
        return _pick(rng, ("E47", "E48"), (0.8, 0.2))
    if reason == "independence":
        return _pick(rng, ("E5", "E6", "E7"), (0.7, 0.25, 0.05))
    if ls.startswith("J") and rng.random() < 0.5:
        return "E14"
    if uasc and rng.random() < 0.2:
        return "E15"
    return _pick(rng, ("E8", "E3", "E16", "E9"), (0.6, 0.25, 0.1, 0.05))


def exit_code_at_18(rng: Rng, group: str) -> str:
    """REC for leaving care on the 18th birthday."""
    if group.startswith("foster"):
        return _pick(rng, ("E17", "E5", "E8"), (0.6, 0.25, 0.15))
    return _pick(rng, ("E5", "E6", "E7", "E8"), (0.55, 0.2, 0.05, 0.2))
