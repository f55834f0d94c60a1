"""What each candidate predictor could add to a forecast of the children looked after.

The ablation behind issue 14's part 2, done cheaply: instead of refitting the national model
once per candidate (about 20 minutes a back-test), a pooled linear forecaster of next year's
change in each authority's children looked after at 31 March is fitted by least squares on
the years before each origin and scored like a back-test method, one row per candidate on
its own and one with every candidate together. Every row shares the naive random walk's
scale (each authority's own year-on-year standard deviation of its stock, times the square
root of the horizon) and differs from it only in its mean: a row's skill is the information
its predictors carry about the next years' mean, on the same cells as every other row.

Candidates, each measured at the origin year (standardised by the authority's scale):
``momentum`` (last year's change), ``reversion_england`` (log of the rate per 10,000
children over England's) and ``reversion_own`` (distance from the authority's own mean),
``age_16_plus`` and ``uasc`` (children aged 16 and over, and unaccompanied asylum-seeking
children, at 31 March: `data/published/cla/cla_31_march_by_age_and_uasc_2010_2025.csv.gz`,
published for authorities in 2011-2017 and 2020-2021), ``remainder`` (the stock identity's
remainder, mean of the last three years), ``funnel`` (change in children on a plan and in
need, and in referrals), ``starters_trend`` (last year's change in starters).

    uv run python benchmarks/stock_predictors.py [--published results/national]
        [--carecast-scores DIR/scores.csv] [--origins 2013-2017]

``--published``: an ``ingest published`` folder (ingested from ``data/published`` if not
given). ``--carecast-scores``: a national back-test's ``scores.csv``, to put carecast's own
skill on the same cells beside the candidates. Origins default to 2013-2017, the origins
whose authorities have an age breakdown at 31 March (the 2018 one is not published).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from model.evaluate.backtest_national import published_history
from model.evaluate.scores import score_cells
from model.evaluate.skill import MODEL, skill_summary
from model.fit.published_data import PublishedData, published_data, read_published

AGE_PANEL = Path("data/published/cla/cla_31_march_by_age_and_uasc_2010_2025.csv.gz")
QUANTILES = (np.arange(200) + 0.5) / 200
CANDIDATES = {
    "momentum": ["momentum"],
    "reversion_england": ["reversion_england"],
    "reversion_own": ["reversion_own"],
    "age_16_plus": ["age_16_plus"],
    "uasc": ["uasc"],
    "remainder": ["remainder"],
    "funnel": ["on_plan_change", "in_need_change", "referrals_change"],
    "starters_trend": ["starters_trend"],
}
HORIZON = 3


def _published(folder: Path | None) -> PublishedData:
    """The national model's arrays of an ``ingest published`` folder (ingesting the bundled
    tables into a temporary folder when none is given)."""
    if folder is None:
        from model.ingestpub import ingest_published

        folder = Path(tempfile.mkdtemp()) / "published"
        ingest_published(Path("data/published"), folder)
    return published_data(*read_published(folder))


def _age_panel(data: PublishedData) -> dict[str, np.ndarray]:
    """[A, Y] children aged 16 and over and UASC at 31 March per unit (NaN: not published or
    suppressed; a combined unit is the sum of its members where all are published)."""
    panel = pd.read_csv(AGE_PANEL, dtype=str)
    panel = panel[panel["geographic_level"] == "Local authority"]
    panel = panel.assign(value=pd.to_numeric(panel["number"], errors="coerce"))
    wanted = {"16 years and over": "age_16_plus", "UASC": "uasc"}
    panel = panel[panel["category"].isin(wanted)]
    out = {}
    for category, name in wanted.items():
        table = panel[panel["category"] == category].pivot_table(
            index="new_la_code", columns="time_period", values="value", aggfunc="sum", dropna=False
        )
        table.columns = table.columns.astype(int)
        grid = np.full((len(data.units), len(data.years)), np.nan)
        for a, unit in enumerate(data.units):
            codes = data.members.get(unit, [unit])
            if not all(c in table.index for c in codes):
                continue
            for y, year in enumerate(data.years):
                if year in table.columns:
                    grid[a, y] = table.loc[codes, year].sum(min_count=len(codes))
        out[name] = grid
    return out


def _lag(x: np.ndarray, k: int = 1) -> np.ndarray:
    """[A, Y] ``x`` shifted ``k`` years later (NaN where there is no earlier year)."""
    out = np.full_like(x, np.nan)
    out[:, k:] = x[:, :-k]
    return out


def _features(
    data: PublishedData, scale: np.ndarray, ages: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """[A, Y] each predictor at each year, in units of the authority's scale (children);
    ``ages``: :func:`_age_panel`'s."""
    stock = published_history(data, "looked_after")
    started = published_history(data, "started")
    ceased = published_history(data, "ceased")
    remainder = stock - _lag(stock) - started + ceased
    rate = stock / data.population
    england = np.nansum(stock, axis=0) / np.nansum(
        np.where(np.isfinite(stock), data.population, 0), 0
    )
    s = scale[:, None]
    own_mean = np.cumsum(np.nan_to_num(stock), 1) / np.maximum(np.cumsum(np.isfinite(stock), 1), 1)
    rolling_remainder = pd.DataFrame(remainder.T).rolling(3, min_periods=2).mean().to_numpy().T
    feats = {
        "stock": stock / s,
        "momentum": (stock - _lag(stock)) / s,
        "reversion_england": np.log(np.where(rate > 0, rate, np.nan) / england[None, :]),
        "reversion_own": (stock - own_mean) / s,
        "age_16_plus": ages["age_16_plus"] / s,
        "uasc": ages["uasc"] / s,
        "remainder": rolling_remainder / s,
        "starters_trend": (started - _lag(started)) / s,
    }
    for name in ("on_plan", "in_need", "referrals"):
        if name in data.series:
            series = published_history(data, name)
            feats[f"{name}_change"] = (series - _lag(series)) / s
    return feats


