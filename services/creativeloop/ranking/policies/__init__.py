"""The explore-exploit policies behind Rank: one interface, one class per policy, one factory.

Every policy implements `Policy` (River's shape): `pull(candidates, user_id, context)` returns a
`Decision` with the propensity of its choice, `update(impression, clicked)` learns from one
outcome, and `probabilities` / `slate_probabilities` give the action distribution of a request,
which off-policy evaluation (`creativeloop.evaluation.ope`) needs. Rank serves whichever policy
`build_policy` makes from the `policy` setting:

- ``thompson``: `ThompsonPolicy`, Beta-Bernoulli Thompson sampling over each creative's counts
  (bandit.stats), uniform Beta(prior_alpha, prior_beta) prior.
- ``hybrid``: `HybridPolicy`, the same, but the prior of each creative is the CTR model's
  prediction p̂ for this user, worth `prior_strength` impressions: Beta(n0·p̂ + clicks,
  n0·(1 − p̂) + impressions − clicks). Without a loaded model it *is* ``thompson`` (same version
  string).
- ``lints``: `LinTSPolicy`, linear Thompson sampling over the feature vector, learnt online from
  the impression and click streams.
- ``shared``: `SharedModelPolicy`, one Bayesian logistic model of click on request features
  crossed with creative features (element ids, numeric attributes, embeddings; no hashing),
  learnt from every outcome, explored by inverse-gap weighting (SquareCB) with exact
  propensities. It reads creatives from `features` (`FeatureStore.creative`) and the request's
  typed features (`RankRequest.features`).

Counts come from the request's context bucket when the creative has enough impressions there,
else from all contexts (`StatsBoard.counts`). The Thompson-sampling policies report the
propensity of their choice by Monte Carlo over the same posterior; ``shared`` reports it
exactly. A new policy is a class implementing `Policy` with a `from_settings` constructor,
registered in `POLICIES` and in the `policy` setting's choices.
"""

from __future__ import annotations

from collections.abc import Callable

from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.model import ModelHolder
from creativeloop.ranking.policies.base import Choice, Decision, Policy
from creativeloop.ranking.policies.linear import LINTS_VERSION, LinTS, LinTSPolicy
from creativeloop.ranking.policies.shared import SHARED_VERSION, CreativeIndex, SharedModelPolicy
from creativeloop.ranking.policies.thompson import (
    HYBRID_VERSION,
    POLICY_VERSION,
    BetaThompson,
    HybridPolicy,
    ThompsonPolicy,
    hybrid_posterior,
)
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard

__all__ = [
    "HYBRID_VERSION",
    "LINTS_VERSION",
    "POLICIES",
    "POLICY_VERSION",
    "SHARED_VERSION",
    "BetaThompson",
    "Choice",
    "CreativeIndex",
    "Decision",
    "HybridPolicy",
    "LinTS",
    "LinTSPolicy",
    "Policy",
    "SharedModelPolicy",
    "ThompsonPolicy",
    "build_policy",
    "hybrid_posterior",
]

PolicyFactory = Callable[[RankingSettings, StatsBoard, FeatureStore, ModelHolder | None], Policy]

#: The `policy` setting's values and the constructor of each.
POLICIES: dict[str, PolicyFactory] = {
    "thompson": ThompsonPolicy.from_settings,
    "hybrid": HybridPolicy.from_settings,
    "lints": LinTSPolicy.from_settings,
    "shared": SharedModelPolicy.from_settings,
}


def build_policy(
    settings: RankingSettings,
    stats: StatsBoard | None = None,
    features: FeatureStore | None = None,
    models: ModelHolder | None = None,
) -> Policy:
    """The policy the `policy` setting names, reading `stats`, `features` and `models`.

    Serving passes the views its topic feeds fill; a missing one starts empty. `models` matters
    to ``hybrid`` only (None: no model, so plain Thompson sampling).

    >>> policy = build_policy(RankingSettings(policy="thompson", seed=0))
    >>> type(policy).__name__, policy.pull(["only-one"]).propensity
    ('ThompsonPolicy', 1.0)
    """
    return POLICIES[settings.policy](
        settings,
        stats if stats is not None else StatsBoard(),
        features if features is not None else FeatureStore(settings.max_users, settings.user_history),
        models,
    )
