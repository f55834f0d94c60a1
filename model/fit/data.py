"""Observations -> the arrays the likelihood needs: sufficient statistics per year.

The likelihood (``model.fit.likelihood``) conditions on the stock at the start of each month:
the children at risk of leaving state ``s`` in age band ``b`` in month ``t`` are those there
at the start or arriving during the month, ``N = stock at the end + departures``
(conservation), and they split multinomially between staying (``stock at the end``) and each
destination. Rates are constant within a year (April to March; they may drift between
years), so the log-likelihood depends on the counts only through their sums over each
year's months: those sums are all this module keeps. Entries (from ``outside``) are kept
monthly, per entry stream, with their total split over (state, band) summed over months.

The states, bands, destinations and entry streams are the network's
(``model.fit.network``). Observations name them so: a move to another stocked state;
``exit:<reason>`` (a care state left, by exit reason group, whether the child goes
``outside`` or back to an open case); ``closed`` (a cin/cpp case closing); ``age`` (to the
next age band, same state; from the last band, a care state's ``age`` is leaving care on
the 18th birthday, which the 903 records apart from the exit reasons, so that exit rates of
16-17 year olds are not inflated by birthdays).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.codes import EXIT_REASONS, OUTSIDE, UPSTREAM_STATES
from model.config.fit import StructureConfig
from model.fit.network import AGE, CLOSED, Network, NetworkLabels, exit_name
from model.observations import combine_observations

OBSERVATION_FILES = ("observations_903.csv", "observations_cin.csv")


class FitDataError(ValueError):
    """The observations cannot be fitted (the message says why)."""


@dataclass
class FitData(NetworkLabels):
    """Sufficient statistics of one authority's observations, for the stock-flow model.

    Dimensions: ``W`` years (windows), ``S`` stocked states, ``B`` age bands, ``D``
    destinations (``destinations[0]`` is ``stay``), ``T`` months, ``K`` entry streams,
    ``R`` exit reasons, all of them the ``network``'s (whose labels it shows: ``states``,
    ``care_states``, ``bands``, ``destinations``, ``streams``, ``reasons``). Counts are
    children (stocks) or events (flows).
    """

    authority: str
    network: Network
    """The model's structure: states, bands, destinations and who can take them, streams."""
    windows: tuple[str, ...]
    """Year labels: the year ending 31 March, as text."""
    counts: np.ndarray
    """[W, S, B, D] int: children staying (d=0) or leaving to d, summed over the year."""
    months: tuple[str, ...]
    """[T] month ends (ISO) with flows; the opening stock is at the month end before."""
    month_window: np.ndarray
    """[T] int: the window of each month."""
    stock: np.ndarray
    """[T + 1, S, B] int: stock at each month end, the opening one first."""
    entries: np.ndarray
    """[T, K] int: entries per month and stream."""
    composition: np.ndarray
    """[K, S, B] int: entries of each stream by state and band, summed over months."""
    landing_total: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    """[R] int: exits from care by reason (when the CIN funnel is modelled)."""
    landing_case: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    """[R] int: of those, exits to an open CIN case or plan."""
    pressure: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """[W] care population / capacity - 1 (mean over the year's month ends)."""
    caseload: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """[W] open cases per social worker / its mean over the years - 1 (workforce feedback
    with CIN data only; empty otherwise)."""
    fingerprint: str = ""
    """SHA-256 of the observation files used."""

    @property
    def at_risk(self) -> np.ndarray:
        """[W, S, B] children at risk (stayers plus leavers)."""
        return self.counts.sum(axis=-1)


def read_observations(folder: Path, cin_funnel: bool = True) -> tuple[pd.DataFrame, bool, str]:
    """(monthly observations, whether CIN observations were used, data fingerprint) from an
    ingest output folder: the 903's alone, or combined with the CIN census's."""
    folder = Path(folder)
    paths = [folder / name for name in OBSERVATION_FILES if (folder / name).is_file()]
    if not paths or paths[0].name != OBSERVATION_FILES[0]:
        raise FitDataError(
            f"{folder}: no observations_903.csv; run `carecast ingest 903 ... --out {folder}` "
            "first (the fit needs the 903's observations, and uses the CIN census's too "
            "when `carecast ingest cin` wrote them to the same folder)"
        )
    digest = hashlib.sha256()
    frames = []
    for path in paths:
        digest.update(path.read_bytes())
        frames.append(pd.read_csv(path, dtype={"value": "int64"}, keep_default_na=False))
    obs = frames[0]
    use_cin = cin_funnel and len(frames) == 2
    if use_cin:
        obs = combine_observations(frames[0], frames[1])
    monthly = obs[~obs["measure"].str.startswith("dfe_")]
    return monthly.reset_index(drop=True), use_cin, digest.hexdigest()


