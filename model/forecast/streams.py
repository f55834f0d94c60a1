"""Random numbers keyed by the event they decide, and counts drawn from them by inversion.

A scenario's difference from the baseline should be the change's effect, not two
independent runs' noise. So no random number depends on how many came before it: each is a
hash of what it decides — the seed, the draw, the month, the kind of event (a tag) and up to
three integers that say which one (a cell, a round, a destination, a stream) — through
SplitMix64's finaliser (Steele, Lea and Flood 2014), a bijection of 64-bit integers whose
outputs pass BigCrush as a counter-based generator. A change that alters one count leaves
every other event's random number where it was.

Counts are drawn by inversion: the smallest ``k`` whose cumulative probability reaches the
event's uniform ``u``. For the same ``u`` the count is then monotone in the distribution's
stochastic order: a binomial's count never falls when its ``n`` or ``p`` rises, a Poisson's
when its mean rises. A scenario that lowers a rate therefore takes, event by event, no more
children along that flow than the baseline. Above a small mean the inversion walks from
the mode and sums the distribution below it only as far as the answer needs (a bound on
the rest decides the comparison), so its cost grows with the standard deviation, not the
mean, and it stays exact for large counts (no normal approximation). A count drawn many
times with one probability can take it prepared once (:func:`prepare_binomial`,
:func:`prepare_split`): the same numbers, so the same counts.

Gamma variates (the negative binomial's mixing) use Marsaglia and Tsang's method on a
keyed sequence of uniforms; they depend only on the key and the shape, so a scenario that
scales a stream's mean scales the same gamma variate.

Everything here is compiled with numba (``cache=True``) and called from the simulator's
kernel (:mod:`model.forecast.simulate`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_NEGLIGIBLE = 1e-17
"""A probability term this small against the cumulative sum ends a walk: nothing beyond it
can change a double's comparison with a uniform."""
_SMALL_MEAN = 20.0
"""Below this mean a count is inverted from zero (cheaper: no log-gamma), above it from the
mode (the probability of zero could underflow)."""

# The small functions called from many places with constant arguments are compiled for one
# signature each, given here: without it numba compiles one specialisation per distinct
# constant (a tag, a count of 0 or 1), each a few tenths of a second of cold compile.
_INVERSION = "int64(float64, int64, float64, int64, float64)"

# Tags of the events the simulator keys (one per kind of random decision).
TAG_GAMMA, TAG_ENTRIES, TAG_ENTRY_CELL, TAG_LEAVE, TAG_DESTINATION, TAG_LANDING = range(1, 7)
TAG_ADD_ROUND, TAG_ADD_PICK = 7, 8


@numba.njit(cache=True, inline="always")
def _mix(z):  # pragma: no cover - compiled
    """SplitMix64's finaliser: a bijection of uint64 that scatters nearby inputs."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True)
def month_key(seed, draw, month):  # pragma: no cover - compiled
    """The part of every key a draw's month shares (hashed once a month, not per event)."""
    h = _mix(np.uint64(seed) + _GOLDEN)
    h = _mix(h ^ (np.uint64(draw) + _GOLDEN))
    return _mix(h ^ (np.uint64(month) + _GOLDEN))


@numba.njit("uint64(uint64, int64, int64, int64, int64)", cache=True)
def key_in_month(prefix, tag, i, j, k):  # pragma: no cover - compiled
    """The key of one event of the month whose :func:`month_key` is ``prefix``: ``tag``
    (``TAG_*``) and ``i``, ``j``, ``k`` (non-negative integers saying which event of its
    kind: a cell, a round, a destination, a stream)."""
    h = _mix(prefix ^ (np.uint64(tag) + _GOLDEN))
    h = _mix(h ^ (np.uint64(i) + _GOLDEN))
    h = _mix(h ^ (np.uint64(j) + _GOLDEN))
    return _mix(h ^ (np.uint64(k) + _GOLDEN))


@numba.njit(cache=True)
def event_key(seed, draw, month, tag, i, j, k):  # pragma: no cover - compiled
    """The 64-bit key of one event: ``seed`` and ``draw`` (which stream of the run), ``month``
    (index), then as :func:`key_in_month`."""
    return key_in_month(month_key(seed, draw, month), tag, i, j, k)


@numba.njit("float64(uint64, int64)", cache=True)
def uniform(key, index):  # pragma: no cover - compiled
    """The ``index``-th uniform of an event's key, in (0, 1) (never exactly 0 or 1)."""
    h = _mix(key + np.uint64(index + 1) * _GOLDEN)
    return (float(h >> _S11) + 0.5) * _UNIT


@numba.njit(cache=True, inline="always")
def _up(k, n, a):  # pragma: no cover - compiled
    """P(X = k + 1) / P(X = k): binomial(``n``, odds ``a``), or Poisson(mean ``a``) if n < 0."""
    if n < 0:
        return a / (k + 1)
    return (n - k) * a / (k + 1)


