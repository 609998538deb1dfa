"""Apprentice mode and the OPE gate through a real Rank server and the real broker.

A ranking process on loopback serves Thompson sampling (no bandit runs, so it cannot tell the
creatives apart and shows each about a third of the time) with ``shared`` as its apprentice. The
test plays the ad server: it logs each Rank's impression with `RankResponse.apprentice` copied
and clicks the first creative half the time, the others 5 % of the time. The apprentice learns
from those outcomes in shadow. `run_gate` then reads the logs: on the first 100 impressions it
refuses (too little data); on 900 it promotes ``shared``, and ranking switches live (the
response's `policy_version` changes, Thompson becomes the apprentice); `rollback` switches back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from creativeloop.evaluation.ope.gate import rollback, run_gate
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS
from creativeloop.ranking.policies import POLICY_VERSION, SHARED_VERSION
from creativeloop.stack.broker import TansuBroker
from creativeloop.stack.local import wait_serving
from creativeloop.stack.processes import terminate
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc
from tests.integration.helpers import publish_element_creatives, spawn_service

pytestmark = pytest.mark.integration

FEATURES = common_pb2.RequestFeatures(categorical={"device": "mobile"}, numeric={"session_depth": 3.0})
CTR = (0.5, 0.05, 0.05)


async def test_apprentice_is_logged_then_promoted_by_the_gate_and_ranking_switches_live(
    broker: TansuBroker, tmp_path: Path
) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    product_id, creative_ids = await publish_element_creatives(settings, "apprentice-test")

    service = spawn_service(
        "ranking",
        {
            "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CREATIVELOOP_RANKING_MODEL_DIR": str(tmp_path / "models"),
            "CREATIVELOOP_RANKING_POLICY": "thompson",
            "CREATIVELOOP_RANKING_APPRENTICE_POLICY": "shared",
            "CREATIVELOOP_RANKING_REWARD_WAIT_S": "0.5",
            "CREATIVELOOP_RANKING_SEED": "0",
        },
        tmp_path,
    )
    process, log_path = service.process, service.log_path
    rng = np.random.default_rng(0)
    request = ranking_pb2.RankRequest(
        product_id=product_id,
        format=common_pb2.CREATIVE_FORMAT_IMAGE,
        context={"placement": "feed"},
        features=FEATURES,
    )

    def logs() -> str:
        return log_path.read_text()[-3000:]

    async def serve(rank: Any, n: int, start: int, producer: EventProducer) -> None:
        """Rank `n` requests as the ad server would, logging impressions (apprentice copied) and clicks."""
        impressions, clicks = [], []
        for i in range(start, start + n):
            reply = await rank(request, timeout=5)
            assert reply.policy_version == POLICY_VERSION, reply
            assert reply.apprentice.policy == "shared" and reply.apprentice.policy_version == SHARED_VERSION
            impression = events_pb2.Impression(
                impression_id=reply.impression_id,
                user_id=f"user-{i % 50}",
                product_id=product_id,
                creative_id=reply.creative.creative_id,
                propensity=reply.propensity,
                policy_version=reply.policy_version,
                shown_at=now_timestamp(),
                context=request.context,
                features=FEATURES,
                apprentice=reply.apprentice,
            )
            impressions.append((reply.impression_id, impression))
            if rng.random() < CTR[creative_ids.index(reply.creative.creative_id)]:
                clicks.append(
                    (
                        reply.impression_id,
                        events_pb2.Click(
                            impression_id=reply.impression_id,
                            creative_id=reply.creative.creative_id,
                            clicked_at=now_timestamp(),
                        ),
                    )
                )
        await producer.send_batch(AD_IMPRESSIONS, impressions)
        await producer.send_batch(AD_CLICKS, clicks)

    async def wait_for(rank: Any, version: str) -> ranking_pb2.RankResponse:
        deadline = time.monotonic() + 60
        while True:
            reply: ranking_pb2.RankResponse = await rank(request, timeout=5)
            if reply.policy_version == version:
                return reply
            assert time.monotonic() < deadline, (reply, logs())
            await asyncio.sleep(0.2)

    try:
        await wait_serving(service.target, process, 60, logs)
        async with (
            grpc.aio.insecure_channel(service.target) as channel,
            EventProducer(settings, "apprentice-test-log") as producer,
        ):
            rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
            await serve(rank, 100, 0, producer)
            await asyncio.sleep(1.0)  # every attribution window (0.5 s) has closed
            early = await run_gate(settings, reward_wait_s=0.5, min_impressions=500)
            assert early.rounds is not None and early.decision is not None, early.format()
            assert early.rounds.apprentice == "shared" and early.rounds.serving_version == POLICY_VERSION
            assert len(early.rounds.rewards) == 100 and early.rounds.pending == 0
            # Logged propensities are the apprentice's, exact and in [0, 1], for the served creative.
            assert np.all((early.rounds.target >= 0) & (early.rounds.target <= 1))
            assert not early.decision.promote and not early.promoted, early.format()
            assert "too little data" in early.decision.reason
            assert (await rank(request, timeout=5)).policy_version == POLICY_VERSION

            for batch in range(8):
                await serve(rank, 100, 100 * (batch + 1), producer)
            await asyncio.sleep(1.0)
            report = await run_gate(settings, reward_wait_s=0.5, min_impressions=500)
            assert report.decision is not None and report.rounds is not None, report.format()
            assert len(report.rounds.rewards) == 900
            assert report.decision.promote and report.promoted, report.format()
            assert report.decision.lift.low > 0 and "PROMOTE" in report.format()
            # The apprentice learnt to prefer the clicked creative while Thompson stayed uniform.
            assert report.decision.apprentice.value > report.decision.serving.value

            promoted = await wait_for(rank, SHARED_VERSION)
            assert (
                promoted.apprentice.policy == "thompson"
                and promoted.apprentice.policy_version == POLICY_VERSION
            )
            # The promoted policy serves what it learnt in shadow.
            shown = [(await rank(request, timeout=5)).creative.creative_id for _ in range(30)]
            assert shown.count(creative_ids[0]) >= 25, shown

            await rollback(settings)
            back = await wait_for(rank, POLICY_VERSION)
            assert back.apprentice.policy == "shared"
    finally:
        assert terminate(process, 30)
