"""Beta-Bernoulli Thompson sampling: the sampler, and the two count-based policies Rank serves.

- `BetaThompson`: Thompson sampling over Bernoulli arms whose Beta posteriors are given; it
  reports the propensity of its choice and the slate distribution of its draws.
- `ThompsonPolicy` (setting ``policy = "thompson"``, version ``beta-thompson-v2``): a uniform
  Beta(prior_alpha, prior_beta) prior per creative plus its counts.
- `HybridPolicy` (``policy = "hybrid"``, version ``hybrid-thompson-v2+<model version>``): the
  prior of each creative is the CTR model's prediction p̂ for this user, worth `prior_strength`
  impressions (`hybrid_posterior`); without a loaded model it *is* `ThompsonPolicy`.

Counts come from a `StatsBoard`: the request's context bucket when the creative has at least
`min_bucket_impressions` there, else all contexts. In serving the board follows the compacted
``bandit.stats`` topic, and the bandit stream job alone owns the impression-click join and the
counts (with time decay); Rank never calls `update`. Offline (the in-process simulator,
off-policy evaluation on logged impressions), `update` adds one joined outcome to the same board,
as the bandit would count it (without decay).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from creativeloop.kit.context import context_bucket
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.model import ModelHolder
from creativeloop.ranking.policies.base import (
    CHUNK,
    Choice,
    Decision,
    Floats,
    Policy,
    check_slots,
    sampled_slate,
    slot_counts,
    uniform_slots,
)
from creativeloop.ranking.policies.beta_max import win_probabilities, win_probability
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import common_pb2, events_pb2

#: The context-free policy's version (also the hybrid policy's while it has no model). ``-v2``:
#: the logged propensity is the quadrature probability (`beta_max`), ``-v1`` was a 1,000-draw
#: Monte Carlo estimate of the same probability (never below 1/1000).
POLICY_VERSION = "beta-thompson-v2"
HYBRID_VERSION = "hybrid-thompson-v2"


class BetaThompson:
    """Thompson sampling over Bernoulli arms with Beta posteriors (Thompson 1933; Chapelle & Li 2011).

    Each arm's click rate has posterior Beta(alpha0 + clicks, beta0 + impressions - clicks). `pull`
    draws one sample per arm and picks the largest. The probability of that choice, needed for
    off-policy evaluation (IPS, SNIPS, DR), is the integral of f_i * prod_{j != i} F_j, which
    `pull` computes by quadrature within `ERROR_BOUND` (`beta_max.win_probability`; before
    ``-v2`` versions it was a Monte Carlo estimate from 1,000 more draws). `slate` gives the same
    exact probabilities for the first slot and estimates the later slots from
    `propensity_samples` draws (how often each arm lands there when draws fill a slate best
    first).

    >>> policy = BetaThompson(seed=7)
    >>> choice = policy.pull(impressions=[100, 100], clicks=[30, 2])
    >>> choice.index, choice.propensity > 0.99
    (0, True)
    >>> dist = BetaThompson(propensity_samples=2000, seed=0).slate(
    ...     np.array([50.0, 1.0, 1.0]), np.array([50.0, 99.0, 99.0]), slots=2
    ... )
    >>> float(dist[0, 0]), dist.sum(axis=0).tolist()
    (1.0, [1.0, 1.0])
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

    def pull_posterior(self, alpha: Floats, beta: Floats) -> Choice:
        """Thompson sampling from Beta(`alpha`, `beta`) posteriors given directly (one per arm).

        The hybrid policy builds them from a model prior plus the counts: see `hybrid_posterior`.
        """
        if alpha.size == 0:
            raise ValueError("no arms to choose from")
        if alpha.size == 1:
            return Choice(0, 1.0)
        index = int(self._rng.beta(alpha, beta).argmax())  # the Thompson draw itself
        return Choice(index, win_probability(alpha, beta, index))

    def pull_slate(self, alpha: Floats, beta: Floats, slots: int) -> list[Choice]:
        """One Thompson draw ranks every arm; the best `slots` fill the slots in order.

        Propensities are marginals P(arm fills slot k): slot 0 by quadrature (as `pull`), later
        slots estimated from `propensity_samples` draws, the served one among them
        (`sampled_slate`); exact (1 / arms) when all posteriors are the same.
        """
        n = alpha.size
        check_slots(n, slots)
        if slots == 1:
            return [self.pull_posterior(alpha, beta)]
        if np.all(alpha == alpha[0]) and np.all(beta == beta[0]):
            return [Choice(int(i), 1.0 / n) for i in self._rng.permutation(n)[:slots]]
        served, marginals = sampled_slate(
            lambda size: self._rng.beta(alpha, beta, size=(size, n)), n, slots, self.propensity_samples
        )
        first = Choice(served[0], win_probability(alpha, beta, served[0]))
        return [first] + [Choice(a, float(marginals[a, k])) for k, a in enumerate(served) if k > 0]

    def slate(self, alpha: Floats, beta: Floats, slots: int = 1) -> Floats:
        """P(arm a lands in slot k), shape (arms, slots): the arms with the best draws fill the slots.

        One slot (`probabilities`): by quadrature (`win_probabilities`, within `ERROR_BOUND`).
        Several: Monte Carlo over `propensity_samples` draws of every posterior (drawn in chunks of
        `CHUNK`), so that each draw fills the whole slate consistently. Exact when there is one
        arm or all posteriors are the same (1 / arms everywhere).
        """
        n = alpha.size
        check_slots(n, slots)
        if n == 1 or (np.all(alpha == alpha[0]) and np.all(beta == beta[0])):
            return uniform_slots(n, slots)
        if slots == 1:
            return win_probabilities(alpha, beta)[:, None]
        counts = np.zeros((n, slots))
        done = 0
        while done < self.propensity_samples:
            size = min(CHUNK, self.propensity_samples - done)
            counts += slot_counts(self._rng.beta(alpha, beta, size=(size, n)), slots)
            done += size
        result: Floats = counts / self.propensity_samples
        return result


