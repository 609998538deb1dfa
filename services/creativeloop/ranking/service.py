"""The Rank RPC: choose one creative for a request and say how likely that choice was.

Only LIVE creatives are served (see `creativeloop.kit.lifecycle`). Paused, retired and rejected
ones are skipped, also when the request names them in ``candidate_creative_ids``; when nothing
live is left the call fails with FAILED_PRECONDITION, naming how many creatives are in which
state. A product (or candidate id) ranking never saw fails with INVALID_ARGUMENT. Rejected
creatives (`creative.controls`) count as not live; pinned live candidates are served outside the
policy (see `creativeloop.ranking.control`).

In apprentice mode (`creativeloop.ranking.apprentice`) a second policy chooses in shadow on every
Rank the policy serves; its choice and its probability of the served creative travel on
`RankResponse.apprentice`. It never changes the response: if it fails, the response goes without
it (logged).

Multi-slot Rank (``RankRequest.slots`` = K > 1) fills K slots with K different creatives,
returned in slot order on ``RankResponse.slate``; the single-slot fields describe slot 0 (and are
all a one-slot response carries, as before). Each slot is its own impression (own id; the ad server
logs ``Impression.slot``) and carries its *marginal* propensity, P(this creative fills this slot)
under the policy for this request, the entry of the policy's ``slate_probabilities``. That is what
off-policy evaluation divides by when it scores slots one by one (per-slot, "independent" IPS, as
OBP's ``len_list`` estimators): the reward of slot k is reweighted by π_target(a in k) /
π_logging(a in k), which needs neither the earlier slots' creatives to match nor the joint slate
probability (whose product form would explode the variance). The Thompson policies draw every
candidate's score once and show the best K; ``shared`` draws slot after slot from the remaining
candidates' inverse-gap weights (`Policy.pull_slate`). Slot 0's propensity is exact (as for one
slot); the later slots' are Monte Carlo over ``propensity_samples`` draws, the served one among
them (standard error at most 0.5/sqrt(draws)). K above the live candidates, or above
``max_slots``, or negative, is INVALID_ARGUMENT. Pinned live creatives fill the first slots
(all of them when K is at most how many are pinned) in a uniformly random order, each with
propensity 1/(number pinned) and policy version ``pinned-v1``; the policy fills the slots after
them from the other live candidates, with its propensities over those. The apprentice shadows
slot 0 only (unset when slot 0 is pinned).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import grpc
import numpy as np

from creativeloop.kit.logs import get_logger
from creativeloop.kit.validation import MAX_MAP_ENTRIES, Invalid, check_finite, check_id, check_map, require
from creativeloop.ranking.apprentice import PolicyRoles, shadow
from creativeloop.ranking.control import PINNED_POLICY_VERSION
from creativeloop.ranking.policies import POLICY_VERSION, Policy
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc

__all__ = ["POLICY_VERSION", "RankingServicer"]

log = get_logger(__name__)


def _count_states(states: Mapping[str, int]) -> str:
    """E.g. "2 CREATIVE_STATE_PAUSED, 1 CREATIVE_STATE_RETIRED"."""
    counts = Counter(events_pb2.CreativeState.Name(state) for state in states.values())
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))


_FORMATS = frozenset(common_pb2.CreativeFormat.values())


def _check(request: ranking_pb2.RankRequest) -> None:
    """The request's ids, context, typed features and format are sane (`kit.validation`), or `Invalid`."""
    check_id("product_id", request.product_id, required=True)
    check_id("user_id", request.user_id)
    for creative_id in request.candidate_creative_ids:
        check_id("candidate_creative_ids", creative_id)
    check_map("context", request.context)
    check_map("features.categorical", request.features.categorical)
    numeric = request.features.numeric
    require(
        len(numeric) <= MAX_MAP_ENTRIES,
        f"features.numeric has {len(numeric)} entries, over {MAX_MAP_ENTRIES}",
    )
    for key, value in numeric.items():
        check_id("features.numeric key", key)
        check_finite(f"features.numeric[{key!r}]", value, minimum=None)
    require(request.format in _FORMATS, f"unknown format {request.format}")


