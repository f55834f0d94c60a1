"""``carecast backtest`` of one authority: rolling origins on its own history.

For each origin year ``y`` (a year ending 31 March): fit the model to the observations up to
31 March ``y``, forecast the baseline for ``horizon_years``, and compare the children in each
state (and in care in total) at each later 31 March with what the observations say. The
same cells are forecast by three probabilistic baselines, each from the monthly stock up to
the origin (``model.evaluate.probabilistic_baselines``):

- ``naive_walk``: the stock at the origin with Gaussian month-on-month increments of the
  series' own volatility;
- ``auto_ets``, ``auto_arima``: statsforecast's AutoETS (damped trend allowed) and
  AutoARIMA with their own prediction intervals;

and, for the error of the median only, by three point baselines:

- ``last_value``: the stock at the origin carried forward;
- ``linear_trend``: a least-squares line through the last five 31 March stocks;
- ``fixed_rates``: the deterministic projection existing demand models make: the model's
  own monthly structure (states x age bands) with every transition probability, entry
  rate and composition fixed at its average over the last ``reference`` years before the
  origin (maximum likelihood of a constant rate), run forward on expected values.

Scores (``model.evaluate.scores``): CRPS and coverage of the 50/80/90/95% central intervals
(randomised PIT) of the probabilistic forecasts, absolute error of the median of every
method (a point forecast has no CRPS here: its CRPS would be its absolute error, which any
forecast with bands beats). Written to ``out_dir``: ``scores.csv`` (one row per origin,
horizon, state and method), ``summary.csv`` (``model.evaluate.skill``: by state, method and
horizon, and over all horizons; skill against the naive walk and the error of the median
against the last value's, with bootstrap standard errors over origins;
``summary_by_origin.csv`` by origin), ``coverage.png`` and ``.svg`` (coverage against
nominal by horizon, with each horizon's skill), and each origin's fit under
``origin_<y>/fit``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.seeds import derive_seed
from model.evaluate.baselines import last_value, linear_trend
from model.evaluate.probabilistic_baselines import (
    PROBABILISTIC_BASELINES,
    QUANTILE_POINTS,
    naive_walk,
    statistical_forecasts,
)
from model.evaluate.scores import plot_coverage, score_cells
from model.evaluate.skill import MODEL, skill_summary
from model.fit.data import OBSERVATION_FILES, FitData, fit_data, read_observations
from model.fit.network import KIND_AGE, KIND_EXIT, KIND_MOVE
from model.fit.run import fit_authority, load_posterior
from model.forecast.effects import build_changes
from model.forecast.inputs import draw_inputs
from model.forecast.simulate import simulate
from model.forecast.tables import TOTAL
from model.logs import steps

POINT_BASELINES = ("last_value", "linear_trend", "fixed_rates")
METHODS = (MODEL, *PROBABILISTIC_BASELINES, *POINT_BASELINES)


class BacktestError(ValueError):
    """The observations cannot be back-tested as asked (the message says why)."""


@dataclass
class BacktestResult:
    """What :func:`backtest_authority` produced."""

    scores: pd.DataFrame
    summary: pd.DataFrame
    fits_passed: dict[int, bool]


def march_index(data: FitData, year: int) -> int | None:
    """Row of ``data.stock`` at 31 March ``year`` (None when outside the data)."""
    months = [_opening(data), *data.months]  # row 0: the opening stock
    label = f"{year}-03-31"
    return months.index(label) if label in months else None


def _opening(data: FitData) -> str:
    """The month end of the opening stock (the month before the first with flows)."""
    return (pd.Timestamp(data.months[0]) - pd.offsets.MonthEnd(1)).date().isoformat()


def default_origins(data: FitData, horizon_years: int, first_years: int = 3) -> list[int]:
    """Every origin with ``first_years`` whole years fitted before it and at least one later
    31 March observed (at most ``horizon_years`` back from the last)."""
    marches = [int(m[:4]) for m in data.months if m.endswith("-03-31")]
    if len(marches) < first_years + 1:
        raise BacktestError(
            f"{data.authority}: {len(marches)} years ending 31 March observed; a back-test "
            f"needs at least {first_years + 1} (fits of {first_years} years, one to compare)"
        )
    last = marches[-1]
    return [y for y in marches[first_years - 1 : -1] if y >= last - horizon_years]


def backtest_authority(
    obs_dir: Path,
    out_dir: Path,
    authority: str,
    seed: int,
    origins: list[int] | None = None,
    horizon_years: int = 3,
    structure: StructureConfig | None = None,
    priors: PriorsConfig | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: DiagnosticsConfig | None = None,
    draws: int = 1000,
    reference: int = 3,
) -> BacktestResult:
    """Back-test the model against the baselines on ``authority``'s observations in
    ``obs_dir``; write the outputs to ``out_dir`` (see the module)."""
    structure = structure or StructureConfig()
    obs, use_cin, _ = read_observations(Path(obs_dir), structure.cin_funnel)
    full = fit_data(obs, structure, authority, use_cin)
    origins = origins or default_origins(full, horizon_years)
    out = Path(out_dir)
    frames, passed = [], {}
    for origin in steps(origins, f"{authority}: back-test", "origin"):
        if march_index(full, origin) is None:
            raise BacktestError(f"{authority}: no observations at 31 March {origin}")
        folder = out / f"origin_{origin}"
        cut = _cut_observations(Path(obs_dir), folder / "observations", origin)
        result = fit_authority(
            cut, folder / "fit", authority, seed, structure, priors, sampler, thresholds
        )
        passed[origin] = bool(result.diagnostics["passed"])
        trace = load_posterior(folder / "fit" / "posterior.nc", structure, priors)
        frames.append(
            _score_origin(full, result.data, trace, origin, horizon_years, draws, reference, seed)
        )
    scores = pd.concat(frames, ignore_index=True)
    scores.insert(0, "authority", authority)
    summary = write_scores(out, scores, authority, passed, cluster="origin")
    return BacktestResult(scores, summary, passed)


HEADLINE = ("stock", TOTAL)
"""(measure, state) of the cells the coverage chart shows: children looked after."""


def write_scores(
    out: Path, scores: pd.DataFrame, title: str, passed: dict[int, bool], cluster: str
) -> pd.DataFrame:
    """Write ``scores.csv``, ``summary.csv`` (``model.evaluate.skill``: by measure, state,
    method and horizon, and over all horizons; ``cluster``: the key column resampled whole
    for the standard errors), ``summary_by_origin.csv`` (the same by origin, over all
    horizons: does the skill hold from every origin?), the coverage chart of the children
    looked after (carecast by horizon and every probabilistic method over all horizons,
    each with its skill) and ``fits.json`` (each origin's fit: passed its diagnostics?) to
    ``out``; return the summary."""
    by = ["measure", "state"]
    summary = pd.concat(
        [skill_summary(scores, [*by, "horizon"], cluster),
         skill_summary(scores, by, cluster).assign(horizon="all")],
        ignore_index=True,
    )  # fmt: skip
    by_origin = skill_summary(scores, [*by, "origin"], cluster)
    out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out / "scores.csv", index=False, lineterminator="\n")
    summary.to_csv(out / "summary.csv", index=False, lineterminator="\n")
    by_origin.to_csv(out / "summary_by_origin.csv", index=False, lineterminator="\n")
    headline = summary[(summary.measure == HEADLINE[0]) & (summary.state == HEADLINE[1])]
    model_rows = headline[headline.method == MODEL]
    baseline_rows = headline[
        headline.method.isin(PROBABILISTIC_BASELINES) & (headline.horizon == "all")
    ]
    chart = pd.concat([model_rows, baseline_rows], ignore_index=True)
    chart["label"] = [_chart_label(row) for _, row in chart.iterrows()]
    failed = [str(y) for y, ok in passed.items() if not ok]
    flag = f" (fits FAILED diagnostics: {', '.join(failed)})" if failed else ""
    plot_coverage(chart, str(out / "coverage"), f"{title}: back-test coverage{flag}")
    (out / "fits.json").write_text(json.dumps({str(k): v for k, v in passed.items()}) + "\n")
    return summary


def _chart_label(row: pd.Series) -> str:
    """A coverage chart series' label: method, horizon and skill with its standard error."""
    when = "all horizons" if row.horizon == "all" else f"{row.horizon} year(s) ahead"
    return f"{row.method}, {when}: skill {row.crps_skill:.2f} ± {row.crps_skill_se:.2f}"


def point_scores(cells: np.ndarray, observed: np.ndarray) -> pd.DataFrame:
    """``score_cells`` of point forecasts [K]: the error of the median only (no CRPS, no
    coverage: missing)."""
    table = score_cells(np.asarray(cells, dtype=float).reshape(-1, 1), observed)
    table["crps"] = np.nan
    for column in [c for c in table.columns if c.startswith("covered_")]:
        table[column] = pd.array([pd.NA] * len(table), dtype="Float64")
    return table


def _cut_observations(folder: Path, out: Path, origin: int) -> Path:
    """The observation files cut at 31 March ``origin`` (monthly rows; DfE's annual figures
    of the years kept)."""
    out.mkdir(parents=True, exist_ok=True)
    last = f"{origin}-03-31"
    for name in OBSERVATION_FILES:
        path = folder / name
        if path.is_file():
            table = pd.read_csv(path, dtype={"value": "int64"}, keep_default_na=False)
            table[table.period <= last].to_csv(out / name, index=False, lineterminator="\n")
    return out


def _score_origin(
    full: FitData,
    fitted: FitData,
    trace: object,
    origin: int,
    horizon_years: int,
    n_draws: int,
    reference: int,
    seed: int,
) -> pd.DataFrame:
    """Scores of the model and the baselines for one origin, every later 31 March observed."""
    later = [(h, march_index(full, origin + h)) for h in range(1, horizon_years + 1)]
    later = [(h, row) for h, row in later if row is not None]
    months = 12 * later[-1][0]
    states = [*full.states, TOTAL]
    care = full.network.care
    observed = np.stack([with_total(full.stock[row].sum(axis=1), care) for _, row in later])
    draws = model_draws(trace, months, n_draws, seed, origin)  # [N, H months, S + 1]
    model = draws[:, [12 * h - 1 for h, _ in later]]  # [N, len(later), S + 1]
    rows_before = [march_index(full, year) for year in range(int(_opening(full)[:4]), origin + 1)]
    history = np.stack(
        [with_total(full.stock[row].sum(axis=1), care) for row in rows_before if row is not None]
    )  # [31 Marches up to the origin, S + 1]
    horizon = later[-1][0]
    picks = [h - 1 for h, _ in later]
    month_picks = [12 * h - 1 for h, _ in later]
    columns = range(len(states))
    forecasts = {
        "carecast": model.transpose(1, 2, 0),  # [len(later), S + 1, N]
        **_probabilistic_baselines(full, origin, care, months, month_picks),
        "last_value": np.stack([last_value(history[:, s], horizon) for s in columns], axis=1),
        "linear_trend": np.stack([linear_trend(history[:, s], horizon) for s in columns], axis=1),
        "fixed_rates": with_total(_fixed_rates(fitted, months, reference), care)[month_picks],
    }
    for method in ("last_value", "linear_trend"):
        forecasts[method] = forecasts[method][picks]
    rows = []
    for method in METHODS:
        values = forecasts[method]
        if method in POINT_BASELINES:
            table = point_scores(values, observed.ravel())
        else:
            table = score_cells(values.reshape(len(later) * len(states), -1), observed.ravel())
        table.insert(0, "state", np.tile(states, len(later)))
        table.insert(0, "horizon", np.repeat([h for h, _ in later], len(states)))
        table.insert(0, "method", method)
        rows.append(table)
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "measure", "stock")
    frame.insert(0, "origin", origin)
    return frame


