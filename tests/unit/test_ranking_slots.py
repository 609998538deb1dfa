"""Multi-slot Rank (`RankRequest.slots`) over a real in-process gRPC server with fixed stats.

The propensity each slot reports is the marginal P(this creative fills this slot): over many
calls, how often a creative lands in a slot must match the mean propensity reported for it there
(within a statistical tolerance; the server is seeded, so the test is deterministic). Slates never
repeat a creative; one slot is unchanged; pinned creatives fill the first slots; too many slots
is INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest

from creativeloop.ranking.control import PINNED_POLICY_VERSION
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import (
    LINTS_VERSION,
    POLICY_VERSION,
    SHARED_VERSION,
    LinTSPolicy,
    Policy,
    SharedModelPolicy,
    ThompsonPolicy,
)
from creativeloop.ranking.service import RankingServicer
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.stack.broker import free_port
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc

IDS = ["c0", "c1", "c2", "c3"]
#: Fixed bandit.stats: 20 impressions each, overlapping Beta posteriors.
CLICKS = {"c0": 2.0, "c1": 4.0, "c2": 6.0, "c3": 8.0}
FEATURES = common_pb2.RequestFeatures(categorical={"device": "mobile"})


@dataclass
class Ranking:
    catalogue: CreativeCatalogue
    policy: Policy
    rank: Any


def creative(cid: str) -> events_pb2.CreativeUpdated:
    return events_pb2.CreativeUpdated(
        creative=common_pb2.Creative(
            creative_id=cid,
            product_id="p1",
            format=common_pb2.CREATIVE_FORMAT_IMAGE,
            category="shoes",
            elements={"template": f"t{cid}"},
        )
    )


def thompson() -> tuple[RankingSettings, CreativeCatalogue, Policy]:
    settings = RankingSettings(policy="thompson", seed=0, max_slots=3)
    catalogue, stats = CreativeCatalogue(), StatsBoard()
    for cid in IDS:
        catalogue.apply(cid, creative(cid))
        stats.apply(cid, events_pb2.BanditStats(creative_id=cid, impressions=20.0, clicks=CLICKS[cid]))
    return settings, catalogue, ThompsonPolicy(stats, propensity_samples=1000, seed=0)


def shared() -> tuple[RankingSettings, CreativeCatalogue, Policy]:
    settings = RankingSettings(policy="shared", seed=0)
    catalogue, features = CreativeCatalogue(), FeatureStore(100, 10)
    for cid in IDS:
        catalogue.apply(cid, creative(cid))
        features.apply_creative(cid, creative(cid))
    policy = SharedModelPolicy(features, gamma=8.0, seed=0, slate_samples=200)
    rng = np.random.default_rng(0)
    for n in range(400):  # c0 is clicked most, c3 least
        cid = IDS[n % 4]
        click = rng.random() < {"c0": 0.5, "c1": 0.3, "c2": 0.2, "c3": 0.1}[cid]
        policy.update(events_pb2.Impression(impression_id=f"i{n}", creative_id=cid, features=FEATURES), click)
    return settings, catalogue, policy


async def serve(
    build: Callable[[], tuple[RankingSettings, CreativeCatalogue, Policy]],
) -> AsyncIterator[Ranking]:
    settings, catalogue, policy = build()
    server = grpc.aio.server()
    ranking_pb2_grpc.add_RankingServiceServicer_to_server(
        RankingServicer(settings, catalogue, policy), server
    )
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Ranking(catalogue, policy, ranking_pb2_grpc.RankingServiceStub(channel).Rank)
    finally:
        await server.stop(None)


@pytest.fixture
async def ranking() -> AsyncIterator[Ranking]:
    async for served in serve(thompson):
        yield served


@pytest.fixture
async def shared_ranking() -> AsyncIterator[Ranking]:
    async for served in serve(shared):
        yield served


async def check_marginals(rank: Any, request: ranking_pb2.RankRequest, calls: int, version: str) -> None:
    """Reported per-slot propensities match the empirical slot frequencies of `calls` Rank calls."""
    slots = request.slots
    hits: dict[tuple[str, int], int] = defaultdict(int)
    reported: dict[tuple[str, int], list[float]] = defaultdict(list)
    for _ in range(calls):
        reply = await rank(request)
        slate = list(reply.slate)
        assert [s.slot for s in slate] == list(range(slots))
        ids = [s.creative.creative_id for s in slate]
        assert len(set(ids)) == slots  # never a creative twice
        assert len({s.impression_id for s in slate}) == slots
        # The single-slot fields describe slot 0.
        assert reply.creative == slate[0].creative and reply.impression_id == slate[0].impression_id
        assert reply.propensity == slate[0].propensity and reply.policy_version == version
        for s in slate:
            assert s.policy_version == version and 0.0 < s.propensity <= 1.0
            hits[s.creative.creative_id, s.slot] += 1
            reported[s.creative.creative_id, s.slot].append(s.propensity)
    for k in range(slots):
        assert sum(np.mean(reported[cid, k]) for cid in IDS if reported[cid, k]) == pytest.approx(
            1.0, abs=0.05
        )
        for cid in IDS:
            frequency = hits[cid, k] / calls
            if not reported[cid, k]:
                continue  # never there: its propensity was never reported (checked by the sum above)
            p = float(np.mean(reported[cid, k]))
            tolerance = 4.5 * np.sqrt(p * (1 - p) / calls) + 0.01  # sampling + Monte Carlo bias
            assert frequency == pytest.approx(p, abs=tolerance), (cid, k, frequency, p)


async def test_thompson_slot_propensities_match_the_frequencies(ranking: Ranking) -> None:
    request = ranking_pb2.RankRequest(product_id="p1", slots=3)
    await check_marginals(ranking.rank, request, 1500, POLICY_VERSION)
    # Slot 0's propensity is the exact (quadrature) one of a single-slot Rank.
    exact = ranking.policy.probabilities(IDS)
    reply = await ranking.rank(request)
    first = reply.slate[0]
    assert first.propensity == pytest.approx(exact[IDS.index(first.creative.creative_id)], abs=2e-3)


async def test_shared_sequential_slot_propensities_match_the_frequencies(shared_ranking: Ranking) -> None:
    request = ranking_pb2.RankRequest(product_id="p1", slots=2, features=FEATURES)
    exact = shared_ranking.policy.probabilities(IDS, features=FEATURES)
    assert exact.max() < 0.95  # the test means something: slot 0 is not always the same creative
    await check_marginals(shared_ranking.rank, request, 1200, SHARED_VERSION)


async def test_one_slot_is_unchanged(ranking: Ranking) -> None:
    for slots in (0, 1):
        reply = await ranking.rank(ranking_pb2.RankRequest(product_id="p1", slots=slots))
        assert len(reply.slate) == 0 and reply.creative.creative_id in IDS
        assert reply.policy_version == POLICY_VERSION and reply.impression_id and reply.candidates == 4
        exact = ranking.policy.probabilities(IDS)
        assert reply.propensity == pytest.approx(exact[IDS.index(reply.creative.creative_id)], abs=2e-3)


async def test_a_slate_of_every_candidate_is_a_permutation() -> None:
    settings, catalogue, policy = thompson()
    servicer = RankingServicer(settings.model_copy(update={"max_slots": 4}), catalogue, policy)
    server = grpc.aio.server()
    ranking_pb2_grpc.add_RankingServiceServicer_to_server(servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
            for _ in range(20):
                reply = await rank(ranking_pb2.RankRequest(product_id="p1", slots=4))
                assert sorted(s.creative.creative_id for s in reply.slate) == IDS
    finally:
        await server.stop(None)


@pytest.mark.parametrize("slots", [-1, 4, 5, 1000])
async def test_too_many_slots_is_invalid_argument(ranking: Ranking, slots: int) -> None:
    # 4 live candidates, max_slots 3: 4 is over the limit, 5 over the candidates too.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ranking.rank(ranking_pb2.RankRequest(product_id="p1", slots=slots))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_more_slots_than_live_candidates_is_invalid_argument(ranking: Ranking) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ranking.rank(
            ranking_pb2.RankRequest(product_id="p1", slots=3, candidate_creative_ids=["c0", "c1"])
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "live" in (raised.value.details() or "")
    reply = await ranking.rank(
        ranking_pb2.RankRequest(product_id="p1", slots=2, candidate_creative_ids=["c0", "c1"])
    )
    assert {s.creative.creative_id for s in reply.slate} == {"c0", "c1"}


async def test_pinned_creatives_fill_the_first_slots(ranking: Ranking) -> None:
    for cid in ("c1", "c3"):
        ranking.catalogue.apply_control(
            cid,
            events_pb2.CreativeControl(
                creative_id=cid, product_id="p1", action=events_pb2.CONTROL_ACTION_PIN
            ),
        )
    firsts: set[str] = set()
    for _ in range(40):
        reply = await ranking.rank(ranking_pb2.RankRequest(product_id="p1", slots=3))
        slate = list(reply.slate)
        assert {s.creative.creative_id for s in slate[:2]} == {"c1", "c3"}
        assert all(s.policy_version == PINNED_POLICY_VERSION and s.propensity == 0.5 for s in slate[:2])
        assert slate[2].creative.creative_id in {"c0", "c2"} and slate[2].policy_version == POLICY_VERSION
        assert reply.policy_version == PINNED_POLICY_VERSION
        firsts.add(slate[0].creative.creative_id)
    assert firsts == {"c1", "c3"}  # the pinned ones' order is random
    reply = await ranking.rank(ranking_pb2.RankRequest(product_id="p1", slots=2))
    assert {s.creative.creative_id for s in reply.slate} == {"c1", "c3"}


def test_lints_slates_never_repeat_and_report_marginals() -> None:
    policy = LinTSPolicy(FeatureStore(), propensity_samples=500, seed=1)
    for _ in range(20):
        slate = policy.pull_slate(IDS, 3, user_id="u")
        assert len({d.index for d in slate}) == 3
        assert all(0.0 < d.propensity <= 1.0 and d.policy_version == LINTS_VERSION for d in slate)
    assert [d.propensity for d in policy.pull_slate(["only"], 1)] == [1.0]
