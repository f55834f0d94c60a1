"""Synthetic authorities: who they are, how big, and their simulated case records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.config.demo import demo_authority_codes
from model.config.seeds import derive_seed
from model.synth import codes_choice as cc
from model.synth.draws import Draws
from model.synth.records import (
    ASSESSMENT_COLUMNS,
    CHILD_COLUMNS,
    CIN_DETAIL_COLUMNS,
    CIN_PLAN_COLUMNS,
    CPP_COLUMNS,
    EPISODE_COLUMNS,
    SECTION47_COLUMNS,
    SimulatedAuthority,
)
from model.synth.simulate import AuthoritySimulation, Child, day_of
from model.synth.truth_config import Truth


@dataclass(frozen=True)
class AuthoritySpec:
    """One synthetic authority: ``code`` names its folder, ``lea`` is the 3-digit code in
    CIN census headers and UPNs (real LA codes start at 201, so these never clash)."""

    code: str
    lea: str
    name: str
    population_0_17: int


GOLDEN = (5**0.5 - 1) / 2


def authority_specs(truth: Truth, n: int) -> list[AuthoritySpec]:
    """The first ``n`` synthetic authorities. Authority i's 0-17 population sits at the
    fraction frac(i * golden ratio) of the truth's range on the log scale: sizes are well
    spread for any ``n``, and adding authorities never changes the existing ones."""
    lo = truth.authorities.population_0_17_min
    hi = truth.authorities.population_0_17_max
    specs = []
    for i, code in enumerate(demo_authority_codes(n), start=1):
        fraction = (i * GOLDEN) % 1.0
        size = int(round(lo * (hi / lo) ** fraction, -2))
        specs.append(AuthoritySpec(code, f"{i:03d}", f"Synthetic authority {i:02d}", size))
    return specs


def simulate_authority(
    truth: Truth, spec: AuthoritySpec, first_year: int, last_year: int, seed: int
) -> SimulatedAuthority:
    """Simulate ``spec`` from the warm-up to 31 March ``last_year``; keep the records that
    touch the written years (1 April ``first_year - 1`` onwards)."""
    rng = np.random.default_rng(derive_seed(seed, spec.code, "synthesize"))
    window_start = day_of(f"{first_year - 1}-04-01")
    sim = AuthoritySimulation(
        truth=truth,
        population_0_17=spec.population_0_17,
        start_day=day_of(f"{first_year - 1 - truth.warmup_years}-04-01"),
        end_day=day_of(f"{last_year}-03-31"),
        trend_origin_day=window_start,
        rng=rng,
        lea=spec.lea,
    )
    records = sim.run()
    return _to_frames(sim, records, spec, first_year, last_year, window_start, seed)


def _dates(values: pd.Series) -> pd.Series:
    """Day numbers (or None) to datetime64[s] (NaT for None)."""
    days = pd.array(values, dtype="Int64")
    out = pd.to_datetime(days.to_numpy(dtype="float64", na_value=np.nan), unit="D")
    return pd.Series(out, index=values.index).astype("datetime64[s]")


def _frame(rows: list, columns: list[str], date_columns: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in date_columns:
        df[col] = _dates(df[col])
    return df


def _child_row(child: Child, draws: Draws, lea: str) -> tuple:
    """A child's identity: drawn here, for written children only, to keep the simulation
    loop lean (children under 5 often have no UPN yet)."""
    sex = "M" if draws.random() < (0.9 if child.uasc else 0.53) else "F"
    ethnicity = cc.ethnicity(draws, child.uasc)
    known_upn = child.band_days[1] <= child.first_seen or draws.random() < 0.4
    upn = cc.upn(draws, lea) if known_upn else ""
    duc = child.age18 if child.uasc else None
    return (
        child.child_id,
        child.dob,
        sex,
        ethnicity,
        upn,
        "" if known_upn else "UN1",
        child.uasc,
        duc,
    )


def _to_frames(
    sim: AuthoritySimulation,
    records,
    spec: AuthoritySpec,
    first_year: int,
    last_year: int,
    window_start: int,
    seed: int,
) -> SimulatedAuthority:
    window = pd.Timestamp(window_start, unit="D")
    # Filter before building frames: most records end long before the written years.
    episodes = _frame(
        [r for r in records.episodes if r[7] is None or r[7] >= window_start],
        EPISODE_COLUMNS,
        ("decom", "dec"),
    )
    # Cases closed in the year before the written years stay: a referral in the first
    # year may be a re-referral of them.
    cin = _frame(
        [r for r in records.cin_details if r[5] is None or r[5] >= window_start - 366],
        CIN_DETAIL_COLUMNS,
        ("referral_date", "closure_date"),
    )
    kept = set(cin["cin_id"].tolist())
    first_kept = min(kept, default=0)

    def linked(rows: list, columns: list[str], dates: tuple[str, ...]) -> pd.DataFrame:
        kept_rows = [r for r in rows if r is not None and r[0] >= first_kept and r[0] in kept]
        return _frame(kept_rows, columns, dates)

    cpp_rows = [
        [*row[:6], tuple(np.datetime64(d, "D").astype("datetime64[s]") for d in row[6])]
        for row in records.cpp
        if row[0] in kept
    ]
    wanted = set(episodes["child_id"]) | set(cin["child_id"])
    draws = Draws(np.random.default_rng(derive_seed(seed, spec.code, "identities")))
    rows = [_child_row(c, draws, spec.lea) for c in sim.children if c.child_id in wanted]
    children = _frame(rows, CHILD_COLUMNS, ("dob", "duc"))
    monthly = pd.DataFrame(sim.monthly, columns=["month_start", "log_entry_trend", "pressure"])
    monthly["month_start"] = _dates(monthly["month_start"])
    monthly = monthly[monthly["month_start"] >= window].reset_index(drop=True)
    return SimulatedAuthority(
        code=spec.code,
        lea=spec.lea,
        name=spec.name,
        population_0_17=spec.population_0_17,
        first_year=first_year,
        last_year=last_year,
        children=children.reset_index(drop=True),
        episodes=episodes.reset_index(drop=True),
        cin_details=cin.reset_index(drop=True),
        assessments=linked(
            records.assessments, ASSESSMENT_COLUMNS, ("start_date", "authorisation_date")
        ),
        section47=linked(
            records.section47, SECTION47_COLUMNS, ("start_date", "icpc_target", "icpc_date")
        ),
        cpp=linked(cpp_rows, CPP_COLUMNS, ("start_date", "end_date")),
        cin_plans=linked(records.cin_plans, CIN_PLAN_COLUMNS, ("start_date", "end_date")),
        monthly_multipliers=monthly,
    )
