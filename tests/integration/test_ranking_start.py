"""Ranking starts from latest state only, and reads a bounded amount of it whatever the history.

The broker holds a long history: tens of thousands of old `bandit.stats` and `user.behaviour`
records (stamped two hours ago; Tansu compacts nothing) and impressions and clicks. A ranking
replica must not read `ad.impressions` / `ad.clicks` at all, and of the latest-state topics only
the look-back (the bandit re-publishes every key within it): what it reads at start-up does not
grow with the history.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaProducer

from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.kit.codec import encode
from creativeloop.kit.context import stats_key
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_IMPRESSIONS, BANDIT_STATS, CREATIVES, USER_BEHAVIOUR
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.local import wait_serving
from creativeloop.stack.processes import terminate
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc, streams_pb2

pytestmark = pytest.mark.integration

OLD_MS = int((time.time() - 2 * 3600) * 1000)


async def history(bootstrap: str, creative_ids: list[str], old: int, recent_clicks: float) -> None:
    """`old` stale records on bandit.stats and user.behaviour, then one recent record per key."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10)
    await producer.start()
    try:
        futures = []
        for n in range(old):
            creative_id = creative_ids[n % len(creative_ids)]
            stale = events_pb2.BanditStats(creative_id=creative_id, impressions=n, clicks=0)
            futures.append(
                await producer.send(
                    BANDIT_STATS.name, encode(stale), key=creative_id.encode(), timestamp_ms=OLD_MS + n
                )
            )
            user = streams_pb2.UserBehaviour(user_id=f"user-{n % 500}")
            user.creatives.add(creative_id=creative_id, impressions=1, clicks=0)
            futures.append(
                await producer.send(
                    USER_BEHAVIOUR.name, encode(user), key=user.user_id.encode(), timestamp_ms=OLD_MS + n
                )
            )
            impression = events_pb2.Impression(
                impression_id=f"old-{n}", creative_id=creative_id, propensity=0.5
            )
            futures.append(
                await producer.send(AD_IMPRESSIONS.name, encode(impression), key=f"old-{n}".encode())
            )
        for i, creative_id in enumerate(creative_ids):
            fresh = events_pb2.BanditStats(
                creative_id=creative_id, impressions=1000, clicks=recent_clicks * 1000 if i == 0 else 0
            )
            futures.append(
                await producer.send(BANDIT_STATS.name, encode(fresh), key=stats_key(creative_id).encode())
            )
        futures.append(await producer.send(USER_BEHAVIOUR.name, None, key=b"user-7"))  # a tombstone
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_a_feed_with_a_look_back_reads_only_the_recent_records(broker: TansuBroker) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    creatives = [f"c{i}" for i in range(20)]
    await history(broker.bootstrap_servers, creatives, old=20_000, recent_clicks=0.5)
    latest: dict[str, events_pb2.BanditStats] = {}
    deleted: list[str] = []
    stats: TopicFeed[Any] = TopicFeed(
        settings, BANDIT_STATS, lambda k, e: latest.__setitem__(k, e), lookback_s=600
    )
    behaviour: TopicFeed[Any] = TopicFeed(
        settings, USER_BEHAVIOUR, lambda k, e: None, delete=deleted.append, lookback_s=600
    )
    everything: TopicFeed[Any] = TopicFeed(settings, BANDIT_STATS, lambda k, e: None)
    tasks = [asyncio.create_task(feed.run()) for feed in (stats, behaviour, everything)]
    try:
        for feed in (stats, behaviour, everything):
            await asyncio.wait_for(feed.caught_up.wait(), 60)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert everything.records_read >= 20_020
    # The look-back reads the recent records and at most one fetched batch more per partition.
    assert stats.records_read < 2_000, stats.records_read
    assert behaviour.records_read < 2_000, behaviour.records_read
    assert {k: e.impressions for k, e in latest.items()} == {c: 1000.0 for c in creatives}
    assert deleted == ["user-7"]


async def test_ranking_reads_no_logs_and_a_bounded_look_back_at_start(
    broker: TansuBroker, tmp_path: Path
) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    creatives_events, _ = synthetic_catalogue(1, 4, seed=3)
    creative_ids = [e.creative.creative_id for e in creatives_events]
    async with EventProducer(settings, "start-test") as producer:
        await producer.send_batch(CREATIVES, [(e.creative.creative_id, e) for e in creatives_events])
    await history(broker.bootstrap_servers, creative_ids, old=30_000, recent_clicks=0.9)

    log_path = tmp_path / "ranking.log"
    port = free_port()
    env = {
        **os.environ,
        "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CREATIVELOOP_RANKING_GRPC_PORT": str(port),
        "CREATIVELOOP_RANKING_METRICS_PORT": str(free_port()),
        "CREATIVELOOP_RANKING_MODEL_DIR": str(tmp_path / "models"),
        "CREATIVELOOP_RANKING_SEED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "creativeloop.ranking"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        await wait_serving(f"127.0.0.1:{port}", process, 60, lambda: log_path.read_text()[-3000:])
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        read = next(line["records"] for line in lines if line.get("event") == "latest state read")
        latest_state = {
            "creatives",
            "creative.controls",
            "ranking.policy",
            "bandit.stats",
            "content.profiles",
            "user.behaviour",
        }
        assert set(read) == latest_state, read
        assert read["bandit.stats"] < 2_000 and read["user.behaviour"] < 2_000, read
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
            request = ranking_pb2.RankRequest(
                product_id=creatives_events[0].creative.product_id, format=common_pb2.CREATIVE_FORMAT_IMAGE
            )
            chosen = [(await rank(request, timeout=5)).creative.creative_id for _ in range(20)]
        # The recent counts (first creative: 90 % CTR over 1,000 impressions) decide, not the stale ones.
        assert chosen.count(creative_ids[0]) >= 18, chosen
    finally:
        assert terminate(process, 30)
