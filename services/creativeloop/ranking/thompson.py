"""Beta-Bernoulli Thompson sampling that also reports the propensity of its choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Choice:
    index: int
    #: Probability that the policy picks `index` given the same posteriors (Monte Carlo estimate).
    propensity: float


class BetaThompson:
    """Thompson sampling over Bernoulli arms with Beta posteriors (Thompson 1933; Chapelle & Li 2011).

    Each arm's click rate has posterior Beta(alpha0 + clicks, beta0 + impressions - clicks). `pull`
    draws one sample per arm and picks the largest. The probability of that choice, needed for
    off-policy evaluation (IPS, SNIPS, DR), has no closed form, so `pull` also draws
    `propensity_samples` more rounds and reports how often the chosen arm wins; the chosen round is
    one of them, so the estimate is never zero.

    >>> policy = BetaThompson(seed=7)
    >>> choice = policy.pull(impressions=[100, 100], clicks=[30, 2])
    >>> choice.index, choice.propensity > 0.99
    (0, True)
    """

    def __init__(
        self,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        propensity_samples: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.propensity_samples = propensity_samples
        self._rng = np.random.default_rng(seed)

    def pull(self, impressions: Sequence[float], clicks: Sequence[float]) -> Choice:
        shows = np.asarray(impressions, dtype=np.float64)
        wins = np.minimum(np.asarray(clicks, dtype=np.float64), shows)
        if shows.size == 0:
            raise ValueError("no arms to choose from")
        return self.pull_posterior(self.prior_alpha + wins, self.prior_beta + shows - wins)

    def pull_posterior(self, alpha: npt.NDArray[np.float64], beta: npt.NDArray[np.float64]) -> Choice:
        """Thompson sampling from Beta(`alpha`, `beta`) posteriors given directly (one per arm).

        The hybrid policy builds them from a model prior plus the counts: see `hybrid_posterior`.
        """
        if alpha.size == 0:
            raise ValueError("no arms to choose from")
        if alpha.size == 1:
            return Choice(0, 1.0)
        draws = self._rng.beta(alpha, beta, size=(self.propensity_samples, alpha.size))
        winners = draws.argmax(axis=1)
        index = int(winners[0])
        propensity = float(np.count_nonzero(winners == index)) / self.propensity_samples
        return Choice(index, propensity)


def hybrid_posterior(
    predicted_ctr: npt.NDArray[np.float64],
    impressions: npt.NDArray[np.float64],
    clicks: npt.NDArray[np.float64],
    prior_strength: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Beta posteriors whose prior is the model's prediction p̂ worth `prior_strength` impressions.

    Beta(n0·p̂ + clicks, n0·(1 − p̂) + impressions − clicks), in the spirit of Alibaba's hybrid
    bandit with visual priors: with no data the choice follows the model, with much data the
    counts win. p̂ is clipped into [1e-4, 1 − 1e-4] so both parameters stay positive.

    >>> alpha, beta = hybrid_posterior(np.array([0.1]), np.array([10.0]), np.array([3.0]), 20.0)
    >>> float(alpha[0]), float(beta[0])
    (5.0, 25.0)
    """
    p = np.clip(predicted_ctr, 1e-4, 1.0 - 1e-4)
    wins = np.minimum(clicks, impressions)
    return prior_strength * p + wins, prior_strength * (1.0 - p) + impressions - wins