def hybrid_posterior(
    predicted_ctr: Floats, impressions: Floats, clicks: Floats, prior_strength: float
) -> tuple[Floats, Floats]:
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


@dataclass(frozen=True)
class BetaPosteriors:
    """The Beta posteriors of one request's candidates, and what a decision reports with them."""

    alpha: Floats
    beta: Floats
    #: Per candidate: the bandit.stats bucket its counts came from.
    buckets: list[str]
    version: str
    #: Per candidate: the model's p̂ (None without a model).
    predicted: Floats | None = None

    def decision(self, choice: Choice) -> Decision:
        i = choice.index
        predicted = float(self.predicted[i]) if self.predicted is not None else 0.0
        return Decision(i, choice.propensity, self.version, predicted, self.buckets[i])


class ThompsonPolicy(Policy):
    """Beta-Bernoulli Thompson sampling over each creative's impression and click counts.

    A creative's click rate has posterior Beta(prior_alpha + clicks, prior_beta + impressions -
    clicks), its counts read from `stats` (see the module docstring for where they come from and
    how `update` relates to the bandit). `pull` samples every candidate's rate once and shows the
    best; its propensity and `probabilities` are computed by quadrature (`beta_max`), the later
    slots of `slate_probabilities` estimated from `propensity_samples` draws (`BetaThompson`).

    >>> policy = ThompsonPolicy(StatsBoard(), seed=7)
    >>> for n in range(100):
    ...     policy.update(events_pb2.Impression(creative_id="a"), clicked=n < 30)
    ...     policy.update(events_pb2.Impression(creative_id="b"), clicked=n < 2)
    >>> decision = policy.pull(["a", "b"])
    >>> decision.index, decision.propensity > 0.99, decision.policy_version
    (0, True, 'beta-thompson-v2')
    >>> policy.probabilities(["a", "b"]).round(2).tolist()
    [1.0, 0.0]

    Thompson (1933), On the likelihood that one unknown probability exceeds another in view of
    the evidence of two samples; Chapelle & Li (2011), An empirical evaluation of Thompson sampling.
    """

    needs_behaviour = False

    def __init__(
        self,
        stats: StatsBoard,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        propensity_samples: int = 1000,
        min_bucket_impressions: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.stats = stats
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.min_bucket_impressions = min_bucket_impressions
        self.sampler = BetaThompson(prior_alpha, prior_beta, propensity_samples, seed)

    @classmethod
    def from_settings(
        cls,
        settings: RankingSettings,
        stats: StatsBoard,
        features: FeatureStore,
        models: ModelHolder | None = None,
    ) -> ThompsonPolicy:
        return cls(
            stats,
            settings.prior_alpha,
            settings.prior_beta,
            settings.propensity_samples,
            settings.min_bucket_impressions,
            settings.seed,
        )

    def posteriors(
        self, candidates: Sequence[str], user_id: str = "", context: Mapping[str, str] | None = None
    ) -> BetaPosteriors:
        """The candidates' Beta posteriors for this request (uniform prior + counts)."""
        counts = self.stats.counts(candidates, context_bucket(context or {}), self.min_bucket_impressions)
        shows = counts.impressions
        wins = np.minimum(counts.clicks, shows)
        return BetaPosteriors(
            self.prior_alpha + wins, self.prior_beta + shows - wins, counts.buckets, POLICY_VERSION
        )

    def pull(
        self,
        candidates: Sequence[str],
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Decision:
        posteriors = self.posteriors(candidates, user_id, context)
        return posteriors.decision(self.sampler.pull_posterior(posteriors.alpha, posteriors.beta))

    def slate_probabilities(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Floats:
        posteriors = self.posteriors(candidates, user_id, context)
        return self.sampler.slate(posteriors.alpha, posteriors.beta, slots)

    def pull_slate(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> list[Decision]:
        posteriors = self.posteriors(candidates, user_id, context)
        return [
            posteriors.decision(c) for c in self.sampler.pull_slate(posteriors.alpha, posteriors.beta, slots)
        ]

    def update(self, impression: events_pb2.Impression, clicked: bool) -> None:
        """Count one joined outcome on the board, in its context bucket and over all contexts.

        Offline only: in serving the bandit stream job counts and the board follows bandit.stats.
        """
        self.stats.record(impression.creative_id, context_bucket(impression.context), clicked)


class HybridPolicy(ThompsonPolicy):
    """Thompson sampling whose per-creative prior is the CTR model's prediction for this user.

    With a model loaded (`models.current`), a candidate's posterior is `hybrid_posterior` of the
    model's p̂ for (user, creative, context), computed from `features`, and its counts; the
    version names the model. Without one, the policy is `ThompsonPolicy` (same generator, same
    version). `update` counts the outcome like `ThompsonPolicy` and also applies the impression
    and click to `features`, as serving's ad.impressions and ad.clicks feeds do.

    >>> policy = HybridPolicy(StatsBoard(), FeatureStore(), models=None, seed=7)
    >>> policy.pull(["a"]).policy_version, policy.needs_behaviour
    ('beta-thompson-v2', True)

    Chapelle & Li (2011); the model prior after Alibaba's hybrid bandit with visual priors.
    """

    needs_behaviour = True

    def __init__(
        self,
        stats: StatsBoard,
        features: FeatureStore,
        models: ModelHolder | None,
        prior_strength: float = 100.0,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        propensity_samples: int = 1000,
        min_bucket_impressions: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(stats, prior_alpha, prior_beta, propensity_samples, min_bucket_impressions, seed)
        self.features = features
        self.models = models
        self.prior_strength = prior_strength

    @classmethod
    def from_settings(
        cls,
        settings: RankingSettings,
        stats: StatsBoard,
        features: FeatureStore,
        models: ModelHolder | None = None,
    ) -> HybridPolicy:
        return cls(
            stats,
            features,
            models,
            settings.prior_strength,
            settings.prior_alpha,
            settings.prior_beta,
            settings.propensity_samples,
            settings.min_bucket_impressions,
            settings.seed,
        )

    def posteriors(
        self, candidates: Sequence[str], user_id: str = "", context: Mapping[str, str] | None = None
    ) -> BetaPosteriors:
        model = self.models.current if self.models is not None else None
        if model is None:
            return super().posteriors(candidates, user_id, context)
        counts = self.stats.counts(candidates, context_bucket(context or {}), self.min_bucket_impressions)
        shows = counts.impressions
        wins = np.minimum(counts.clicks, shows)
        predicted = model.predict(self.features.matrix(user_id, candidates, context))
        alpha, beta = hybrid_posterior(predicted, shows, wins, self.prior_strength)
        return BetaPosteriors(alpha, beta, counts.buckets, f"{HYBRID_VERSION}+{model.version}", predicted)

    def update(self, impression: events_pb2.Impression, clicked: bool) -> None:
        super().update(impression, clicked)
        self.features.apply_impression(impression.impression_id, impression)
        if clicked:
            self.features.apply_click(
                impression.impression_id,
                events_pb2.Click(
                    impression_id=impression.impression_id,
                    user_id=impression.user_id,
                    creative_id=impression.creative_id,
                ),
            )