def _fit(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Least squares coefficients of ``z`` [n] on an intercept and ``x`` [n, k]."""
    design = np.column_stack([np.ones(len(z)), x])
    return np.linalg.lstsq(design, z, rcond=None)[0]


def run(data: PublishedData, origins: list[int]) -> pd.DataFrame:
    """Scores (rows as the back-tests write them) of the naive walk, the last value and
    each candidate forecaster, on the cells where every predictor is available."""
    years = list(data.years)
    stock = published_history(data, "looked_after")
    rows = []
    every = sorted({f for fs in CANDIDATES.values() for f in fs})
    variants = {"drift_only": []} | CANDIDATES | {"all": every}
    ages = _age_panel(data)  # read once: it does not depend on the origin
    for origin in origins:
        o = years.index(origin)
        steps = np.diff(stock[:, : o + 1], axis=1)
        scale = np.array(
            [
                np.nanstd(r[np.isfinite(r)], ddof=1) if np.isfinite(r).sum() > 1 else np.nan
                for r in steps
            ]
        )
        feats = _features(data, scale, ages)
        target = (np.roll(stock, -1, axis=1) - stock) / scale[:, None]
        target[:, -1] = np.nan
        usable = np.isfinite(scale) & (scale > 0)
        available = np.all([np.isfinite(feats[f]) for f in every], axis=0)
        train = usable[:, None] & available & np.isfinite(target)
        train[:, o:] = False  # a change from year t is known at the origin only if t + 1 <= origin
        score_rows = usable & available[:, o] & np.isfinite(stock[:, o])
        for h in range(1, HORIZON + 1):
            if o + h >= len(years):
                continue
            observed = stock[score_rows, o + h]
            last = stock[score_rows, o]
            sd = scale[score_rows] * np.sqrt(h)
            for name, cols in [("naive_walk", None), *variants.items()]:
                if cols is None:
                    mean, spread = last, sd
                else:
                    x = (
                        np.stack([feats[c][train] for c in cols], 1)
                        if cols
                        else np.empty((train.sum(), 0))
                    )
                    beta = _fit(x, target[train])
                    xo = (
                        np.stack([feats[c][score_rows, o] for c in cols], 1)
                        if cols
                        else np.empty((score_rows.sum(), 0))
                    )
                    step = np.column_stack([np.ones(len(xo)), xo]) @ beta
                    # Features held at the origin's values: h years of the same expected step.
                    mean, spread = last + h * step * scale[score_rows], sd
                draws = np.clip(
                    mean[:, None] + spread[:, None] * stats.norm.ppf(QUANTILES)[None, :], 0, None
                )
                table = score_cells(draws, observed)
                rows.append(
                    table.assign(
                        authority=np.array(data.units)[score_rows],
                        origin=origin,
                        horizon=h,
                        method=name,
                    )
                )
            table = score_cells(last[:, None].astype(float), observed).assign(crps=np.nan)
            rows.append(
                table.assign(
                    authority=np.array(data.units)[score_rows],
                    origin=origin,
                    horizon=h,
                    method="last_value",
                )
            )
    return pd.concat(rows, ignore_index=True).assign(measure="stock", state="total")


def gains(scores: pd.DataFrame, against: str = "drift_only", seed: int = 0) -> pd.DataFrame:
    """Each method's skill gain over ``against`` (``(sum CRPS(against) - sum CRPS(method)) /
    sum CRPS(naive walk)`` on the cells both scored), with its standard error from a paired
    bootstrap over authorities (1,000 resamples)."""
    crps = scores.pivot_table(
        index=["authority", "origin", "horizon"], columns="method", values="crps"
    ).dropna(axis=0, subset=[against, "naive_walk"])
    per_unit = crps.groupby(level="authority").sum(min_count=1)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(per_unit), np.full(len(per_unit), 1 / len(per_unit)), 1000)
    rows = []
    for method in per_unit.columns.drop(["naive_walk", against]):
        table = per_unit[[method, against, "naive_walk"]].dropna().to_numpy()
        point = (table[:, 1].sum() - table[:, 0].sum()) / table[:, 2].sum()
        sums = weights[:, : len(table)] @ table
        spread = (sums[:, 1] - sums[:, 0]) / sums[:, 2]
        rows.append({"method": method, "gain": point, "gain_se": float(np.std(spread))})
    return pd.DataFrame(rows).round(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--published", type=Path)
    parser.add_argument("--carecast-scores", type=Path)
    parser.add_argument("--origins", default="2013-2017")
    args = parser.parse_args()
    first, last = (int(v) for v in args.origins.split("-"))
    data = _published(args.published)
    scores = run(data, list(range(first, last + 1)))
    if args.carecast_scores:
        theirs = pd.read_csv(args.carecast_scores)
        theirs = theirs[
            (theirs["method"] == "carecast")
            & (theirs["measure"] == "stock")
            & (theirs["state"] == "total")
        ]
        cells = scores[scores["method"] == "naive_walk"][["authority", "origin", "horizon"]]
        theirs = theirs.merge(cells, on=["authority", "origin", "horizon"])
        scores = pd.concat([scores, theirs], ignore_index=True)
    else:
        # The summary compares methods on the cells carecast scored: every cell here.
        stand_in = scores[scores["method"] == "drift_only"].assign(method=MODEL)
        scores = pd.concat([scores, stand_in], ignore_index=True)
    pd.set_option("display.width", 200)
    for by in ([], ["horizon"]):
        summary = skill_summary(scores, by, cluster="authority")
        shown = {"last_value"} | (set() if args.carecast_scores else {MODEL})
        summary = summary[~summary["method"].isin(shown)]
        cols = [
            *by,
            "method",
            "cells",
            "crps_skill",
            "crps_skill_se",
            "abs_error_ratio",
            "coverage_80",
            "coverage_90",
        ]
        print(summary[cols].round(3).to_string(index=False))
    print("skill gained over the drift alone:")
    print(gains(scores).to_string(index=False))


if __name__ == "__main__":
    main()
