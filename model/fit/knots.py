"""The yearly knots of the model's time-varying terms (entry walk, drift): months as linear
interpolations between the knots. Shared by the likelihood and the forecast, which must not
need PyMC to continue the walks."""

from __future__ import annotations

import numpy as np


def knot_weights(n_months: int) -> tuple[np.ndarray, int]:
    """([T, J] linear interpolation weights of month t between yearly knots, J)."""
    position = np.arange(n_months) / 12.0
    n_knots = int(np.floor(position[-1])) + 2 if n_months else 1
    weights = np.zeros((n_months, n_knots))
    left = np.floor(position).astype(int)
    frac = position - left
    weights[np.arange(n_months), left] = 1 - frac
    weights[np.arange(n_months), left + 1] = frac
    return weights, n_knots
