"""The synthetic generator's truth file: the known parameters that simulated children follow.

All rates are **monthly probabilities** that a child in a state has the event in a calendar
month (at most one state-changing event per child per month), except where a field says
"per 10,000 children aged 0-17 per month". The default file, ``default_truth.yaml`` next to
this module, documents every field and gives an authority of about 70 children in care per
10,000 (the English average).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.codes import AGE_BANDS, CARE_STATES, EXIT_REASONS

DEFAULT_TRUTH_FILE = Path(__file__).with_name("default_truth.yaml")

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
ByBand = dict[str, NonNegative]

CARE_DESTINATIONS: tuple[str, ...] = CARE_STATES + tuple(f"exit_{r}" for r in EXIT_REASONS)
"""Where a looked-after child can go in a month: another placement group or out of care."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_keys(mapping: dict[str, object], allowed: tuple[str, ...], where: str) -> None:
    for key in sorted(set(mapping) - set(allowed), key=str):
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; allowed: {', '.join(allowed)}"
        raise ValueError(f"{where}: unknown key '{key}'{hint}")


def _full_bands(mapping: ByBand, where: str) -> None:
    _check_keys(mapping, AGE_BANDS, where)
    missing = [b for b in AGE_BANDS if b not in mapping]
    if missing:
        raise ValueError(f"{where}: missing age bands {missing}")


class AuthoritySizes(_Strict):
    """How many authorities of what size ``--authorities N`` makes."""

    population_0_17_min: Annotated[int, Field(gt=1000)] = 15_000
    population_0_17_max: Annotated[int, Field(gt=1000)] = 150_000
    population_share: ByBand = Field(
        default_factory=lambda: dict(zip(AGE_BANDS, (0.055, 0.22, 0.28, 0.335, 0.11), strict=True))
    )
    """Share of the 0-17 population in each age band (normalised to sum to 1)."""

    @model_validator(mode="after")
    def _check(self) -> AuthoritySizes:
        _full_bands(self.population_share, "authorities.population_share")
        if self.population_0_17_min > self.population_0_17_max:
            raise ValueError("authorities: population_0_17_min must not exceed the max")
        return self


class Trend(_Strict):
    """Entry-rate trend: referrals and direct entries to care are multiplied by
    exp(log_growth_per_year * years since the first written year + a random walk that
    also starts then); the warm-up runs at the rates of the first written year."""

    log_growth_per_year: float = 0.02
    random_walk_sd_per_month: NonNegative = 0.01


class Feedback(_Strict):
    """Feedback from care population pressure, pressure = children in care / capacity - 1.
    Log-rates of exits from care and of entries to care shift by coefficient * pressure."""

    capacity_per_10k: Annotated[float, Field(gt=0)] = 75.0
    exit_log_rate_per_pressure: float = 0.0
    entry_log_rate_per_pressure: float = 0.0


class Referrals(_Strict):
    """The front door: referrals to children's social care."""

    rate_per_10k: ByBand
    """Referrals per 10,000 children of the band per month."""
    rereferral_share: Probability = 0.2
    """Share of referrals that are of a child whose previous case closed in the last year."""
    nfa_share: Probability = 0.07
    """Referrals closed with no further action (ReferralNFA) on the referral date."""
    closed_after_assessment_share: Probability = 0.4
    """Referrals closed when their assessment is authorised (RC8/RC9)."""
    assessment_start_days: tuple[int, int] = (0, 5)
    assessment_length_days: tuple[int, int] = (5, 40)

    @model_validator(mode="after")
    def _check(self) -> Referrals:
        _full_bands(self.rate_per_10k, "referrals.rate_per_10k")
        if self.nfa_share + self.closed_after_assessment_share > 1:
            raise ValueError("referrals: nfa_share + closed_after_assessment_share exceeds 1")
        return self


class Upstream(_Strict):
    """Monthly probabilities for open child-in-need cases (cin) and plans (cpp), by band."""

    cin_closure: ByBand
    cin_to_cpp: ByBand
    cin_to_care: ByBand
    cin_s47_without_plan: ByBand
    """Section 47 enquiries that do not lead to a plan (no state change)."""
    cpp_end: ByBand
    cpp_to_care: ByBand
    care_exit_keeps_case_open: dict[str, Probability] = Field(
        default_factory=lambda: {"return_home": 0.7, "other": 0.3}
    )
    """Probability that the CIN case stays open after leaving care, by exit reason
    (reasons not listed close the case on the day the child leaves care)."""

    @model_validator(mode="after")
    def _check(self) -> Upstream:
        for name in ("cin_closure", "cin_to_cpp", "cin_to_care", "cin_s47_without_plan"):
            _full_bands(getattr(self, name), f"upstream.{name}")
        for name in ("cpp_end", "cpp_to_care"):
            _full_bands(getattr(self, name), f"upstream.{name}")
        _check_keys(self.care_exit_keeps_case_open, EXIT_REASONS, "care_exit_keeps_case_open")
        return self