def fit_data(
    obs: pd.DataFrame,
    structure: StructureConfig,
    authority: str = "",
    use_cin: bool = True,
    fingerprint: str = "",
) -> FitData:
    """Sufficient statistics of monthly observations (``model.observations`` layout) under
    ``structure`` (placement groups and age bands merged as it says)."""
    net = Network.build(structure, use_cin)
    states, care, bands = net.states, net.care_states, net.bands
    obs = _mapped(obs, dict(structure.placement_groups), dict(structure.age_bands), use_cin)
    months = tuple(sorted(obs.loc[obs.measure == "stock", "period"].unique()))
    if len(months) < 13:
        raise FitDataError(
            f"{authority or 'observations'}: {len(months)} month ends of stock; the fit needs "
            "at least a year of monthly observations"
        )
    s_index = {s: i for i, s in enumerate(states)}
    b_index = {b: i for i, b in enumerate(bands)}
    d_index = {d: i for i, d in enumerate(net.destinations)}
    t_index = {m: i for i, m in enumerate(months)}
    stock = np.zeros((len(months), len(states), len(bands)), dtype="int64")
    rows = obs[(obs.measure == "stock") & obs.state.isin(states)]
    np.add.at(
        stock,
        (rows.period.map(t_index), rows.state.map(s_index), rows.age_band.map(b_index)),
        rows.value.to_numpy(),
    )
    departures = _departures(obs, states, care, s_index, b_index, d_index, t_index, bands)
    departures[1:, :, :, 0] = stock[1:]  # stayers: the stock at the month's end
    flows = departures[1:]
    bad = int((flows * ~net.pair_allowed[None, :, None, :]).sum())
    if bad:
        raise FitDataError(f"{authority}: {bad} departures to destinations the structure lacks")
    month_window = np.array([window_of_month(m) for m in months[1:]])
    windows = tuple(str(w) for w in sorted(set(month_window)))
    w_index = np.searchsorted(np.array([int(w) for w in windows]), month_window)
    counts = np.zeros((len(windows), *flows.shape[1:]), dtype="int64")
    np.add.at(counts, w_index, flows)
    entries, composition = _entries(obs, net, s_index, b_index, t_index, months)
    _check_information(counts, entries, states, care, months, authority)
    landing_total, landing_case = _landing(obs, care, net.reasons, use_cin)
    return FitData(
        authority=authority,
        network=net,
        windows=windows,
        counts=counts,
        months=months[1:],
        month_window=w_index,
        stock=stock,
        entries=entries,
        composition=composition,
        landing_total=landing_total,
        landing_case=landing_case,
        pressure=_pressure(stock, w_index, len(windows), net.care, structure, authority),
        caseload=_caseload(stock, w_index, windows, use_cin, structure, authority),
        fingerprint=fingerprint,
    )


def _check_information(
    counts: np.ndarray,
    entries: np.ndarray,
    states: tuple[str, ...],
    care: tuple[str, ...],
    months: tuple[str, ...],
    authority: str,
) -> None:
    """Stop when the observations hold nothing to learn from.

    With every count 0 the posterior is the prior, which samples without trouble, so the
    fit's diagnostics would pass and its forecasts look like findings; the same holds for
    the care part (the model's purpose) when no child was ever in care."""
    who = authority or "observations"
    span = f"{months[0]} to {months[-1]}"
    if not counts.any() and not entries.any():
        raise FitDataError(
            f"{who}: nothing to learn from: every stock and flow is 0 at all {len(months)} "
            f"month ends ({span}): no child was ever in care (or in need), none entered or "
            "left; expected the observations of an authority with children in care (check "
            "that the ingest read its returns)"
        )
    in_care = [states.index(state) for state in care]
    if not counts[:, in_care].any():
        raise FitDataError(
            f"{who}: nothing to learn from: no child was in care at any time ({span}; every "
            f"stock and flow of {', '.join(care)} is 0), so there is no rate of leaving care "
            "to estimate; expected the observations of an authority with children in care "
            "(check that the ingest read its episodes)"
        )


