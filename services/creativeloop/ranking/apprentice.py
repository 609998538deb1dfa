"""Apprentice (shadow) mode and live promotion: which policy serves, which one learns beside it.

With ``CREATIVELOOP_RANKING_APPRENTICE_POLICY`` set, ranking builds two policies: the serving one
(``policy``) and the apprentice. On every Rank served by the bandit (not a pinned creative) the
apprentice also chooses, without changing the response, and `RankResponse.apprentice` carries an
`ApprenticeChoice`: its choice, the probability of that choice, and its probability of the
creative actually served, pi_apprentice(served | request), which is what off-policy evaluation
divides by the logged propensity (`creativeloop ope gate`). Both policies learn from the same
outcomes: the counting ones from `bandit.stats`, ``shared`` from the impression-click join.

Cost on the hot path: ``shared`` computes its inverse-gap distribution once and both the choice
and the served creative's probability come from it, exactly. A Thompson-family apprentice pays
what it pays when it serves (its Monte Carlo propensity), and a second estimate of the served
creative's probability when it chose another.

`PolicyRoles.assign` follows the compacted `ranking.policy` topic (`PolicyAssignment`): when a
record names the apprentice as the serving policy, the two swap (the old serving policy becomes
the apprentice), at once and without a restart; a record naming the policy that already serves
changes nothing; any other name is logged and ignored (a replica serves only what it built). A
tombstone restores the settings' roles (a rollback). Every replica follows the topic from its
beginning, so a replica started after a promotion serves the promoted policy too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from creativeloop.kit.logs import get_logger
from creativeloop.ranking.policies import Policy, SharedModelPolicy
from creativeloop.ranking.policies.shared import SHARED_VERSION
from creativeloop.v1 import common_pb2, events_pb2

log = get_logger(__name__)


class PolicyRoles:
    """The serving policy and the apprentice (if any), by their `policy` setting names (module doc)."""

    def __init__(self, policies: Mapping[str, Policy], serving: str, apprentice: str = "") -> None:
        if serving not in policies or (apprentice and apprentice not in policies):
            raise ValueError(f"no policy built for {serving!r} or {apprentice!r}")
        self._policies = dict(policies)
        self._configured = (serving, apprentice)
        self.serving_name = serving
        self.apprentice_name = apprentice
        #: How many times the roles changed (promotions and rollbacks applied).
        self.switches = 0

    @property
    def serving(self) -> Policy:
        return self._policies[self.serving_name]

    @property
    def apprentice(self) -> Policy | None:
        return self._policies[self.apprentice_name] if self.apprentice_name else None

    def policy(self, name: str) -> Policy | None:
        return self._policies.get(name)

    def _set(self, serving: str, apprentice: str, why: str) -> None:
        if (serving, apprentice) != (self.serving_name, self.apprentice_name):
            log.info("serving policy switched", serving=serving, apprentice=apprentice or None, why=why)
            self.serving_name, self.apprentice_name = serving, apprentice
            self.switches += 1

    def assign(self, _key: str, event: events_pb2.PolicyAssignment) -> None:
        """Apply a `ranking.policy` record (module doc)."""
        if event.serving == self.serving_name:
            return
        if event.serving and event.serving == self.apprentice_name:
            self._set(
                event.serving, self.serving_name, f"promoted by {event.actor or 'unknown'}: {event.note}"
            )
            return
        log.warning(
            "ignored ranking.policy record: this replica runs no such policy",
            serving=event.serving,
            runs=sorted(self._policies),
        )

    def reset(self, _key: str) -> None:
        """A `ranking.policy` tombstone: back to the settings' roles."""
        serving, apprentice = self._configured
        self._set(serving, apprentice, "ranking.policy tombstone (rollback to the settings)")


def shadow(
    name: str,
    policy: Policy,
    candidates: Sequence[str],
    served: int,
    rng: np.random.Generator,
    user_id: str = "",
    context: Mapping[str, str] | None = None,
    features: common_pb2.RequestFeatures | None = None,
) -> common_pb2.ApprenticeChoice:
    """What `policy` (the apprentice, setting name `name`) would have chosen among `candidates`,
    and its probability of `candidates[served]`, the creative that was served (module doc).

    >>> from creativeloop.ranking.features import FeatureStore
    >>> choice = shadow("shared", SharedModelPolicy(FeatureStore(10, 10)), ["a", "b"], 1,
    ...                 np.random.default_rng(0))
    >>> choice.policy_version, choice.served_propensity, choice.propensity
    ('shared-igw-v1', 0.5, 0.5)
    """
    if isinstance(policy, SharedModelPolicy):
        p = policy.probabilities(candidates, user_id, context, features=features)
        index = min(int(np.searchsorted(p.cumsum(), rng.random() * p.sum(), side="right")), len(p) - 1)
        while p[index] <= 0.0:
            index -= 1
        return common_pb2.ApprenticeChoice(
            policy=name,
            policy_version=SHARED_VERSION,
            creative_id=candidates[index],
            propensity=float(p[index]),
            served_propensity=float(p[served]),
        )
    decision = policy.pull(candidates, user_id, context, features=features)
    if decision.index == served:
        served_propensity = decision.propensity
    else:
        served_propensity = float(
            policy.probabilities(candidates, user_id, context, features=features)[served]
        )
    return common_pb2.ApprenticeChoice(
        policy=name,
        policy_version=decision.policy_version,
        creative_id=candidates[decision.index],
        propensity=decision.propensity,
        served_propensity=min(1.0, max(0.0, served_propensity)),
    )