class Care(_Strict):
    """Looked-after children: entries, placement moves and exits."""

    direct_entry_per_10k: ByBand
    """Entries to care of children unknown to children's services, per 10,000 per month."""
    uasc_entry_per_10k: NonNegative = 0.1
    """Unaccompanied asylum-seeking children arriving, per 10,000 children per month."""
    first_placement: dict[str, dict[str, NonNegative]]
    """Band -> placement group -> weight of the first placement (normalised)."""
    transitions: dict[str, dict[str, NonNegative]]
    """Placement group -> destination (group or exit_<reason>) -> monthly probability for a
    child of the reference band; multiplied by ``age_multipliers``."""
    age_multipliers: dict[str, ByBand]
    """Destination -> band -> multiplier (destinations not listed: 1 for every band)."""
    within_group_move: Probability = 0.015
    legal_status_change: Probability = 0.02
    temporary_placement: Probability = 0.004
    short_break_children_per_10k: NonNegative = 0.5
    """Disabled children receiving series of short breaks (V3, excluded from all stocks)."""

    @model_validator(mode="after")
    def _check(self) -> Care:
        _full_bands(self.direct_entry_per_10k, "care.direct_entry_per_10k")
        _full_bands(self.first_placement, "care.first_placement")
        for band, weights in self.first_placement.items():
            _check_keys(weights, CARE_STATES, f"care.first_placement.{band}")
            if sum(weights.values()) <= 0:
                raise ValueError(f"care.first_placement.{band}: weights sum to zero")
        _check_keys(self.transitions, CARE_STATES, "care.transitions")
        for group, dest in self.transitions.items():
            _check_keys(dest, CARE_DESTINATIONS, f"care.transitions.{group}")
            if group in dest:
                raise ValueError(f"care.transitions.{group}: a group cannot move to itself")
        _check_keys(self.age_multipliers, CARE_DESTINATIONS, "care.age_multipliers")
        for dest, mult in self.age_multipliers.items():
            _full_bands(mult, f"care.age_multipliers.{dest}")
        return self


class FaultRates(_Strict):
    """How often ``--faults`` injects each problem real 903 returns have. Row faults are a
    share of eligible episodes (or Header children); file faults a share of files. The CIN
    census faults (``model.synth.faults_cin``, which defines what is eligible) are a share
    of eligible items, at most one per child."""

    stale_open: Probability = 0.005
    """An episode that ended in the year is written open (DEC and REC blank) in that
    year's file. Recoverable only when a continuation episode starts on its true DEC."""
    overlap: Probability = 0.003
    """DEC set 1-10 days after the next episode's DECOM (recoverable)."""
    gap: Probability = 0.003
    """DEC set 1-10 days before the next episode's DECOM (recoverable)."""
    near_duplicate: Probability = 0.003
    """A stale open copy of an episode, DECOM shifted by 1-5 days, in the same file."""
    lowercase_codes: Probability = 0.01
    padded_codes: Probability = 0.01
    header_disagreement: Probability = 0.02
    """A child's ethnicity or UPN differs in an earlier year's Header (latest is right)."""
    byte_order_mark: Probability = 0.2
    windows_line_endings: Probability = 0.3
    cp1252: Probability = 0.1
    """File encoded as cp1252, with non-breaking spaces after some codes (Excel exports)."""
    excel_serial_dates: Probability = 0.1
    two_digit_years: Probability = 0.05
    """DEC written as dd/mm/yy (a known exporter bug)."""
    cin_id_changed: Probability = 0.01
    """CIN: a child with 903 episodes and a UPN has another LAchildID in every census
    (recoverable by linking on UPN). Share of such children."""
    assessment_before_referral: Probability = 0.005
    """CIN: an assessment starts 1-30 days before its referral (recoverable). Share of
    assessments."""
    duplicate_module: Probability = 0.005
    """CIN: an Assessments, Section47 or ChildProtectionPlans element written twice in one
    file (recoverable). Share of those elements per file."""
    unknown_referral_source: Probability = 0.005
    """CIN: ReferralSource "99", invalid (recoverable: unused). Share of CINdetails per file."""
    closure_reason_missing: Probability = 0.01
    """CIN: ReasonForClosure removed from a closure. Share of closures."""
    closure_before_referral: Probability = 0.005
    """CIN: CINclosureDate 1-60 days before the referral. Share of closed episodes."""
    referral_after_census: Probability = 0.005
    """CIN: CINreferralDate a year late, after the ReferenceDate, in one file. Share of
    CINdetails per file where that lands after the ReferenceDate."""
    missing_lachildid: Probability = 0.005
    """CIN: a Child without LAchildID in one file (invalid). Share of Child elements per file."""
    open_episode_dropped: Probability = 0.01
    """CIN: an episode open at one census missing from the next (its last). Share of such
    episodes."""
    closure_removed_before_new_referral: Probability = 0.02
    """CIN: closure removed from an episode followed by another referral in the same file.
    Share of such pairs per file."""


class Truth(_Strict):
    """Everything the generator needs to simulate authorities."""

    warmup_years: Annotated[int, Field(ge=0, le=40)] = 18
    """Years simulated before the first written year so the system is in steady state."""
    authorities: AuthoritySizes = AuthoritySizes()
    trend: Trend = Trend()
    feedback: Feedback = Feedback()
    referrals: Referrals
    upstream: Upstream
    care: Care
    faults: FaultRates = FaultRates()


def _read_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def _merge(base: dict, override: dict) -> dict:
    """``override`` laid over ``base``, mapping by mapping."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_truth(path: Path | None = None) -> Truth:
    """The shipped default truth, with the settings in ``path`` (if given) laid over it:
    a truth file need only name what it changes."""
    data = _read_yaml(DEFAULT_TRUTH_FILE)
    if path is not None:
        data = _merge(data, _read_yaml(Path(path)))
    return Truth.model_validate(data)