def window_of_month(month_end: str) -> int:
    """Year ending 31 March that contains a month end."""
    year, month = int(month_end[:4]), int(month_end[5:7])
    return year + 1 if month >= 4 else year


def _mapped(
    obs: pd.DataFrame, group_of: dict[str, str], band_of: dict[str, str], use_cin: bool
) -> pd.DataFrame:
    """Observations with placement groups and bands merged; without the CIN funnel, cin and
    cpp are part of ``outside``. Flows that merging makes internal (a move between merged
    groups, ageing between merged bands) are dropped."""
    obs = obs.copy()
    state_map = dict(group_of)
    if not use_cin:
        state_map |= {s: OUTSIDE for s in UPSTREAM_STATES}
    for column in ("state", "to_state"):
        obs[column] = obs[column].map(lambda s: state_map.get(s, s))
    next_band = dict(zip(list(band_of)[:-1], list(band_of)[1:], strict=True))
    ageing = obs.measure == "ageing"
    internal_age = ageing & (obs.age_band.map(band_of) == obs.age_band.map(next_band).map(band_of))
    obs["age_band"] = obs["age_band"].map(lambda b: band_of.get(b, b))
    internal_move = (obs.measure == "transition") & (obs.state == obs.to_state)
    obs = obs[~internal_age & ~internal_move]
    keys = ["period", "measure", "state", "age_band", "to_state", "reason"]
    return obs.groupby(keys, as_index=False)["value"].sum()


def _departures(
    obs: pd.DataFrame,
    states: tuple[str, ...],
    care: tuple[str, ...],
    s_index: dict[str, int],
    b_index: dict[str, int],
    d_index: dict[str, int],
    t_index: dict[str, int],
    bands: tuple[str, ...],
) -> np.ndarray:
    """[T, S, B, D] departures per month (d=0 left for the stayers)."""
    out = np.zeros((len(t_index), len(states), len(bands), len(d_index)), dtype="int64")
    trans = obs[(obs.measure == "transition") & obs.state.isin(states)]
    leaves_care = trans.state.isin(care) & ~trans.to_state.isin(care)
    reason = trans.reason.where(trans.reason.isin(EXIT_REASONS), "other")
    dest = np.where(
        leaves_care,
        reason.map(exit_name),
        np.where(trans.to_state == OUTSIDE, CLOSED, trans.to_state),
    )
    ageing = obs[(obs.measure == "ageing") & obs.state.isin(states)]
    # Leaving care at 18 is counted as an exit by reason too: move it to ``age``.
    at_18 = obs[(obs.measure == "left_at_18") & obs.state.isin(care)]
    exit_at_18 = at_18.reason.where(at_18.reason.isin(EXIT_REASONS), "other").map(exit_name)
    for frame, destination, sign in (
        (trans, dest, 1),
        (ageing, np.full(len(ageing), AGE), 1),
        (at_18, exit_at_18.to_numpy(), -1),
        (at_18, np.full(len(at_18), AGE), 1),
    ):
        np.add.at(
            out,
            (
                frame.period.map(t_index).to_numpy(dtype="int64"),
                frame.state.map(s_index).to_numpy(dtype="int64"),
                frame.age_band.map(b_index).to_numpy(dtype="int64"),
                pd.Series(destination).map(d_index).to_numpy(dtype="int64"),
            ),
            sign * frame.value.to_numpy(),
        )
    if (out < 0).any():
        raise FitDataError("more children leaving care at 18 than exits from care by reason")
    return out


