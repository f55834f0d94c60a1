"""Prior and posterior predictive checks: simulate the observations from parameter draws and
set them beside what was observed.

For each draw, the yearly counts leaving each state by destination (summed over age bands)
are simulated from the model's multinomial given the observed children at risk, and the
yearly entries of each stream from its negative binomial. The table gives, per cell, the
observed count, the predicted median and the central interval; ``covered`` says whether the
observation falls inside. With a well-specified model about ``interval`` of the cells are
covered under the posterior; under the prior the intervals are wide (the prior is weak).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.fit.data import FitData
from model.fit.likelihood import knot_weights


def predictive_check(
    data: FitData, draws: dict[str, np.ndarray], rng: np.random.Generator, interval: float
) -> pd.DataFrame:
    """Observed against simulated counts: one row per (window, kind, state, destination)."""
    net = data.network
    eta = draws["eta"]  # [N, P, B]
    drift = draws.get("drift", np.zeros((len(eta), len(data.windows), len(data.states))))
    p = net.probabilities(eta, drift)  # [N, W, S, B, D]
    n_draws = len(p)
    at_risk = np.broadcast_to(data.at_risk, p.shape[:-1])
    simulated = rng.multinomial(at_risk, p)  # [N, W, S, B, D]
    leaving = simulated[..., 1:].sum(axis=3)  # summed over bands: [N, W, S, D-1]
    observed = data.counts[..., 1:].sum(axis=2)
    rows = []
    allowed = net.pair_allowed[:, 1:]
    for w, window in enumerate(data.windows):
        for s, state in enumerate(data.states):
            for d in np.flatnonzero(allowed[s]):
                rows.append(
                    (window, "transition", state, data.destinations[d + 1],
                     observed[w, s, d], leaving[:, w, s, d])
                )  # fmt: skip
    weights, _ = knot_weights(len(data.months))
    log_mu = draws["entry_level"][:, None, :] + np.einsum(
        "tj,njk->ntk", weights, draws["entry_walk"]
    )
    phi = draws["entry_dispersion"][:, None, :]
    mu = np.exp(log_mu)
    entries = rng.negative_binomial(phi, phi / (phi + mu))  # [N, T, K]
    for w, window in enumerate(data.windows):
        months = data.month_window == w
        for k, stream in enumerate(data.streams):
            rows.append(
                (window, "entries", stream, "", data.entries[months, k].sum(),
                 entries[:, months, k].sum(axis=1))
            )  # fmt: skip
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    table = pd.DataFrame(
        [
            (w, kind, state, dest, int(obs), float(np.median(sim)), float(np.quantile(sim, lo)),
             float(np.quantile(sim, hi)))
            for w, kind, state, dest, obs, sim in rows
        ],
        columns=["window", "kind", "state", "destination", "observed", "median", "lower",
                 "upper"],
    )  # fmt: skip
    table["covered"] = (table.observed >= table.lower) & (table.observed <= table.upper)
    table.attrs["draws"] = n_draws
    return table


def plot_check(table: pd.DataFrame, path: str, title: str) -> None:
    """Observed against the predicted interval, one panel per kind (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(table.kind))
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 5), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        part = table[table.kind == kind]
        x = np.arange(len(part))
        ax.vlines(x, part.lower, part.upper, color="tab:blue", alpha=0.5, label="interval")
        ax.scatter(x, part.observed, s=8, color="black", label="observed", zorder=3)
        ax.set_yscale("symlog")
        ax.set_title(f"{kind}: {part.covered.mean():.0%} of cells covered")
        ax.set_xlabel("cell (year x state x destination)")
        ax.set_ylabel("count")
        ax.legend(loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