def _probabilistic_baselines(
    full: FitData, origin: int, care: np.ndarray, months: int, picks: list[int]
) -> dict[str, np.ndarray]:
    """Each probabilistic baseline's [len(picks), S + 1, n] quantiles of the stock per state
    at the month ends ``picks`` (0 = the first month after the origin), from the monthly
    stock up to 31 March ``origin`` (NaN where a baseline cannot be built)."""
    stock = with_total(full.stock[: march_index(full, origin) + 1].sum(axis=2), care)
    out: dict[str, list[np.ndarray]] = {name: [] for name in PROBABILISTIC_BASELINES}
    for series in stock.T.astype(float):
        try:
            out["naive_walk"].append(naive_walk(series, months)[picks])
        except ValueError:  # too short to estimate its volatility
            out["naive_walk"].append(np.full((len(picks), QUANTILE_POINTS), np.nan))
        for name, quantiles in statistical_forecasts(series, months).items():
            out[name].append(quantiles[picks])
    return {name: np.stack(values, axis=1) for name, values in out.items()}


def with_total(stock: np.ndarray, care: np.ndarray) -> np.ndarray:
    """[..., S] children by state -> [..., S + 1] with the care total last."""
    return np.concatenate([stock, stock[..., care].sum(axis=-1, keepdims=True)], axis=-1)