def _entries(
    obs: pd.DataFrame,
    net: Network,
    s_index: dict[str, int],
    b_index: dict[str, int],
    t_index: dict[str, int],
    months: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly entries [T, K] of each of the network's streams, and their composition
    [K, S, B]: an entry belongs to the stream that enters its state."""
    trans = obs[
        (obs.measure == "transition") & (obs.state == OUTSIDE) & obs.to_state.isin(net.states)
    ]
    k_of_state = {state: net.streams.index(net.stream_of(state)) for state in net.states}
    stream = trans.to_state.map(k_of_state).to_numpy(dtype="int64")
    entries = np.zeros((len(months), len(net.streams)), dtype="int64")
    np.add.at(
        entries, (trans.period.map(t_index).to_numpy(dtype="int64"), stream), trans.value.to_numpy()
    )
    composition = np.zeros((len(net.streams), len(net.states), len(net.bands)), dtype="int64")
    np.add.at(
        composition,
        (
            stream,
            trans.to_state.map(s_index).to_numpy(dtype="int64"),
            trans.age_band.map(b_index).to_numpy(dtype="int64"),
        ),
        trans.value.to_numpy(),
    )
    return entries[1:], composition


def _landing(
    obs: pd.DataFrame, care: tuple[str, ...], reasons: tuple[str, ...], use_cin: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Exits from care by reason, and those to an open case (CIN funnel only)."""
    if not use_cin:
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    trans = obs[(obs.measure == "transition") & obs.state.isin(care) & ~obs.to_state.isin(care)]
    reason = trans.reason.where(trans.reason.isin(reasons), "other")
    total = trans.groupby(reason)["value"].sum().reindex(list(reasons), fill_value=0)
    to_case = trans[trans.to_state.isin(UPSTREAM_STATES)]
    case = (
        to_case.groupby(reason[to_case.index])["value"].sum().reindex(list(reasons), fill_value=0)
    )
    return total.to_numpy(dtype="int64"), case.to_numpy(dtype="int64")


def _yearly_mean(monthly: np.ndarray, month_window: np.ndarray, n_windows: int) -> np.ndarray:
    """[W] mean of a monthly series over each year's months."""
    total = np.bincount(month_window, weights=monthly, minlength=n_windows)
    return total / np.maximum(np.bincount(month_window, minlength=n_windows), 1)


def _caseload(
    stock: np.ndarray,
    month_window: np.ndarray,
    windows: tuple[str, ...],
    use_cin: bool,
    structure: StructureConfig,
    authority: str,
) -> np.ndarray:
    """[W] children known to services (in need, on a plan or in care) per social worker
    (full-time equivalent, from ``structure.workforce``), relative to its mean - 1."""
    if not (structure.workforce_feedback and use_cin):
        return np.zeros(0)
    staff = structure.workforce.get(authority, {})
    missing = [w for w in windows if int(w) not in staff]
    if missing:
        raise FitDataError(
            f"{authority}: workforce_feedback needs social workers (FTE) for every year "
            f"fitted; structure.workforce has none for {authority} in {', '.join(missing)}"
        )
    per_worker = _per_worker(stock, month_window, windows, staff)
    return per_worker / per_worker.mean() - 1.0


def _per_worker(
    stock: np.ndarray, month_window: np.ndarray, windows: tuple[str, ...], staff: dict
) -> np.ndarray:
    """[W] mean children known (in need, on a plan or in care) per social worker."""
    known = _yearly_mean(stock[1:].sum(axis=(1, 2)).astype(float), month_window, len(windows))
    return known / np.array([staff[int(w)] for w in windows])


def _pressure(
    stock: np.ndarray,
    month_window: np.ndarray,
    n_windows: int,
    care: np.ndarray,
    structure: StructureConfig,
    authority: str,
) -> np.ndarray:
    """[W] mean care population over each year's month ends / capacity - 1 (``care`` [S]:
    the care states)."""
    in_care = stock[1:, care, :].sum(axis=(1, 2)).astype(float)
    mean = _yearly_mean(in_care, month_window, n_windows)
    return mean / capacity(stock, care, structure, authority) - 1.0


def capacity(
    stock: np.ndarray, care: np.ndarray, structure: StructureConfig, authority: str
) -> float:
    """Placement capacity (children) of the capacity feedback: the configured one, else the
    mean care population over the month ends fitted (``care`` [S]: the care states)."""
    in_care = stock[1:, care, :].sum(axis=(1, 2)).astype(float)
    return float(structure.capacity.get(authority, float(in_care.mean()) or 1.0))


def caseload_scale(data: FitData, structure: StructureConfig) -> tuple[float, float]:
    """(mean children known per social worker over the years fitted, social workers in the
    last year): what a forecast's caseload feedback is relative to (NaN without it)."""
    if not data.caseload.size:
        return float("nan"), float("nan")
    staff = structure.workforce[data.authority]
    per_worker = _per_worker(data.stock, data.month_window, data.windows, staff)
    return float(per_worker.mean()), float(staff[int(data.windows[-1])])
