"""Parameter recovery: do a fit's credible intervals contain the generator's true rates?

The synthetic generator (``model.synth``) moves each looked-after child at most once a
month, to destination ``d`` with probability ``p[group, band, d]`` (the truth file's base
rate times its age multiplier); events that keep the child in its placement group (a new
carer in the same group, a legal status change, a temporary placement) count as staying in
the model's terms. The model's monthly log-odds of ``d`` against staying are then

    eta_true[group -> d, band] = log p[d] - log(1 - sum over state-changing d' of p[d'])

in the first fitted year (the truth's rates do not drift). These are the *rate parameters*
whose recovery is checked: moves between placement groups and exits by reason, for every
band where the truth's probability is positive. Not included: ageing and leaving at 18
(fixed by birthdays, not rates), the CIN and plan states (the generator closes many cases
on a timetable after assessment, which a constant monthly rate only approximates) and
entries (the generator's trend is a monthly random walk, the model's a yearly-knot one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from model.codes import AGE_BANDS, CARE_STATES
from model.fit.data import FitData
from model.synth.truth_config import CARE_DESTINATIONS, Truth


def _probabilities(truth: Truth) -> dict[tuple[str, str], np.ndarray]:
    """(group, destination) -> [B] monthly probability per DfE age band."""
    care = truth.care
    out = {}
    for group in CARE_STATES:
        for dest in CARE_DESTINATIONS:
            base = care.transitions.get(group, {}).get(dest, 0.0)
            multiplier = care.age_multipliers.get(dest)
            per_band = np.array([multiplier[b] if multiplier else 1.0 for b in AGE_BANDS])
            out[group, dest] = base * per_band
    return out


def true_log_odds(truth: Truth, data: FitData) -> np.ndarray:
    """[P, B] true monthly log-odds of each (state, destination) pair of the fit (pairs in
    the order of ``model.fit.likelihood``), NaN where the cell is not a rate parameter.
    Needs the default placement groups and age bands (merging mixes rates)."""
    if data.bands != AGE_BANDS or not set(data.care_states) <= set(CARE_STATES):
        raise ValueError("true log-odds need the default placement groups and age bands")
    p = _probabilities(truth)
    pairs = data.network.pairs
    out = np.full((len(pairs), len(data.bands)), np.nan)
    for i, (s, d) in enumerate(pairs):
        state, dest = data.states[s], data.destinations[d + 1]
        if state not in CARE_STATES:
            continue
        name = dest.replace("exit:", "exit_")
        if name not in CARE_DESTINATIONS:
            continue  # ageing and leaving at 18
        stay = 1.0 - sum(p[state, other] for other in CARE_DESTINATIONS if other != state)
        with np.errstate(divide="ignore"):
            value = np.log(p[state, name]) - np.log(stay)
        out[i] = np.where(p[state, name] > 0, value, np.nan)
    return out


def coverage_table(
    posterior: xr.Dataset, data: FitData, truth: Truth, interval: float
) -> pd.DataFrame:
    """One row per rate parameter: its true value, the posterior mean, the central
    ``interval`` credible bounds and whether they contain the truth."""
    eta = np.asarray(posterior["eta"])
    eta = eta.reshape(-1, *eta.shape[2:])  # [N, P, B]
    true = true_log_odds(truth, data)
    lo, hi = np.quantile(eta, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    pairs = list(posterior["eta"].coords["pair"].values)
    rows = [
        (data.authority, pairs[i], data.bands[b], true[i, b], float(eta[:, i, b].mean()),
         lo[i, b], hi[i, b])
        for i, b in zip(*np.nonzero(~np.isnan(true)), strict=True)
    ]  # fmt: skip
    table = pd.DataFrame(
        rows, columns=["authority", "pair", "band", "true", "mean", "lower", "upper"]
    )
    table["covered"] = (table.lower <= table.true) & (table.true <= table.upper)
    return table
