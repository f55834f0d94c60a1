"""Write ``kernel_reference.npz``: the simulator's baseline under fixed parameters, as the
kernel drew it before its random numbers were keyed by event (commit 0172b3a).

``tests/test_coupled_scenarios.py`` checks that today's kernel draws the same distribution.
To reproduce the file: check out 0172b3a in a worktree, copy this script there and run
``uv run python make_kernel_reference.py POSTERIOR OUT.npz`` on the posterior of the tests'
shared small fit (``tests/conftest.py``; any per-authority posterior works the same way).
"""

import sys

import numpy as np

from model.fit.run import load_posterior
from model.forecast.inputs import draw_inputs
from model.forecast.simulate import network, no_changes, simulate

DRAWS, HORIZON, SEED = 4000, 60, 20240401
MONTHS = np.array([0, 5, 11, 23, 59])
"""Months kept (index): the first, after six months, one, two and five years."""


def main(posterior: str, out: str) -> None:
    inputs = draw_inputs(load_posterior(posterior), HORIZON, 1, np.random.default_rng(3))
    layout = inputs.layout
    net = network(
        layout.states, layout.care_states, layout.destinations, layout.reasons, inputs.classes
    )
    shape = (len(layout.states), len(layout.destinations), inputs.log_entries.shape[2])
    changes = no_changes(1, HORIZON, shape, 1e9, float("nan"))

    def tile(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, DRAWS, axis=0)

    # One parameter set for every draw: the spread is the process noise alone.
    params = {
        "odds": tile(inputs.odds), "drift": tile(inputs.drift),
        "year_of_month": inputs.year_of_month, "log_entries": tile(inputs.log_entries),
        "dispersion": tile(inputs.dispersion), "composition": tile(inputs.composition),
        "landing": tile(inputs.landing),
    }  # fmt: skip
    feedback = {k: tile(v) for k, v in inputs.feedback.items()}
    sim = simulate(
        layout.last_stock, params["odds"], params["drift"], params["year_of_month"],
        params["log_entries"], params["dispersion"], params["composition"],
        params["landing"], feedback, layout.caseload_mean, net, changes, SEED,
    )  # fmt: skip
    np.savez_compressed(
        out,
        stock=sim.stock[:, 0, MONTHS, :].astype(np.int16),
        months=MONTHS,
        start=layout.last_stock,
        odds=inputs.odds[0], drift=inputs.drift[0], year_of_month=inputs.year_of_month,
        log_entries=inputs.log_entries[0], dispersion=inputs.dispersion[0],
        composition=inputs.composition[0], landing=inputs.landing[0],
        feedback=np.array([inputs.feedback[k][0] for k in sorted(inputs.feedback)]),
        feedback_names=np.array(sorted(inputs.feedback)),
        caseload_mean=layout.caseload_mean,
        states=np.array(layout.states), care_states=np.array(layout.care_states),
        destinations=np.array(layout.destinations), reasons=np.array(layout.reasons),
        classes=inputs.classes,
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