class RankingServicer(ranking_pb2_grpc.RankingServiceServicer):
    def __init__(
        self, settings: RankingSettings, catalogue: CreativeCatalogue, policy: Policy | PolicyRoles
    ) -> None:
        """`policy`: the one policy to serve, or the `PolicyRoles` (serving + apprentice) to follow."""
        self._settings = settings
        self._catalogue = catalogue
        self._roles = (
            policy
            if isinstance(policy, PolicyRoles)
            else PolicyRoles({settings.policy: policy}, settings.policy)
        )
        self._random = random.Random(settings.seed)
        self._shadow_rng = np.random.default_rng(None if settings.seed is None else settings.seed + 1)

    async def Rank(
        self, request: ranking_pb2.RankRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ranking_pb2.RankResponse:
        try:
            _check(request)
        except Invalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        if len(request.candidate_creative_ids) > self._settings.max_candidates:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(request.candidate_creative_ids)} candidates, limit {self._settings.max_candidates}",
            )
        creative_format = request.format or common_pb2.CREATIVE_FORMAT_IMAGE
        format_name = common_pb2.CreativeFormat.Name(creative_format)
        candidates = self._catalogue.candidates(request.product_id, creative_format)
        inactive = self._catalogue.inactive(request.product_id)
        if request.candidate_creative_ids:
            wanted = set(request.candidate_creative_ids)
            unknown = wanted - {c.creative_id for c in candidates} - set(inactive)
            if unknown:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"unknown for product {request.product_id!r} in {format_name}: {sorted(unknown)[:5]}",
                )
            candidates = [c for c in candidates if c.creative_id in wanted]  # non-live ones skipped
            inactive = {cid: state for cid, state in inactive.items() if cid in wanted}
        if not candidates and inactive:
            # The product (or the requested candidates) had creatives, none of them live now.
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"no live {format_name} creatives for product {request.product_id!r}: "
                f"{_count_states(inactive)}",
            )
        if not candidates:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unknown product_id {request.product_id!r}: no live {format_name} creatives",
            )
        slots = max(request.slots, 1)
        if request.slots < 0 or slots > self._settings.max_slots:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"slots {request.slots} outside [0, {self._settings.max_slots}]",
            )
        if slots > len(candidates):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"slots {slots} over the {len(candidates)} live {format_name} candidates",
            )
        pinned = self._catalogue.pinned(candidates)
        if slots > 1:
            return self._rank_slate(request, candidates, pinned, slots)
        if pinned:  # a person's choice, outside the bandit: uniform among the pinned, said so
            return ranking_pb2.RankResponse(
                creative=pinned[self._random.randrange(len(pinned))],
                propensity=1.0 / len(pinned),
                impression_id=uuid.uuid4().hex,
                policy_version=PINNED_POLICY_VERSION,
                candidates=len(candidates),
            )
        ids = [c.creative_id for c in candidates]
        features = request.features if request.HasField("features") else None
        decision = self._roles.serving.pull(ids, request.user_id, request.context, features=features)
        shadowed = self._shadow(request, ids, decision.index, features)
        return ranking_pb2.RankResponse(
            apprentice=shadowed,
            creative=candidates[decision.index],
            propensity=decision.propensity,
            impression_id=uuid.uuid4().hex,
            policy_version=decision.policy_version,
            candidates=len(candidates),
            predicted_ctr=decision.predicted_ctr,
            stats_bucket=decision.stats_bucket,
        )

    def _shadow(
        self,
        request: ranking_pb2.RankRequest,
        ids: list[str],
        served: int,
        features: common_pb2.RequestFeatures | None,
    ) -> common_pb2.ApprenticeChoice | None:
        """The apprentice's choice beside the served `ids[served]` (None: no apprentice, or it failed)."""
        apprentice = self._roles.apprentice
        if apprentice is None:
            return None
        try:  # the apprentice never changes, nor fails, the response
            return shadow(
                self._roles.apprentice_name,
                apprentice,
                ids,
                served,
                self._shadow_rng,
                request.user_id,
                request.context,
                features,
            )
        except Exception as exc:
            log.error(
                "apprentice failed; served without it",
                apprentice=self._roles.apprentice_name,
                error=repr(exc),
            )
            return None

    def _rank_slate(
        self,
        request: ranking_pb2.RankRequest,
        candidates: list[common_pb2.Creative],
        pinned: list[common_pb2.Creative],
        slots: int,
    ) -> ranking_pb2.RankResponse:
        """`slots` (> 1, at most the candidates) different creatives in slot order (module doc)."""
        slate: list[ranking_pb2.SlotChoice] = []
        pinned_ids = {c.creative_id for c in pinned}
        for creative in self._random.sample(pinned, min(slots, len(pinned))):  # uniform order
            slate.append(
                ranking_pb2.SlotChoice(
                    creative=creative, propensity=1.0 / len(pinned), policy_version=PINNED_POLICY_VERSION
                )
            )
        rest = [c for c in candidates if c.creative_id not in pinned_ids]
        features = request.features if request.HasField("features") else None
        shadowed = None
        if len(slate) < slots:
            ids = [c.creative_id for c in rest]
            decisions = self._roles.serving.pull_slate(
                ids, slots - len(slate), request.user_id, request.context, features=features
            )
            if not slate:
                shadowed = self._shadow(request, ids, decisions[0].index, features)
            for decision in decisions:
                slate.append(
                    ranking_pb2.SlotChoice(
                        creative=rest[decision.index],
                        propensity=decision.propensity,
                        policy_version=decision.policy_version,
                        predicted_ctr=decision.predicted_ctr,
                        stats_bucket=decision.stats_bucket,
                    )
                )
        for k, choice in enumerate(slate):
            choice.slot = k
            choice.impression_id = uuid.uuid4().hex
        first = slate[0]
        return ranking_pb2.RankResponse(
            apprentice=shadowed,
            creative=first.creative,
            propensity=first.propensity,
            impression_id=first.impression_id,
            policy_version=first.policy_version,
            candidates=len(candidates),
            predicted_ctr=first.predicted_ctr,
            stats_bucket=first.stats_bucket,
            slate=slate,
        )