@numba.njit(_INVERSION, cache=True)
def _invert(u, start, f_start, n, a):  # pragma: no cover - compiled
    """The smallest k with P(X <= k) >= ``u``, walking from ``start`` (P(X = start) =
    ``f_start``; :func:`_up` gives the distribution): P(X <= start) summed downwards until
    the terms no longer count, then a walk down or up from ``start``."""
    cdf = f_start
    f = f_start
    j = start
    while j > 0:
        f /= _up(j - 1, n, a)
        j -= 1
        cdf += f
        if f < cdf * _NEGLIGIBLE:
            break
    f = f_start
    k = start
    if u <= cdf:
        while k > 0:
            below = cdf - f
            if below < u:
                break
            f /= _up(k - 1, n, a)
            cdf = below
            k -= 1
        return k
    while n < 0 or k < n:
        f *= _up(k, n, a)
        k += 1
        cdf += f
        if cdf >= u or (f < cdf * _NEGLIGIBLE and k > start):
            break
    return k


@numba.njit(cache=True, inline="always")
def _below(i, f_i, n, a):  # pragma: no cover - compiled
    """A bound on P(X < ``i``) from P(X = ``i``) = ``f_i``, for ``i`` at or below the mode:
    the ratio of a term to the one above, ``1 / _up``, only falls further down (binomial and
    Poisson are log-concave), so the tail is at most the geometric series of the first
    ratio. Infinite where that ratio is 1 or more (at the mode)."""
    if i <= 0:
        return 0.0
    g = _up(i - 1, n, a)
    if g <= 1.0:
        return math.inf
    return f_i / (g - 1.0)


@numba.njit(_INVERSION, cache=True)
def _invert_lazy(u, start, f_start, n, a):  # pragma: no cover - compiled
    """:func:`_invert`'s count, summing P(X <= k) below ``start`` only as far as the
    answer needs. The terms below the lowest one summed weigh at most :func:`_below`, so
    P(X <= k) lies between the partial sum and the partial sum plus that bound: once ``u``
    falls outside the interval the comparison is decided, and the sum goes no further (the
    full sum runs some nine standard deviations below the mode; this one stops, for most
    ``u``, two or three below the answer). The terms are the same recurrences from
    ``start`` as :func:`_invert`'s, so the two agree unless ``u`` lies within rounding
    (about 1e-13 of the probability, from ``f_start``'s log-gamma) of a step of the
    distribution function, where neither is more exact than the other."""
    k = start
    f_k = f_start
    low = start  # the lowest term summed, and its value
    f_low = f_start
    part = f_start  # P(low <= X <= k)
    tail = _below(low, f_low, n, a)  # at least P(X < low)
    # Up to the first k whose P(X <= k) surely reaches u.
    while part < u:
        if part + tail < u or tail < part * _NEGLIGIBLE:
            if 0 <= n <= k:
                return k
            f_k *= _up(k, n, a)
            k += 1
            part += f_k
            if f_k < part * _NEGLIGIBLE:
                return k  # nothing above can matter: as _invert, against rounding
            continue
        low -= 1
        f_low /= _up(low, n, a)
        part += f_low
        tail = _below(low, f_low, n, a)
    # Down while P(X <= k - 1) still reaches u.
    while k > 0:
        if low == k:
            low -= 1
            f_low /= _up(low, n, a)
            part += f_low
            tail = _below(low, f_low, n, a)
        below = part - f_k
        if below >= u:
            f_k /= _up(k - 1, n, a)
            k -= 1
            part = below
            continue
        if below + tail < u or tail < below * _NEGLIGIBLE:
            return k
        low -= 1
        f_low /= _up(low, n, a)
        part += f_low
        tail = _below(low, f_low, n, a)
    return k


@numba.njit(cache=True)
def binomial(n, p, u):  # pragma: no cover - compiled
    """Binomial(``n``, ``p``) by inversion of ``u``: the smallest k with P(X <= k) >= u.
    Monotone: never smaller for a larger ``n`` or ``p`` at the same ``u``, and ``n`` minus it
    never smaller for a larger ``n``. Below :data:`_SMALL_MEAN` it walks from zero (no
    log-gamma), above from the mode (the probability of zero could underflow)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n * p < _SMALL_MEAN:
        return _invert(u, 0, math.exp(n * math.log1p(-p)), n, p / (1.0 - p))
    mode = min(int((n + 1) * p), n)
    f_mode = math.exp(
        math.lgamma(n + 1.0) - math.lgamma(mode + 1.0) - math.lgamma(n - mode + 1.0)
        + mode * math.log(p) + (n - mode) * math.log1p(-p)
    )  # fmt: skip
    return _invert_lazy(u, mode, f_mode, n, p / (1.0 - p))


@numba.njit(cache=True)
def prepare_binomial(p, row):  # pragma: no cover - compiled
    """Fill ``row`` [4] with what :func:`binomial_prepared` needs of probability ``p``:
    ``p``, ``log1p(-p)``, the odds ``p / (1 - p)`` and ``log(p)`` (worked out once for
    the many counts drawn with one probability: the same numbers :func:`binomial` works out
    on every call, so the counts are the same)."""
    row[0] = p
    row[1] = row[2] = row[3] = 0.0
    if 0.0 < p < 1.0:
        row[1] = math.log1p(-p)
        row[2] = p / (1.0 - p)
        row[3] = math.log(p)


@numba.njit("int64(int64, float64[::1], float64)", cache=True)
def binomial_prepared(n, row, u):  # pragma: no cover - compiled
    """:func:`binomial` (``n``, ``row[0]``, ``u``), from :func:`prepare_binomial`'s ``row``."""
    p = row[0]
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n * p < _SMALL_MEAN:
        return _invert(u, 0, math.exp(n * row[1]), n, row[2])
    mode = min(int((n + 1) * p), n)
    f_mode = math.exp(
        math.lgamma(n + 1.0) - math.lgamma(mode + 1.0) - math.lgamma(n - mode + 1.0)
        + mode * row[3] + (n - mode) * row[1]
    )  # fmt: skip
    return _invert_lazy(u, mode, f_mode, n, row[2])


