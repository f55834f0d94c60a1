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

from model.codes import AGE_BANDS

OBSERVATION_COLUMNS = ["period", "measure", "state", "age_band", "to_state", "reason", "value"]
KEY_COLUMNS = OBSERVATION_COLUMNS[:-1]

MEASURES = {
    "stock": "children in the state at the end of the period",
    "transition": "children moving from state to to_state (either may be outside)",
    "ageing": "children in the state moving from age_band to the next band",
    "left_at_18": "children leaving care on their 18th birthday (also counted as transitions)",
    "referral": "referrals (CIN episodes starting)",
    "rereferral": "referrals within 12 months of a previous referral of the same child",
    "assessment": "assessments completed (authorised)",
    "s47": "section 47 enquiries started",
    "icpc": "initial child protection conferences held",
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
