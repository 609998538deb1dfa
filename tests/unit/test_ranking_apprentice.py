"""Apprentice mode in Rank (`creativeloop.ranking.apprentice`) over a real in-process gRPC server.

Serving: Thompson sampling without counts (every creative 1/3, estimated by Monte Carlo);
apprentice: ``shared``, taught that one creative is clicked. Each response carries the
apprentice's choice and its exact probability of the creative served; a `ranking.policy`
record swaps the two, a tombstone undoes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest

from creativeloop.ranking.apprentice import PolicyRoles
from creativeloop.ranking.control import PINNED_POLICY_VERSION
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import POLICY_VERSION, SHARED_VERSION, SharedModelPolicy, ThompsonPolicy
from creativeloop.ranking.service import RankingServicer
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.stack.broker import free_port
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc

IDS = ["c0", "c1", "c2"]
FEATURES = common_pb2.RequestFeatures(categorical={"device": "mobile"})


@dataclass
class Served:
    roles: PolicyRoles
    shared: SharedModelPolicy
    catalogue: CreativeCatalogue
    rank: Any


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    catalogue, features = CreativeCatalogue(), FeatureStore(100, 10)
    for i, cid in enumerate(IDS):
        event = events_pb2.CreativeUpdated(
            creative=common_pb2.Creative(
                creative_id=cid,
                product_id="p1",
                format=common_pb2.CREATIVE_FORMAT_IMAGE,
                category="shoes",
                elements={"template": f"t{i}"},
            )
        )
        catalogue.apply(cid, event)
        features.apply_creative(cid, event)
    shared = SharedModelPolicy(features, seed=0)
    rng = np.random.default_rng(0)
    for n in range(600):
        cid = IDS[n % 3]
        shared.update(
            events_pb2.Impression(impression_id=f"i{n}", creative_id=cid, features=FEATURES),
            bool(cid == "c0" and rng.random() < 0.5),
        )
    settings = RankingSettings(policy="thompson", apprentice_policy="shared", seed=0)
    roles = PolicyRoles(
        {"thompson": ThompsonPolicy(StatsBoard(), seed=0), "shared": shared}, "thompson", "shared"
    )
    server = grpc.aio.server()
    ranking_pb2_grpc.add_RankingServiceServicer_to_server(RankingServicer(settings, catalogue, roles), server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Served(roles, shared, catalogue, ranking_pb2_grpc.RankingServiceStub(channel).Rank)
    finally:
        await server.stop(None)


REQUEST = ranking_pb2.RankRequest(product_id="p1", features=FEATURES)


async def test_every_rank_carries_the_apprentices_choice_and_exact_propensity(served: Served) -> None:
    exact = served.shared.probabilities(IDS, features=FEATURES)
    assert exact[0] > 0.9  # the apprentice has learnt that c0 is clicked
    replies = [await served.rank(REQUEST) for _ in range(60)]
    for reply in replies:
        # Thompson's propensity is its Monte Carlo estimate (1,000 draws) of 1/3.
        assert reply.policy_version == POLICY_VERSION and reply.propensity == pytest.approx(1 / 3, abs=0.06)
        apprentice = reply.apprentice
        assert (apprentice.policy, apprentice.policy_version) == ("shared", SHARED_VERSION)
        served_index = IDS.index(reply.creative.creative_id)
        assert apprentice.served_propensity == pytest.approx(exact[served_index], abs=1e-12)
        assert apprentice.propensity == pytest.approx(exact[IDS.index(apprentice.creative_id)], abs=1e-12)
    # The response is the serving policy's: it shows every creative; the apprentice keeps to c0.
    assert {r.creative.creative_id for r in replies} == set(IDS)
    assert sum(r.apprentice.creative_id == "c0" for r in replies) >= 50


async def test_a_promotion_swaps_the_policies_live_and_a_tombstone_rolls_back(served: Served) -> None:
    served.roles.assign("ranking", events_pb2.PolicyAssignment(serving="shared", actor="ope-gate"))
    reply = await served.rank(REQUEST)
    assert reply.policy_version == SHARED_VERSION
    assert reply.apprentice.policy == "thompson" and reply.apprentice.policy_version == POLICY_VERSION
    assert reply.apprentice.served_propensity == pytest.approx(1 / 3, abs=0.06)  # Thompson without counts
    # The same record again, or one naming a policy this replica does not run, changes nothing.
    served.roles.assign("ranking", events_pb2.PolicyAssignment(serving="shared"))
    served.roles.assign("ranking", events_pb2.PolicyAssignment(serving="lints"))
    assert (served.roles.serving_name, served.roles.switches) == ("shared", 1)
    served.roles.reset("ranking")
    reply = await served.rank(REQUEST)
    assert reply.policy_version == POLICY_VERSION and reply.apprentice.policy == "shared"


async def test_a_pinned_creative_has_no_apprentice_choice(served: Served) -> None:
    served.catalogue.apply_control(
        "c1",
        events_pb2.CreativeControl(creative_id="c1", product_id="p1", action=events_pb2.CONTROL_ACTION_PIN),
    )
    reply = await served.rank(REQUEST)
    assert reply.policy_version == PINNED_POLICY_VERSION and not reply.HasField("apprentice")


def test_the_apprentice_must_differ_from_the_serving_policy() -> None:
    with pytest.raises(ValueError, match="is the serving policy"):
        RankingSettings(policy="shared", apprentice_policy="shared")
    assert RankingSettings().apprentice_policy == ""


class Broken(ThompsonPolicy):
    def pull(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the candidate")


async def test_a_failing_apprentice_never_fails_the_response(served: Served) -> None:
    roles = PolicyRoles(
        {"thompson": ThompsonPolicy(StatsBoard(), seed=0), "lints": Broken(StatsBoard())}, "thompson", "lints"
    )
    settings = RankingSettings(policy="thompson", apprentice_policy="lints", seed=0)
    servicer = RankingServicer(settings, served.catalogue, roles)
    server = grpc.aio.server()
    ranking_pb2_grpc.add_RankingServiceServicer_to_server(servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await ranking_pb2_grpc.RankingServiceStub(channel).Rank(REQUEST)
        assert reply.policy_version == POLICY_VERSION and reply.creative.creative_id in IDS
        assert not reply.HasField("apprentice")
    finally:
        await server.stop(None)
