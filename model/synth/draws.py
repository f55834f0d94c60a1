"""Fast scalar random draws for the per-child simulation loop.

numpy's Generator costs microseconds per scalar call, and the simulation makes millions of
them. ``Draws`` takes uniforms from the generator in blocks and serves them one at a time,
so results stay a pure function of the seed.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

import numpy as np

BLOCK = 1 << 16


@lru_cache(maxsize=1024)
def _cumulative(weights: tuple[float, ...]) -> tuple[list[float], float]:
    cum = list(accumulate(weights))
    return cum, cum[-1]


class Draws:
    """Scalar draws from a seeded numpy Generator (kept for vector draws as ``.rng``)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._buffer: list[float] = []
        self._next = 0

    def random(self) -> float:
        """A uniform draw on [0, 1)."""
        if self._next >= len(self._buffer):
            self._buffer = self.rng.random(BLOCK).tolist()
            self._next = 0
        value = self._buffer[self._next]
        self._next += 1
        return value

    def integers(self, low: int, high: int) -> int:
        """A uniform integer in [low, high)."""
        return low + int(self.random() * (high - low))

    def uniform(self, low: float, high: float) -> float:
        """A uniform draw on [low, high)."""
        return low + self.random() * (high - low)

    def pick[T](self, options: tuple[T, ...], weights: tuple[float, ...]) -> T:
        """One of ``options`` with probability proportional to ``weights``."""
        cum, total = _cumulative(weights)
        return options[min(bisect_right(cum, self.random() * total), len(options) - 1)]

    def poisson(self, mean: float) -> int:
        """A Poisson count with the given mean."""
        return int(self.rng.poisson(mean))
