"""Point-forecast baselines: last value, linear trend and fixed-rate stock-flow projections."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluate.baselines import (
    fixed_rate_projection,
    fixed_rate_projection_by_state,
    last_value,
    linear_trend,
    project_by_state,
    reference_rates_by_state,
)


def test_last_value_carries_the_last_observation() -> None:
    np.testing.assert_array_equal(last_value(np.array([3.0, 5.0, 7.0]), 3), [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(last_value(np.array([3.0, 5.0, np.nan]), 2), [5.0, 5.0])
    with pytest.raises(ValueError, match="at least one observed"):
        last_value(np.array([np.nan, np.nan]), 2)
    with pytest.raises(ValueError, match="horizon"):
        last_value(np.array([1.0]), 0)


def test_linear_trend_extrapolates_a_line_exactly() -> None:
    history = 2.0 * np.arange(8) + 1  # 1, 3, ..., 15
    np.testing.assert_allclose(linear_trend(history, 3), [17.0, 19.0, 21.0])


def test_linear_trend_uses_only_the_window() -> None:
    # The last three values lie on a line of slope 1; the earlier spike must not count.
    history = np.array([0.0, 0.0, 10.0, 0.0, 0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(linear_trend(history, 2, window=3), [4.0, 5.0])
    # With a window of 5: least squares through (3, 0), (4, 0), (5, 1), (6, 2), (7, 3):
    # mean t = 5, mean y = 1.2, slope = sum (t - 5)(y - 1.2) / sum (t - 5)^2 = 8 / 10.
    np.testing.assert_allclose(linear_trend(history, 1, window=5), [1.2 + 0.8 * 3])


def test_linear_trend_short_missing_and_floored() -> None:
    np.testing.assert_allclose(linear_trend(np.array([4.0, 6.0]), 2, window=5), [8.0, 10.0])
    np.testing.assert_allclose(linear_trend(np.array([1.0, np.nan, 3.0]), 2), [4.0, 5.0])
    np.testing.assert_allclose(linear_trend(np.array([9.0]), 2), [9.0, 9.0])
    np.testing.assert_allclose(linear_trend(np.array([30.0, 20.0, 10.0]), 3), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="dimension"):
        linear_trend(np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match="negative"):
        linear_trend(np.array([1.0, -1.0]), 1)


def test_fixed_rate_projection_holds_the_steady_state() -> None:
    # e = 20 a period, p = 60 / 300 = 0.2: steady state e (1 - p) / p = 80.
    stock = np.array([80.0, 80, 80, 80])
    flows = np.array([20.0, 20, 20])
    np.testing.assert_allclose(fixed_rate_projection(stock, flows, flows, 4), [80.0] * 4)


def test_fixed_rate_projection_hand_worked_from_off_steady_state() -> None:
    # An early period with no exits lies outside the reference and must not change the rates.
    stock = np.array([50.0, 80, 80, 80, 100])
    entries = np.array([30.0, 20, 20, 20])
    exits = np.array([0.0, 20, 20, 20])
    # (100 + 20) 0.8 = 96; (96 + 20) 0.8 = 92.8; (92.8 + 20) 0.8 = 90.24
    np.testing.assert_allclose(fixed_rate_projection(stock, entries, exits, 3), [96, 92.8, 90.24])
    # With a reference of all four periods: e = 22.5, p = 60 / (290 + 90) = 3 / 19.
    p, e = 3 / 19, 22.5
    np.testing.assert_allclose(
        fixed_rate_projection(stock, entries, exits, 1, reference=4), [(100 + e) * (1 - p)]
    )


def test_fixed_rate_projection_errors() -> None:
    stock, flows = np.array([80.0, 80, 80, 80]), np.array([20.0, 20, 20])
    with pytest.raises(ValueError, match="one more"):
        fixed_rate_projection(stock[:-1], flows, flows, 2)
    with pytest.raises(ValueError, match="history too short"):
        fixed_rate_projection(stock, flows, flows, 2, reference=4)
    with pytest.raises(ValueError, match="exceed the children at risk"):
        fixed_rate_projection(stock, flows, flows * 6, 2)
    with pytest.raises(ValueError, match="finite"):
        fixed_rate_projection(stock, np.array([20.0, np.nan, 20]), flows, 2)


def _two_state_steady() -> tuple[np.ndarray, ...]:
    """Two states at their steady state: entries 10 into state 0; per child at risk, exits
    0.1 from state 0 and 0.2 from state 1, moves 0 -> 1 with probability 0.1.
    Steady state: s0 = 0.8 (s0 + 10) -> 40; s1 = 0.1 (40 + 10) + 0.8 s1 -> 25."""
    periods = 3
    stock = np.tile([40.0, 25.0], (periods + 1, 1))
    entries = np.tile([10.0, 0.0], (periods, 1))
    exits = np.tile([5.0, 5.0], (periods, 1))  # 0.1 * 50 and 0.2 * 25
    moves = np.zeros((periods, 2, 2))
    moves[:, 0, 1] = 5.0  # 0.1 * 50
    return stock, moves, entries, exits


def test_by_state_rates_and_steady_state() -> None:
    stock, moves, entries, exits = _two_state_steady()
    e, move, exit_ = reference_rates_by_state(stock, moves, entries, exits)
    np.testing.assert_allclose(e, [10.0, 0.0])
    np.testing.assert_allclose(move, [[0.0, 0.1], [0.0, 0.0]])
    np.testing.assert_allclose(exit_, [0.1, 0.2])
    projected = fixed_rate_projection_by_state(stock, moves, entries, exits, 4)
    np.testing.assert_allclose(projected, np.tile([40.0, 25.0], (4, 1)))


def test_by_state_hand_worked_from_empty() -> None:
    stock, moves, entries, exits = _two_state_steady()
    stock[-1] = 0.0  # start empty; the rates come from the earlier periods
    # at risk [10, 0] -> [8, 1]; at risk [18, 1] -> [14.4, 1.8 + 0.8]
    projected = fixed_rate_projection_by_state(stock, moves, entries, exits, 2)
    np.testing.assert_allclose(projected, [[8.0, 1.0], [14.4, 2.6]])


def test_by_state_ignores_moves_within_a_state() -> None:
    stock, moves, entries, exits = _two_state_steady()
    with_diagonal = moves.copy()
    with_diagonal[:, 0, 0] = 30.0  # e.g. placement moves inside one placement group
    np.testing.assert_allclose(
        fixed_rate_projection_by_state(stock, with_diagonal, entries, exits, 3),
        fixed_rate_projection_by_state(stock, moves, entries, exits, 3),
    )


def test_one_state_matches_the_single_series_projection() -> None:
    stock = np.array([50.0, 80, 80, 80, 100])
    entries = np.array([30.0, 20, 20, 20])
    exits = np.array([0.0, 20, 20, 20])
    by_state = fixed_rate_projection_by_state(
        stock[:, None], np.zeros((4, 1, 1)), entries[:, None], exits[:, None], 3
    )
    np.testing.assert_allclose(by_state[:, 0], fixed_rate_projection(stock, entries, exits, 3))


def _random_system(seed: int, periods: int = 5, states: int = 4) -> tuple[np.ndarray, ...]:
    """Stocks and flows of a system whose moves and exits never exceed the children at risk."""
    rng = np.random.default_rng(seed)
    stock = rng.integers(20, 300, size=(periods + 1, states)).astype(float)
    entries = rng.integers(0, 60, size=(periods, states)).astype(float)
    at_risk = stock[:-1] + entries
    leave = rng.dirichlet(np.ones(states + 1), size=(periods, states))  # exit, then moves
    shares = rng.uniform(0.1, 0.6, size=(periods, states, 1)) * leave
    exits = np.floor(at_risk * shares[..., 0])
    moves = np.floor(at_risk[..., None] * shares[..., 1:])
    moves[:, np.arange(states), np.arange(states)] = 0.0
    return stock, moves, entries, exits


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_by_state_projection_conserves_children(seed: int) -> None:
    stock, moves, entries, exits = _random_system(seed)
    e, move, exit_ = reference_rates_by_state(stock, moves, entries, exits)
    horizon = 6
    projected = project_by_state(stock[-1], e, move, exit_, horizon)
    before = np.vstack([stock[-1], projected[:-1]])  # [H, S] stock at each period's start
    projected_exits = ((before + e) * exit_).sum(axis=1)
    change = projected.sum(axis=1) - before.sum(axis=1)
    np.testing.assert_allclose(change, e.sum() - projected_exits, rtol=1e-12, atol=1e-9)
    assert (projected >= 0).all()
    np.testing.assert_allclose(
        fixed_rate_projection_by_state(stock, moves, entries, exits, horizon), projected
    )
    # Moves shift children between states: some state must differ from a no-moves projection.
    no_moves = project_by_state(stock[-1], e, np.zeros_like(move), exit_, horizon)
    assert not np.allclose(no_moves, projected)


def test_by_state_errors() -> None:
    stock, moves, entries, exits = _two_state_steady()
    with pytest.raises(ValueError, match=r"stock has shape \(3, 2\)"):
        fixed_rate_projection_by_state(stock[:-1], moves, entries, exits, 2)
    with pytest.raises(ValueError, match="moves has shape"):
        fixed_rate_projection_by_state(stock, moves[:, :1], entries, exits, 2)
    with pytest.raises(ValueError, match="exits has shape"):
        fixed_rate_projection_by_state(stock, moves, entries, exits[:, :1], 2)
    with pytest.raises(ValueError, match="history too short"):
        fixed_rate_projection_by_state(stock, moves, entries, exits, 2, reference=5)
    too_many = moves.copy()
    too_many[:, 0, 1] = 48.0  # with 5 exits, more than the 50 at risk in state 0 leave
    with pytest.raises(ValueError, match="moves and exits exceed"):
        fixed_rate_projection_by_state(stock, too_many, entries, exits, 2)
