"""Quadrature propensities of Beta-Thompson sampling against a 1e6-draw Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from creativeloop.ranking.policies import BetaThompson
from creativeloop.ranking.policies.beta_max import ERROR_BOUND, win_probabilities, win_probability

DRAWS = 1_000_000


def _cases() -> dict[str, tuple[list[float], list[float]]]:
    rng = np.random.default_rng(11)
    shows = rng.integers(0, 5000, 50).astype(float)
    clicks = rng.binomial(shows.astype(int), 0.05).astype(float)
    prior = np.clip(rng.normal(0.05, 0.01, 50), 1e-3, 0.5)
    return {
        "flat": ([1.0, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, 1.0]),
        "peaked": ([300.0, 290.0, 310.0], [5000.0, 4900.0, 5300.0]),
        "skewed": ([1.0, 1.5, 0.8], [99.0, 120.0, 60.0]),
        "narrow against wide": ([250.0, 3.0, 1.0], [4750.0, 40.0, 9.0]),
        "ties": ([5.0, 5.0, 9.0, 9.0], [95.0, 95.0, 91.0, 91.0]),
        "one dominant": ([500.0, 10.0, 12.0], [500.0, 990.0, 988.0]),
        "50 hybrid-like": (
            (100 * prior + clicks).tolist(),
            (100 * (1 - prior) + shows - clicks).tolist(),
        ),
    }


def _monte_carlo(alpha: np.ndarray, beta: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros(alpha.size)
    for _ in range(DRAWS // 100_000):
        counts += np.bincount(
            rng.beta(alpha, beta, size=(100_000, alpha.size)).argmax(axis=1), minlength=alpha.size
        )
    result: np.ndarray = counts / DRAWS
    return result


@pytest.mark.parametrize("name", list(_cases()))
def test_quadrature_matches_a_million_draws(name: str) -> None:
    a, b = _cases()[name]
    alpha, beta = np.array(a), np.array(b)
    exact = np.array([win_probability(alpha, beta, i) for i in range(alpha.size)])
    mc = _monte_carlo(alpha, beta, seed=len(name))
    # Monte Carlo's own sd is at most sqrt(p (1 - p) / 1e6) <= 5e-4: allow 4 of them beside the bound.
    slack = ERROR_BOUND + 4 * np.sqrt(mc * (1 - mc) / DRAWS)
    assert np.all(np.abs(exact - mc) <= slack), (name, exact.round(5), mc.round(5))
    assert abs(exact.sum() - 1.0) <= alpha.size * 1e-4, exact.sum()
    normalised = win_probabilities(alpha, beta)
    assert normalised.sum() == pytest.approx(1.0) and np.all(np.abs(normalised - mc) <= slack + 1e-4)


def test_closed_forms() -> None:
    # Beta(2, 1) against Beta(1, 1): P(X > U) = E[X] = 2/3; equal posteriors: 1/n.
    assert win_probability(np.array([2.0, 1.0]), np.array([1.0, 1.0]), 0) == pytest.approx(2 / 3, abs=1e-8)
    assert win_probability(np.array([3.0, 3.0, 3.0]), np.array([7.0, 7.0, 7.0]), 2) == pytest.approx(1 / 3)
    assert win_probability(np.array([4.0]), np.array([2.0]), 0) == 1.0
    assert win_probability(np.array([1.0, 1e4]), np.array([1e4, 1.0]), 0) == pytest.approx(0.0, abs=1e-9)


def test_pull_reports_the_quadrature_probability_of_a_thompson_draw() -> None:
    alpha, beta = np.array([6.0, 5.0, 3.0]), np.array([40.0, 41.0, 43.0])
    sampler = BetaThompson(seed=5)
    picks = [sampler.pull_posterior(alpha, beta) for _ in range(20_000)]
    expected = win_probabilities(alpha, beta)
    frequency = np.bincount([p.index for p in picks], minlength=3) / len(picks)
    # The choice is still a Thompson draw: its frequencies follow the same probabilities (sd <= .0035).
    np.testing.assert_allclose(frequency, expected, atol=0.015)
    for p in picks[:50]:
        assert p.propensity == pytest.approx(expected[p.index], abs=1e-3)
