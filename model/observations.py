"""The tidy observations table: the only thing the model sees.

Child-level ingest, published-table ingest and the synthetic generator's truth all produce
this one layout, one row per (period, measure, state, age_band, to_state, reason):

- ``period``: last day of the period (ISO date string; a month end for child-level data,
  31 March for annual tables).
- ``measure``: what is counted (see MEASURES).
- ``state``: model state (``model.codes``: cin, cpp, a placement group) or "" for events
  that belong to no state; for transitions, the state left (``outside`` for entries).
- ``age_band``: one of ``model.codes.AGE_BANDS``; for flows, the band on the day before
  the event; for stocks, the band at the end of the period.
- ``to_state``: for transitions, the state entered (``outside`` for exits), else "".
- ``reason``: for exits from care, the exit reason group; for cases closing, the CIN
  closure reason code; else "".
- ``value``: number of children (stocks) or events (flows) — a non-negative integer.

Counting conventions: a child is in a state at the end of a day when an interval of that
state covers the day, intervals being [start, end) in days (a child who leaves care on
31 March is not looked after at 31 March). When intervals overlap the state is the most
intensive: looked after, then child protection plan, then open child-in-need case.
"""

from __future__ import annotations

from itertools import pairwise

import pandas as pd

from model.codes import AGE_BANDS, OUTSIDE, UPSTREAM_STATES

OBSERVATION_COLUMNS = ["period", "measure", "state", "age_band", "to_state", "reason", "value"]
KEY_COLUMNS = OBSERVATION_COLUMNS[:-1]

MEASURES = {
    "stock": "children in the state at the end of the period",
    "transition": "children moving from state to to_state (either may be outside)",
    "ageing": "children in the state moving from age_band to the next band",
    "left_at_18": "children leaving care on their 18th birthday, by exit reason (also counted "
    "as transitions)",
    "referral": "referrals (CIN episodes starting)",
    "rereferral": "referrals within 12 months of a previous referral of the same child",
    "assessment": "assessments completed (authorised)",
    "s47": "section 47 enquiries started",
    "icpc": "initial child protection conferences held",
    "cpp_start": "child protection plans starting",
    "cpp_end": "child protection plans ending",
    "cin_closure": "CIN cases closing (reason: the closure reason code, '' when unknown)",
    "care_entry": "entries to care by route: state is the child's state the day before "
    "(outside, cin, cpp), to_state the first placement group",
}


def empty_observations() -> pd.DataFrame:
    """An observations table with no rows and the right columns."""
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "value" else "str") for c in OBSERVATION_COLUMNS}
    )


def conservation_residuals(obs: pd.DataFrame) -> pd.DataFrame:
    """Stock(t) - stock(t-1) - inflows + outflows for every period after the first,
    state and age band; all zeros when the table conserves children.

    Inflows are transitions into the state and ageing into the band; outflows are
    transitions out of the state and ageing out of the band.
    """
    stock = obs[obs.measure == "stock"].pivot_table(
        index="period", columns=["state", "age_band"], values="value", aggfunc="sum", fill_value=0
    )
    trans = obs[obs.measure == "transition"]
    inflow = trans.groupby(["period", "to_state", "age_band"])["value"].sum()
    inflow.index = inflow.index.set_names(["period", "state", "age_band"])
    outflow = trans.groupby(["period", "state", "age_band"])["value"].sum()
    ageing = obs[obs.measure == "ageing"].groupby(["period", "state", "age_band"])["value"].sum()
    band_next = dict(pairwise(AGE_BANDS))
    aged_in = ageing.rename(index=band_next, level="age_band")
    net = (
        inflow.reindex(stock.stack([0, 1]).index, fill_value=0)
        .sub(outflow.reindex(stock.stack([0, 1]).index, fill_value=0))
        .add(aged_in.reindex(stock.stack([0, 1]).index, fill_value=0))
        .sub(ageing.reindex(stock.stack([0, 1]).index, fill_value=0))
    )
    net = net.unstack([1, 2]).reindex(columns=stock.columns, fill_value=0)
    residual = stock.diff().iloc[1:] - net.iloc[1:]
    return residual


def combine_observations(obs_903: pd.DataFrame, obs_cin: pd.DataFrame) -> pd.DataFrame:
    """The whole system's observations from the 903's and the (linked) CIN census's.

    The 903 sees entries to care only as coming from ``outside`` and exits only as going
    there; the CIN census's transitions say which of them came from, or went to, an open case
    or a plan. Those are moved: entries from ``outside`` lose the CIN census's entries from
    ``cin``/``cpp`` (same period, band and placement group), exits to ``outside`` lose its
    exits to ``cin``/``cpp`` (same reason). Every other row is kept as it is; ``care_entry``
    rows are dropped (they repeat the transitions). Raises ValueError if the two disagree
    (more entries from a case than the 903 has entries).
    """
    cin = obs_cin[obs_cin.measure != "care_entry"]
    trans = cin[cin.measure == "transition"]
    upstream = set(UPSTREAM_STATES)
    into_care = trans[trans.state.isin(upstream) & ~trans.to_state.isin(upstream | {OUTSIDE})]
    out_of_care = trans[trans.to_state.isin(upstream) & ~trans.state.isin(upstream | {OUTSIDE})]
    moved = pd.concat(
        [
            into_care.assign(state=OUTSIDE, reason=""),
            out_of_care.assign(to_state=OUTSIDE),
        ]
    )
    moved = moved.groupby(KEY_COLUMNS, as_index=False)["value"].sum()
    base = obs_903.merge(moved, on=KEY_COLUMNS, how="left", suffixes=("", "_moved"))
    base["value"] = base["value"] - base["value_moved"].fillna(0).astype("int64")
    unmatched = moved.merge(obs_903[KEY_COLUMNS], on=KEY_COLUMNS, how="left", indicator=True)
    if (base["value"] < 0).any() or (unmatched["_merge"] == "left_only").any():
        raise ValueError(
            "the CIN census's entries to and exits from care do not fit within the 903's: "
            "were both ingested for the same authority and years, with the 903 linked?"
        )
    base = base[base["value"] > 0].drop(columns="value_moved")
    table = pd.concat([base, cin], ignore_index=True)
    table = table.groupby(KEY_COLUMNS, as_index=False)["value"].sum()
    return table.sort_values(KEY_COLUMNS, ignore_index=True)[OBSERVATION_COLUMNS]
