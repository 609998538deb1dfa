"""Off-policy estimators of a policy's expected reward from logged bandit feedback.

Logged data are rounds (context x, action a, reward r, logging propensity p = pi_0(a|x)). An
evaluation policy pi_e is given by its action probabilities on the logged rounds. Kept apart
from data and policies, as in the Open Bandit Pipeline (Saito et al., 2021).

- IPS (Horvitz & Thompson 1952): mean(w r), w = pi_e(a|x) / pi_0(a|x); unbiased, high variance.
- SNIPS (Swaminathan & Joachims 2015): sum(w r) / sum(w); slightly biased, much lower variance.
- DR (Dudik, Langford & Li 2011): mean(q(x, pi_e) + w (r - q(x, a))) with a reward model q;
  unbiased if either the propensities or q are right.

Confidence intervals come from a seeded nonparametric bootstrap over rounds.

>>> import numpy as np
>>> rewards = np.array([1.0, 0.0, 1.0, 0.0])
>>> logging = np.full(4, 0.5)
>>> target = np.array([1.0, 0.0, 1.0, 1.0])   # pi_e(a_i | x_i) of each logged action
>>> round(ips(rewards, logging, target).value, 3), round(snips(rewards, logging, target).value, 3)
(1.0, 0.667)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    name: str
    value: float
    low: float
    high: float
    #: Effective sample size of the importance weights (Kish): how many rounds really count.
    effective_rounds: float

    def __str__(self) -> str:
        return f"{self.name} {self.value:.5f} [{self.low:.5f}, {self.high:.5f}]"


def _check(rewards: Array, logging: Array, target: Array) -> None:
    if not (len(rewards) == len(logging) == len(target)) or len(rewards) == 0:
        raise ValueError("rewards, logging and target propensities need the same non-zero length")
    if np.any(logging <= 0) or np.any(logging > 1):
        raise ValueError("logging propensities must lie in (0, 1]")
    if np.any(target < 0) or np.any(target > 1):
        raise ValueError("target probabilities must lie in [0, 1]")


def _bootstrap(
    per_round: Callable[[NDArray[np.int64]], float], n: int, n_boot: int, alpha: float, seed: int
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    stats = np.array([per_round(rng.integers(0, n, n)) for _ in range(n_boot)])
    return float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2))


def _ess(weights: Array) -> float:
    total = float(weights.sum())
    return total * total / float((weights * weights).sum()) if total > 0 else 0.0


def ips(
    rewards: Array, logging: Array, target: Array, *, n_boot: int = 500, alpha: float = 0.05, seed: int = 0
) -> Estimate:
    _check(rewards, logging, target)
    terms = target / logging * rewards
    low, high = _bootstrap(lambda idx: float(terms[idx].mean()), len(terms), n_boot, alpha, seed)
    return Estimate("IPS", float(terms.mean()), low, high, _ess(target / logging))


def snips(
    rewards: Array, logging: Array, target: Array, *, n_boot: int = 500, alpha: float = 0.05, seed: int = 0
) -> Estimate:
    _check(rewards, logging, target)
    weights = target / logging

    def ratio(idx: NDArray[np.int64]) -> float:
        total = float(weights[idx].sum())
        return float((weights[idx] * rewards[idx]).sum()) / total if total > 0 else 0.0

    low, high = _bootstrap(ratio, len(weights), n_boot, alpha, seed)
    return Estimate("SNIPS", ratio(np.arange(len(weights))), low, high, _ess(weights))


def doubly_robust(
    rewards: Array,
    logging: Array,
    target: Array,
    reward_of_logged: Array,
    reward_of_target: Array,
    *,
    n_boot: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
) -> Estimate:
    """`reward_of_logged[i]` = q(x_i, a_i); `reward_of_target[i]` = sum_a pi_e(a|x_i) q(x_i, a)."""
    _check(rewards, logging, target)
    weights = target / logging
    terms = reward_of_target + weights * (rewards - reward_of_logged)
    low, high = _bootstrap(lambda idx: float(terms[idx].mean()), len(terms), n_boot, alpha, seed)
    return Estimate("DR", float(terms.mean()), low, high, _ess(weights))
