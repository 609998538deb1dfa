"""Poison records on a real Tansu broker: none stops a stream, the next valid record goes through.

A record over the 1 MiB producer cap, a key that is not UTF-8, a Timestamp outside protobuf's
range and absurd values, on `product.changes` (the stream worker every stage runs) and on
`creatives` (the latest-state feed ranking reads): the worker dead-letters each with its reason,
the oversized one truncated with its hash and size in headers (so the letter fits the cap), and
`dlq replay` leaves the truncated letter alone; the feed skips and counts them.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from creativeloop.kit.codec import DLQ_MAX_VALUE_BYTES, VALUE_BYTES_HEADER, VALUE_SHA256_HEADER
from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.dlq import list_letters, replay
from creativeloop.kit.feed import SKIPPED, TopicFeed
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import CREATIVES, PRODUCT_CHANGES
from creativeloop.kit.validation import MAX_RECORD_BYTES, TIMESTAMP_MAX_S
from creativeloop.v1 import common_pb2, events_pb2
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.integration

TIMEOUT_S = 60.0


def product(product_id: str, title: str = "Knit top", **fields: Any) -> events_pb2.ProductChanged:
    return events_pb2.ProductChanged(
        product=common_pb2.Product(product_id=product_id, version=1, title=title, **fields)
    )


async def test_poison_records_are_dead_lettered_and_the_next_valid_record_is_handled(broker: Any) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    handled: list[str] = []

    async def handler(event: events_pb2.ProductChanged) -> None:
        handled.append(event.product.product_id)

    oversized = product("big", title="x" * (MAX_RECORD_BYTES + 1000)).SerializeToString()
    far = product("far")
    far.changed_at.seconds = TIMESTAMP_MAX_S + 1
    poison = [
        (b"big", oversized),
        (b"\xff\xfe-key", product("badkey").SerializeToString()),
        (b"far", far.SerializeToString()),
        (
            b"neg",
            product("neg", price=common_pb2.Price(currency="EUR", amount_micros=-5)).SerializeToString(),
        ),
        (b"long", product("p" * 600).SerializeToString()),
    ]
    raw = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, max_request_size=4 * MAX_RECORD_BYTES)
    await raw.start()
    try:
        for key, value in poison:
            await raw.send_and_wait(PRODUCT_CHANGES.name, value, key=key, partition=0)
    finally:
        await raw.stop()
    async with EventProducer(settings, "poison-test") as producer:
        await producer.send(PRODUCT_CHANGES, "good", product("good"), partition=0)
        worker: EventWorker[events_pb2.ProductChanged] = EventWorker(
            settings, PRODUCT_CHANGES, "poison-test", handler, producer
        )
        task = asyncio.create_task(worker.run())
        try:
            await wait_until(lambda: handled == ["good"], TIMEOUT_S, "the valid record after the poison")
            assert not task.done()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    letters = await list_letters(settings, PRODUCT_CHANGES.name, timeout_s=TIMEOUT_S)
    assert [letter.source_offset for letter in letters] == [0, 1, 2, 3, 4]
    reasons = [letter.reason for letter in letters]
    assert reasons[0] == f"record value of {len(oversized)} bytes over the {MAX_RECORD_BYTES}-byte cap"
    assert reasons[1].startswith("record key is not valid UTF-8")
    assert "changed_at" in reasons[2] and "outside Timestamp's range" in reasons[2]
    assert reasons[3] == "negative product.price.amount_micros -5"
    assert reasons[4] == "product.product_id is 600 bytes, over 256"
    big = letters[0]
    assert big.truncated == "value" and big.value == oversized[:DLQ_MAX_VALUE_BYTES]
    headers = dict(big.headers)
    assert headers[VALUE_SHA256_HEADER] == hashlib.sha256(oversized).hexdigest().encode()
    assert headers[VALUE_BYTES_HEADER] == str(len(oversized)).encode()
    assert letters[1].key == b"\xff\xfe-key" and not letters[1].truncated

    report = await replay(settings, PRODUCT_CHANGES.name, timeout_s=TIMEOUT_S)
    assert [letter.source_offset for letter in report.truncated] == [0]
    assert [letter.source_offset for letter in report.replayed] == [1, 2, 3, 4]


async def test_a_feed_skips_poison_records_and_keeps_following(broker: Any) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    seen: list[str] = []
    feed: TopicFeed[events_pb2.CreativeUpdated] = TopicFeed(
        settings, CREATIVES, lambda key, event: seen.append(event.creative.creative_id)
    )

    def creative(creative_id: str, **fields: Any) -> bytes:
        return events_pb2.CreativeUpdated(
            creative=common_pb2.Creative(creative_id=creative_id, product_id="p1", **fields)
        ).SerializeToString()

    skipped_before = SKIPPED.labels(CREATIVES.name, "invalid")._value.get()
    raw = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, max_request_size=4 * MAX_RECORD_BYTES)
    await raw.start()
    task = asyncio.create_task(feed.run())
    try:
        for key, value in [
            (b"\xc3\x28", creative("c-badkey")),  # a valid creative under a key that is not UTF-8
            (b"c-big", creative("c-big", headline="x" * (MAX_RECORD_BYTES + 10))),
            (b"c-fmt", creative("c-fmt", format=42)),  # an unknown format enum value
            (b"c1", creative("c1")),
        ]:
            await raw.send_and_wait(CREATIVES.name, value, key=key, partition=0)
        await wait_until(lambda: seen == ["c1"], TIMEOUT_S, "the valid creative after the poison")
        assert not task.done()
        await raw.send_and_wait(CREATIVES.name, creative("c2"), key=b"c2", partition=0)
        await wait_until(lambda: seen == ["c1", "c2"], TIMEOUT_S, "the feed still following")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await raw.stop()
    assert SKIPPED.labels(CREATIVES.name, "invalid")._value.get() == skipped_before + 3