@numba.njit(cache=True)
def poisson(mean, u):  # pragma: no cover - compiled
    """Poisson(``mean``) by inversion of ``u`` (monotone in ``mean`` at the same ``u``)."""
    if mean <= 0.0:
        return 0
    if mean < _SMALL_MEAN:
        return _invert(u, 0, math.exp(-mean), -1, mean)
    mode = int(mean)
    f_mode = math.exp(mode * math.log(mean) - mean - math.lgamma(mode + 1.0))
    return _invert_lazy(u, mode, f_mode, -1, mean)


@numba.njit(cache=True)
def standard_gamma(shape, key):  # pragma: no cover - compiled
    """Gamma(``shape``, 1) from the uniforms of ``key`` (Marsaglia and Tsang 2000; for a shape
    below 1, Gamma(shape + 1) times U^(1/shape))."""
    boost = 1.0
    a = shape
    index = 0
    if a < 1.0:
        boost = uniform(key, index) ** (1.0 / a)
        index += 1
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        # A standard normal by Box and Muller from two of the key's uniforms.
        u1 = uniform(key, index)
        u2 = uniform(key, index + 1)
        u3 = uniform(key, index + 2)
        index += 3
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(u3) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost


@numba.njit(cache=True)
def split(total, weights, ids, out, key):  # pragma: no cover - compiled
    """Multinomial ``total`` over ``weights`` (not normalised; [M]) into ``out`` (added to),
    by conditional binomials in index order, category ``i`` inverting
    ``uniform(key, ids[i])`` (``ids``: what each category is, so its number does not depend
    on which other categories are present).
    Each category's count never falls when ``total`` or its own weight rises (the others
    unchanged), and the count left after any prefix never falls when ``total`` rises."""
    remaining_weight = 0.0
    for i in range(weights.size):
        if weights[i] > 0.0:
            remaining_weight += weights[i]
    remaining = total
    for i in range(weights.size):
        if remaining == 0:
            break
        w = weights[i]
        if w <= 0.0:
            continue
        if w >= remaining_weight * (1.0 - 1e-12):
            k = remaining
        else:
            k = binomial(remaining, w / remaining_weight, uniform(key, ids[i]))
        out[i] += k
        remaining -= k
        remaining_weight -= w


@numba.njit(cache=True)
def prepare_split(weights, table):  # pragma: no cover - compiled
    """Fill ``table`` [M, 4] with the conditional binomials :func:`split` draws over
    ``weights`` [M] (:func:`prepare_binomial` rows; probability 0: a category skipped, 1:
    one that takes every child left). They depend on the weights alone, not on the
    counts, so a split of many totals over the same weights works them out once."""
    remaining_weight = 0.0
    for i in range(weights.size):
        if weights[i] > 0.0:
            remaining_weight += weights[i]
    for i in range(weights.size):
        w = weights[i]
        if w <= 0.0:
            prepare_binomial(0.0, table[i])
            continue
        if w >= remaining_weight * (1.0 - 1e-12):
            prepare_binomial(1.0, table[i])
        else:
            prepare_binomial(w / remaining_weight, table[i])
        remaining_weight -= w


@numba.njit(cache=True)
def split_prepared(total, table, ids, out, key):  # pragma: no cover - compiled
    """:func:`split` (``total``, the weights of :func:`prepare_split`'s ``table``, ``ids``,
    ``out``, ``key``): the same counts."""
    remaining = total
    for i in range(table.shape[0]):
        if remaining == 0:
            break
        p = table[i, 0]
        if p <= 0.0:
            continue
        k = remaining  # the last category with weight takes every child left
        if p < 1.0:
            k = binomial_prepared(remaining, table[i], uniform(key, ids[i]))
        out[i] += k
        remaining -= k


@numba.njit(cache=True)
def pick(weights, u):  # pragma: no cover - compiled
    """The index whose share of ``weights`` holds ``u`` (-1: all zero)."""
    total = 0.0
    for i in range(weights.size):
        total += weights[i]
    if total <= 0.0:
        return -1
    x = u * total
    for i in range(weights.size):
        x -= weights[i]
        if x < 0.0 and weights[i] > 0.0:
            return i
    for i in range(weights.size - 1, -1, -1):
        if weights[i] > 0.0:
            return i
    return -1
