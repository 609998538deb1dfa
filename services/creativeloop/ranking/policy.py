"""The explore-exploit policies behind Rank, selected by the `policy` setting.

- ``thompson``: Beta-Bernoulli Thompson sampling over each creative's counts (bandit.stats),
  uniform Beta(prior_alpha, prior_beta) prior.
- ``hybrid``: the same, but the prior of each creative is the CTR model's prediction p̂ for this
  user, worth `prior_strength` impressions: Beta(n0·p̂ + clicks, n0·(1 − p̂) + impressions −
  clicks). Without a loaded model it *is* ``thompson`` (same version string).
- ``lints``: linear Thompson sampling over the feature vector, learnt online from the streams.

Counts come from the request's context bucket when the creative has enough impressions there,
else from all contexts (`StatsBoard.counts`). Every policy reports the propensity of its choice
by Monte Carlo over the same posterior.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from creativeloop.kit.context import context_bucket
from creativeloop.ranking.features import N_FEATURES, FeatureStore
from creativeloop.ranking.linear import LinTS
from creativeloop.ranking.model import ModelHolder
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.ranking.thompson import BetaThompson, hybrid_posterior
from creativeloop.v1 import common_pb2

#: The context-free policy's version (also the hybrid policy's while it has no model).
POLICY_VERSION = "beta-thompson-v1"
HYBRID_VERSION = "hybrid-thompson-v1"
LINTS_VERSION = "lints-v1"


@dataclass(frozen=True)
class Decision:
    index: int
    propensity: float
    policy_version: str
    #: The model's p̂ of the chosen creative (0 without a model).
    predicted_ctr: float
    #: The bandit.stats bucket the chosen creative's counts came from ("" = all contexts).
    stats_bucket: str


class Ranker:
    """Chooses one of a product's candidate creatives for a request."""

    def __init__(
        self,
        settings: RankingSettings,
        stats: StatsBoard,
        features: FeatureStore | None = None,
        models: ModelHolder | None = None,
    ) -> None:
        self.settings = settings
        self.policy = settings.policy
        self.stats = stats
        self.features = (
            features if features is not None else FeatureStore(settings.max_users, settings.user_history)
        )
        self.models = models
        self.thompson = BetaThompson(
            settings.prior_alpha, settings.prior_beta, settings.propensity_samples, settings.seed
        )
        self.lints: LinTS | None = None
        if self.policy == "lints":
            self.lints = LinTS(
                N_FEATURES,
                ridge=settings.lints_ridge,
                scale=settings.lints_scale,
                propensity_samples=settings.propensity_samples,
                seed=settings.seed,
                max_pending=settings.lints_pending,
            )
            self.features.listeners.append(self.lints)

    @property
    def needs_behaviour(self) -> bool:
        """Whether this policy uses features (and so must follow profiles, impressions, clicks)."""
        return self.policy != "thompson"

    def choose(
        self, user_id: str, candidates: Sequence[common_pb2.Creative], context: Mapping[str, str]
    ) -> Decision:
        ids = [c.creative_id for c in candidates]
        if self.lints is not None:
            rows = self.features.matrix(user_id, ids, context)
            choice = self.lints.pull(rows)
            return Decision(choice.index, choice.propensity, LINTS_VERSION, 0.0, "")
        counts = self.stats.counts(ids, context_bucket(context), self.settings.min_bucket_impressions)
        shows = counts.impressions
        wins = np.minimum(counts.clicks, shows)
        model = self.models.current if self.models is not None and self.policy == "hybrid" else None
        if model is None:
            choice = self.thompson.pull_posterior(
                self.settings.prior_alpha + wins, self.settings.prior_beta + shows - wins
            )
            return Decision(
                choice.index, choice.propensity, POLICY_VERSION, 0.0, counts.buckets[choice.index]
            )
        predicted = model.predict(self.features.matrix(user_id, ids, context))
        alpha, beta = hybrid_posterior(predicted, shows, wins, self.settings.prior_strength)
        choice = self.thompson.pull_posterior(alpha, beta)
        return Decision(
            choice.index,
            choice.propensity,
            f"{HYBRID_VERSION}+{model.version}",
            float(predicted[choice.index]),
            counts.buckets[choice.index],
        )
