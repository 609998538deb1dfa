"""Beta-Bernoulli Thompson sampling that also reports the propensity of its choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
        if shows.size == 1:
            return Choice(0, 1.0)
        alpha = self.prior_alpha + wins
        beta = self.prior_beta + shows - wins
        draws = self._rng.beta(alpha, beta, size=(self.propensity_samples, shows.size))
        winners = draws.argmax(axis=1)
        index = int(winners[0])
        propensity = float(np.count_nonzero(winners == index)) / self.propensity_samples
        return Choice(index, propensity)
