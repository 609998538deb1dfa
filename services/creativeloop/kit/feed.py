"""Follow a latest-state topic from its beginning, without a consumer group.

Services that keep an in-memory view of compacted topics (ranking's creative catalogue and
bandit statistics) read every partition from offset 0 on start-up and then keep up live, so
each replica rebuilds the full view by itself and restarts need no stored state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message

from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.kit.logs import get_logger
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import Topic

log = get_logger(__name__)

M = TypeVar("M", bound=Message)


class TopicFeed(Generic[M]):
    """Calls `apply(key, event)` for every valid record of `topic`, oldest first, forever.

    Invalid records are logged and skipped: a latest-state view has no one to dead-letter to,
    and the producing service already dead-letters at its input.
    """

    def __init__(self, settings: CommonSettings, topic: Topic, apply: Callable[[str, M], None]) -> None:
        self._settings = settings
        self._topic = topic
        self._apply = apply
        self.caught_up = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self._topic.name)
            while not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self._topic.name)
                if not partitions:
                    await asyncio.sleep(0.5)
            assigned = [TopicPartition(self._topic.name, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            # What existed when we started. Tansu reports "latest" as the first offset of the last
            # batch + 1 (docs/operations.md, broker defects), so this is a lower bound there and
            # exact on Apache Kafka.
            start_ends = await consumer.end_offsets(assigned)
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                for records in batches.values():
                    for record in records:
                        try:
                            event: M = decode(self._topic.message, record.value)  # type: ignore[assignment]
                        except InvalidEvent as exc:
                            log.warning("skipped invalid record", topic=record.topic, reason=exc.reason)
                            continue
                        self._apply((record.key or b"").decode(), event)
                if not batches and not self.caught_up.is_set():
                    # Caught up: every partition is past what existed at start, and a poll came
                    # back empty (which also covers Tansu's short "latest" offset).
                    positions = [await consumer.position(tp) for tp in assigned]
                    if all(pos >= start_ends[tp] for pos, tp in zip(positions, assigned, strict=True)):
                        self.caught_up.set()
        finally:
            await consumer.stop()


async def read_to_end(
    settings: CommonSettings,
    topic: str,
    select: Callable[[int], Iterable[int]] = range,
    *,
    timeout_s: float = 120.0,
) -> tuple[int, list[ConsumerRecord[bytes, bytes]]]:
    """Read partitions of `topic` once, from the beginning to their end, without a consumer group.

    `select(partition_count)` picks the partitions (default: all). Returns the partition count and
    the records, in offset order per partition. The end is reached after the end offsets seen at
    start and an empty poll (Tansu reports "latest" short, see FIELD_NOTES). A missing topic or a
    broker that does not answer within `timeout_s` raises `DependencyUnavailable`.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetch metadata for every topic
        known = consumer.partitions_for_topic(topic)
        if not known:
            raise DependencyUnavailable("broker", f"topic {topic} is missing (creativeloop topics create)")
        assigned = [TopicPartition(topic, p) for p in sorted(set(select(len(known))))]
        records: list[ConsumerRecord[bytes, bytes]] = []
        if not assigned:
            return len(known), records
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for batch in batches.values():
                records.extend(batch)
            if not batches:
                positions = {tp: await consumer.position(tp) for tp in assigned}
                if all(positions[tp] >= ends[tp] for tp in assigned):
                    return len(known), records
            if asyncio.get_running_loop().time() > deadline:
                raise DependencyUnavailable("broker", f"{topic} not read to its end in {timeout_s:g}s")
    finally:
        await consumer.stop()
