"""`python -m creativeloop.ranking` on a real Tansu broker with a trained model that changes under it.

Creatives and profiles go to their topics, logged impressions and clicks to ad.impressions and
ad.clicks; `train_from_kafka` reads them back from the broker and publishes a model version into
the folder the running service polls; Rank then answers with the hybrid policy and that model's
version, and again after a newer version appears (no restart). Per-bucket bandit.stats are used
for a request of that bucket.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from creativeloop.evaluation.simulation import SimulationResult, simulate, synthetic_catalogue
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, CONTENT_PROFILES, CREATIVES
from creativeloop.ranking.model import list_versions
from creativeloop.ranking.policies import HYBRID_VERSION, POLICY_VERSION, build_policy
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.local import wait_serving
from creativeloop.stack.processes import terminate
from creativeloop.training.ranker import TrainOptions, train_from_kafka
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc
from tests.unit.test_ranking_training import PlantedTaste

pytestmark = pytest.mark.integration

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE
MOBILE = {"placement": "feed", "device": "mobile"}
MOBILE_BUCKET = "placement=feed|device=mobile"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    logs = tmp_path_factory.mktemp("ranking-broker")
    with TansuBroker(log_path=logs / "tansu.log") as running:
        asyncio.run(ensure_topics(CommonSettings(bootstrap_servers=running.bootstrap_servers)))
        yield running


class RankingProcess:
    def __init__(self, bootstrap_servers: str, work_dir: Path, model_dir: Path) -> None:
        self.grpc_port = free_port()
        self.log_path = work_dir / "ranking.log"
        env = {
            **os.environ,
            "CREATIVELOOP_BOOTSTRAP_SERVERS": bootstrap_servers,
            "CREATIVELOOP_RANKING_GRPC_PORT": str(self.grpc_port),
            "CREATIVELOOP_RANKING_METRICS_PORT": str(free_port()),
            "CREATIVELOOP_RANKING_MODEL_DIR": str(model_dir),
            "CREATIVELOOP_RANKING_MODEL_POLL_S": "0.5",
            "CREATIVELOOP_RANKING_MIN_BUCKET_IMPRESSIONS": "100",
            "CREATIVELOOP_RANKING_SEED": "0",
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "creativeloop.ranking"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=work_dir,
            )

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def wait_serving(self, timeout_s: float) -> None:
        await wait_serving(self.target, self.process, timeout_s, self.log_tail)


@pytest.fixture
async def ranking(broker: TansuBroker, tmp_path: Path) -> AsyncIterator[tuple[RankingProcess, Path]]:
    model_dir = tmp_path / "models" / "ranker"
    service = RankingProcess(broker.bootstrap_servers, tmp_path, model_dir)
    try:
        yield service, model_dir
    finally:
        assert terminate(service.process, 30), service.log_tail()


def logged_traffic() -> tuple[SimulationResult, list[events_pb2.CreativeUpdated]]:
    creatives, profiles = synthetic_catalogue(4, 5, seed=7)
    policy = build_policy(RankingSettings(policy="thompson", seed=0), StatsBoard())
    return simulate(policy, creatives, profiles, 4000, PlantedTaste(), seed=1, n_users=100), creatives


async def test_rank_serves_a_trained_model_and_swaps_to_a_newer_one(
    broker: TansuBroker, ranking: tuple[RankingProcess, Path]
) -> None:
    service, model_dir = ranking
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    logged, creatives = logged_traffic()
    product_id = creatives[0].creative.product_id
    pool = [e.creative.creative_id for e in creatives if e.creative.product_id == product_id]
    async with EventProducer(settings, "ranking-test") as producer:
        await producer.send_batch(CREATIVES, [(e.creative.creative_id, e) for e in logged.logs.creatives])
        await producer.send_batch(CONTENT_PROFILES, [(e.profile.product_id, e) for e in logged.logs.profiles])
        await producer.send_batch(AD_IMPRESSIONS, [(e.impression_id, e) for e in logged.logs.impressions])
        await producer.send_batch(AD_CLICKS, [(e.impression_id, e) for e in logged.logs.clicks])
        # The bandit's records: all contexts for every creative, and a well-filled mobile bucket for one.
        await producer.send_batch(
            BANDIT_STATS,
            [
                (pool[0], events_pb2.BanditStats(creative_id=pool[0], impressions=50, clicks=2)),
                (
                    f"{pool[0]}|{MOBILE_BUCKET}",
                    events_pb2.BanditStats(
                        creative_id=pool[0], impressions=400, clicks=200, context_bucket=MOBILE_BUCKET
                    ),
                ),
            ],
        )
    await service.wait_serving(90)

    async with grpc.aio.insecure_channel(service.target) as channel:
        rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank

        async def ranked(context: dict[str, str] | None = None) -> ranking_pb2.RankResponse:
            reply: ranking_pb2.RankResponse = await rank(
                ranking_pb2.RankRequest(
                    user_id="user-00002", product_id=product_id, format=IMAGE, context=context or {}
                ),
                timeout=5,
            )
            return reply

        # No model yet: the hybrid policy is plain Thompson sampling. (Ranking follows `creatives`
        # asynchronously: retry, bounded, until it knows the product.)
        for _ in range(100):
            try:
                first = await ranked()
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc
                await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"ranking never learned the catalogue:\n{service.log_tail()}")
        assert first.policy_version == POLICY_VERSION and first.predicted_ctr == 0.0
        assert first.creative.creative_id in pool and 0 < first.propensity <= 1
        # pool[0] has enough impressions in the mobile bucket (50 % CTR there): it wins, from that bucket.
        # (bandit.stats is followed asynchronously, so poll, bounded.)
        for _ in range(100):
            mobile = await ranked(MOBILE)
            if mobile.stats_bucket:
                break
            await asyncio.sleep(0.1)
        assert (mobile.creative.creative_id, mobile.stats_bucket) == (pool[0], MOBILE_BUCKET), mobile

        # Train from what the broker holds, into the folder the service polls.
        result = await asyncio.to_thread(
            train_from_kafka, settings, model_dir, TrainOptions(seed=0), "20260101T000000Z-first"
        )
        assert result.metadata["data"]["impressions"] == len(logged.logs.impressions)
        assert result.metadata["data"]["clicks"] == logged.clicks
        assert result.metadata["metrics"]["holdout_auc"] > 0.55

        async def wait_for_version(version: str) -> ranking_pb2.RankResponse:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while True:
                reply = await ranked()
                if reply.policy_version == f"{HYBRID_VERSION}+{version}":
                    return reply
                assert loop.time() < deadline, f"still {reply.policy_version}:\n{service.log_tail()}"
                await asyncio.sleep(0.2)

        with_model = await wait_for_version("20260101T000000Z-first")
        assert 0 < with_model.predicted_ctr < 1 and with_model.creative.creative_id in pool

        # A newer version appears: swapped live, while requests keep being answered.
        await asyncio.to_thread(
            train_from_kafka, settings, model_dir, TrainOptions(seed=1, ipw=True), "20260102T000000Z-second"
        )
        await wait_for_version("20260102T000000Z-second")
        assert list_versions(model_dir) == ["20260101T000000Z-first", "20260102T000000Z-second"]
        assert service.process.poll() is None
