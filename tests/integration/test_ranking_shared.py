"""`CREATIVELOOP_RANKING_POLICY=shared` serves through a real Rank server and learns from the logs.

A ranking process on loopback with the real broker: creatives with typed features (element ids,
numeric attributes, a category) on `creatives`; Rank with typed request features answers with a
choice and its exact propensity (1/K while the model knows nothing); impressions carrying those
features and their clicks on `ad.impressions` / `ad.clicks` teach the model, after which Rank
picks the clicked creative with the inverse-gap probability it reports.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS
from creativeloop.stack.broker import TansuBroker
from creativeloop.stack.local import wait_serving
from creativeloop.stack.processes import terminate
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc
from tests.integration.helpers import publish_element_creatives, spawn_service

pytestmark = pytest.mark.integration

FEATURES = common_pb2.RequestFeatures(categorical={"device": "mobile"}, numeric={"session_depth": 3.0})


async def test_shared_policy_serves_exact_propensities_and_learns_from_the_logs(
    broker: TansuBroker, tmp_path: Path
) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    product_id, creative_ids = await publish_element_creatives(settings, "shared-test", {"text_ratio": 0.2})

    service = spawn_service(
        "ranking",
        {
            "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CREATIVELOOP_RANKING_MODEL_DIR": str(tmp_path / "models"),
            "CREATIVELOOP_RANKING_POLICY": "shared",
            "CREATIVELOOP_RANKING_REWARD_WAIT_S": "0.5",
            "CREATIVELOOP_RANKING_SEED": "0",
        },
        tmp_path,
    )
    process, log_path = service.process, service.log_path
    try:
        await wait_serving(service.target, process, 60, lambda: log_path.read_text()[-3000:])
        async with grpc.aio.insecure_channel(service.target) as channel:
            rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
            request = ranking_pb2.RankRequest(
                product_id=product_id,
                format=common_pb2.CREATIVE_FORMAT_IMAGE,
                context={"placement": "feed"},
                features=FEATURES,
            )
            first = await rank(request, timeout=5)
            assert first.policy_version == "shared-igw-v1"
            assert first.candidates == 3
            # Nothing learnt yet: the model cannot tell the candidates apart, each has exactly 1/3.
            assert first.propensity == pytest.approx(1 / 3, abs=1e-12)

            # The log: the first creative clicked half the time, the others never.
            async with EventProducer(settings, "shared-test-log") as producer:
                impressions, clicks = [], []
                for n in range(600):
                    creative_id = creative_ids[n % 3]
                    impression_id = f"imp-{n}"
                    impressions.append(
                        (
                            impression_id,
                            events_pb2.Impression(
                                impression_id=impression_id,
                                user_id=f"user-{n % 50}",
                                product_id=product_id,
                                creative_id=creative_id,
                                propensity=1 / 3,
                                context={"placement": "feed"},
                                features=FEATURES,
                            ),
                        )
                    )
                    if creative_id == creative_ids[0] and n % 2 == 0:
                        clicks.append(
                            (
                                impression_id,
                                events_pb2.Click(impression_id=impression_id, creative_id=creative_id),
                            )
                        )
                await producer.send_batch(AD_IMPRESSIONS, impressions)
                await producer.send_batch(AD_CLICKS, clicks)

            deadline = time.monotonic() + 60
            while True:
                response = await rank(request, timeout=5)
                if response.creative.creative_id == creative_ids[0] and response.propensity > 0.9:
                    break
                assert time.monotonic() < deadline, (response, log_path.read_text()[-3000:])
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # every impression's wait is over: the model stays as it is
            chosen = [await rank(request, timeout=5) for _ in range(50)]
            best = [r for r in chosen if r.creative.creative_id == creative_ids[0]]
            assert len(best) >= 40, [r.creative.creative_id for r in chosen]
            # One distribution per request state: the best's propensity is the same on every pick,
            # and an explored creative reports its own, small one.
            assert len({round(r.propensity, 12) for r in best}) == 1
            assert all(r.propensity < 0.1 for r in chosen if r.creative.creative_id != creative_ids[0])
    finally:
        assert terminate(process, 30)
