"""TopicFeed on the real broker: `caught_up` means everything that existed at start was read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import CREATIVES
from creativeloop.v1 import common_pb2, events_pb2

pytestmark = pytest.mark.integration


async def test_caught_up_only_after_reading_what_existed(broker: Any) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    records = [
        (
            f"c{i}",
            events_pb2.CreativeUpdated(creative=common_pb2.Creative(creative_id=f"c{i}", product_id="p")),
        )
        for i in range(3000)
    ]
    async with EventProducer(settings, "feed-test") as producer:
        await producer.send_batch(CREATIVES, records)
    seen: list[str] = []
    feed: TopicFeed[events_pb2.CreativeUpdated] = TopicFeed(settings, CREATIVES, lambda k, _: seen.append(k))
    empty: TopicFeed[Any] = TopicFeed(settings, CREATIVES.dlq, lambda k, _: None)
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(empty.run())]
    try:
        await asyncio.wait_for(feed.caught_up.wait(), 30)
        assert len(seen) == 3000, f"caught_up after {len(seen)} of 3000 records"
        await asyncio.wait_for(empty.caught_up.wait(), 30)  # an empty topic is caught up too
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
