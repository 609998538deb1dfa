"""Exact counts through repeated `kill -9` of the bandit, against a real Tansu broker.

One stream of impressions and clicks, with duplicates (at-least-once delivery) and clicks read
before their impressions, is produced at a steady pace while the bandit process is killed with
SIGKILL at random points eight times and restarted each time. Afterwards `bandit.stats` must hold
exactly the counts of the distinct impressions and attributed clicks, per creative and per context
bucket, and `user.behaviour` exactly each user's impressions and clicks per creative: nothing
counted twice, nothing lost. Each restart must reach SERVING within 10 s (static group
membership: the restarted worker takes its partitions back without waiting out the session).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.kit.codec import encode
from creativeloop.kit.context import context_bucket, stats_key
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, USER_BEHAVIOUR
from creativeloop.stack.broker import TansuBroker
from creativeloop.v1 import events_pb2
from tests.integration.helpers import TopicRecorder, wait_until
from tests.integration.test_bandit_service import BanditProcess

pytestmark = pytest.mark.integration

T0_NS = 1_800_000_000 * 1_000_000_000
CONTEXTS = [{"placement": p, "device": d} for p in ("feed", "search") for d in ("mobile", "desktop")] + [{}]
KILLS = 8
SERVING_BOUND_S = 10.0


def stamp(ns: int) -> Timestamp:
    value = Timestamp()
    value.FromNanoseconds(ns)
    return value


def traffic(
    seed: int, impressions: int
) -> tuple[list[tuple[str, str, bytes]], dict[str, tuple[int, int]], dict[str, dict[str, tuple[int, int]]]]:
    """(topic, key, value) records in send order, and what the counts must be at the end.

    Returns the records, the expected (impressions, clicks) per bandit.stats key, and per user the
    expected (impressions, clicks) per creative.
    """
    rng = random.Random(seed)
    records: list[tuple[str, str, bytes]] = []
    stats: Counter[tuple[str, int]] = Counter()
    users: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
    for n in range(impressions):
        iid = f"imp-{n:06d}"
        creative = f"creative-{rng.randrange(40):02d}"
        user = f"user-{rng.randrange(300):03d}"
        context = rng.choice(CONTEXTS)
        shown_at = T0_NS + n * 50_000_000  # 20 impressions per event-time second
        impression = events_pb2.Impression(
            impression_id=iid,
            user_id=user,
            creative_id=creative,
            propensity=0.1,
            shown_at=stamp(shown_at),
            context=context,
        )
        value = encode(impression)
        keys = {stats_key(creative), stats_key(creative, context_bucket(context))}
        for key in keys:
            stats[key, 0] += 1
        users[user][creative, 0] += 1
        click = None
        roll = rng.random()
        if roll < 0.12:  # clicked inside the attribution window
            clicked_at = stamp(shown_at + 2_000_000_000)
            click = events_pb2.Click(impression_id=iid, user_id=user, clicked_at=clicked_at)
            for key in keys:
                stats[key, 1] += 1
            users[user][creative, 1] += 1
        elif roll < 0.14:  # clicked after the window: dead-lettered, not counted
            clicked_at = stamp(shown_at + 4000 * 10**9)
            click = events_pb2.Click(impression_id=iid, user_id=user, clicked_at=clicked_at)
        position = len(records)
        records.append((AD_IMPRESSIONS.name, iid, value))
        if rng.random() < 0.1:  # delivered twice, the copy a little later
            records.insert(rng.randrange(position, len(records) + 1), (AD_IMPRESSIONS.name, iid, value))
        if click is not None:
            clicked = (AD_CLICKS.name, iid, encode(click))
            if rng.random() < 0.3:  # read before its impression
                records.insert(max(0, position - rng.randrange(0, 30)), clicked)
            else:
                records.append(clicked)
            if rng.random() < 0.1:
                records.append(clicked)
    expected_stats = {key: (stats[key, 0], stats[key, 1]) for key, kind in stats if kind == 0}
    expected_users = {
        user: {creative: (counts[creative, 0], counts[creative, 1]) for creative, kind in counts if kind == 0}
        for user, counts in users.items()
    }
    return records, expected_stats, expected_users


async def produce(bootstrap: str, records: list[tuple[str, str, bytes]], per_second: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        chunk = max(1, round(per_second / 20))
        for start in range(0, len(records), chunk):
            futures = [
                await producer.send(topic, value, key=key.encode())
                for topic, key, value in records[start : start + chunk]
            ]
            await asyncio.gather(*futures)
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()


@pytest.fixture
async def bandit_factory(broker: TansuBroker, tmp_path: Path) -> AsyncIterator[Callable[[], BanditProcess]]:
    env = {
        "CREATIVELOOP_BANDIT_INSTANCE_ID": "bandit-crash-0",
        "CREATIVELOOP_BANDIT_HALF_LIFE_S": "0",  # no decay: whole counts, compared exactly
        "CREATIVELOOP_BANDIT_USER_HISTORY": "1000",  # more than any user's impressions here
        "CREATIVELOOP_BANDIT_BEHAVIOUR_INTERVAL_S": "0.5",
    }
    made: list[BanditProcess] = []

    def make() -> BanditProcess:
        service = BanditProcess(broker.bootstrap_servers, tmp_path, env)
        made.append(service)
        return service

    try:
        yield make
    finally:
        for service in made:
            if service.process is not None and service.process.poll() is None:
                service.terminate()


async def test_counts_stay_exact_through_repeated_kill_9(
    broker: TansuBroker, bandit_factory: Callable[[], BanditProcess]
) -> None:
    rng = random.Random(13)
    records, expected_stats, expected_users = traffic(seed=13, impressions=20_000)
    assert len(records) > 24_000  # duplicates and clicks on top of the impressions
    async with (
        TopicRecorder(broker.bootstrap_servers, BANDIT_STATS) as stats,
        TopicRecorder(broker.bootstrap_servers, USER_BEHAVIOUR) as behaviour,
    ):
        bandit = bandit_factory()
        bandit.start()
        await bandit.wait_serving(60)
        producing = asyncio.create_task(produce(broker.bootstrap_servers, records, per_second=350))
        restarts: list[float] = []
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.2, 3.0))
            assert bandit.process is not None
            bandit.process.send_signal(signal.SIGKILL)
            bandit.process.wait()
            bandit.process = None
            started = time.monotonic()
            bandit.start()
            await bandit.wait_serving(60)
            restarts.append(time.monotonic() - started)
        await producing

        def latest_stats() -> dict[str, tuple[float, float]]:
            return {key: (event.impressions, event.clicks) for key, event in stats.records}

        def latest_users() -> dict[str, dict[str, tuple[int, int]]]:
            found: dict[str, dict[str, tuple[int, int]]] = {}
            for user_id, event in behaviour.records:
                found[user_id] = {t.creative_id: (t.impressions, t.clicks) for t in event.creatives}
            return found

        try:
            await wait_until(lambda: latest_stats() == expected_stats, 120, "exact bandit.stats")
            await wait_until(lambda: latest_users() == expected_users, 60, "exact user.behaviour")
        except AssertionError:
            got = latest_stats()
            wrong = {k: (got.get(k), v) for k, v in expected_stats.items() if got.get(k) != v}
            raise AssertionError(f"{len(wrong)} wrong stats keys, e.g. {list(wrong.items())[:5]}") from None
    print(f"restart to SERVING after kill -9: {', '.join(f'{s:.1f}' for s in restarts)} s")
    assert max(restarts) < SERVING_BOUND_S, restarts