def model_draws(trace: object, months: int, n_draws: int, seed: int, origin: int) -> np.ndarray:
    """[N, months, S + 1] the model's baseline forecast of the stock at each month end."""
    rng = np.random.default_rng(derive_seed(seed, "backtest", str(origin)))
    inputs = draw_inputs(trace, months, n_draws, rng)
    layout = inputs.layout
    changes = build_changes([], layout, inputs.month_ends)
    sim = simulate(
        layout.last_stock, inputs.odds, inputs.drift, inputs.year_of_month, inputs.log_entries,
        inputs.dispersion, inputs.composition, inputs.landing, inputs.feedback,
        layout.caseload_mean, layout.network, changes,
        derive_seed(seed, "backtest", str(origin), "sim"),
    )  # fmt: skip
    return sim.stock[:, 0]


def _fixed_rates(data: FitData, months: int, reference: int) -> np.ndarray:
    """[months, S] children per state at each month end, projected on expected values with
    the monthly rates of the last ``reference`` years fitted held fixed."""
    years = slice(max(0, len(data.windows) - reference), len(data.windows))
    counts = data.counts[years].sum(axis=0)  # [S, B, D]
    at_risk = np.maximum(counts.sum(axis=-1, keepdims=True), 1)
    probability = counts / at_risk  # [S, B, D], d = 0 staying
    in_window = np.isin(data.month_window, np.arange(len(data.windows))[years])
    entries = data.entries[in_window].mean(axis=0)  # [K] a month
    shares = data.composition / np.maximum(data.composition.sum(axis=(1, 2), keepdims=True), 1)
    arrivals = np.einsum("k,ksb->sb", entries, shares)  # [S, B] a month
    landing = (
        data.landing_case / np.maximum(data.landing_total, 1)
        if len(data.landing_total)
        else np.zeros(len(data.reasons))
    )
    cin = data.network.cin
    x = data.stock[-1].astype(float)
    out = np.zeros((months, len(data.states)))
    for t in range(months):
        # As the simulator does: entries and the children moving in during the month are at
        # risk of leaving in it (three rounds leave a negligible remainder to stay).
        new = np.zeros_like(x)
        pool = x + arrivals
        for _ in range(3):
            new += pool * probability[..., 0]
            pool = _routed(pool, probability, data, landing, cin)
        x = new + pool
        out[t] = x.sum(axis=1)
    return out


def _routed(
    pool: np.ndarray, probability: np.ndarray, data: FitData, landing: np.ndarray, cin: int
) -> np.ndarray:
    """[S, B] expected children arriving in each cell from ``pool``'s departures: moves,
    ageing (the last band's leave care at 18) and exits landing in an open case."""
    net = data.network
    routed = np.zeros(pool.shape)
    for d in range(1, len(net.destinations)):
        moving = pool * probability[..., d]  # [S, B]
        if net.kind[d] == KIND_MOVE:
            routed[net.state[d]] += moving.sum(axis=0)
        elif net.kind[d] == KIND_AGE:
            routed[:, 1:] += moving[:, :-1]
        elif net.kind[d] == KIND_EXIT and cin >= 0:
            routed[cin] += landing[net.reason[d]] * moving.sum(axis=0)
    return routed
