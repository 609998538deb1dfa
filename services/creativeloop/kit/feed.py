"""Follow a latest-state topic from its beginning (or from a bounded look-back), without a consumer group.

Services that keep an in-memory view of compacted topics (ranking's creative catalogue, bandit
statistics and user behaviour) read every partition on start-up and then keep up live, so each
replica rebuilds the full view by itself and restarts need no stored state.

How much a feed reads at start-up: from the beginning by default, which a compacting broker
keeps at about one record per key. A topic whose producer re-publishes every live key at least
every R seconds (the bandit's `refresh_s`) can be followed with `lookback_s` >= R: the feed then
starts each partition at the first record stamped less than `lookback_s` ago, found by a binary
search over record timestamps, and the start-up read is bounded by the look-back, whatever the
history, on a broker that compacts nothing (Tansu) as on Apache Kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from prometheus_client import Counter

from creativeloop.kit.codec import InvalidEvent, decode, record_key
from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.kit.kafka import client_options
from creativeloop.kit.logs import get_logger
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import Topic

log = get_logger(__name__)

M = TypeVar("M", bound=Message)

SKIPPED = Counter(
    "creativeloop_feed_records_skipped_total",
    "Records a latest-state view skipped, by topic and reason (invalid: undecodable, failed validation "
    "or a key that is not UTF-8; apply_failed: applying it raised).",
    ["topic", "reason"],
)

#: The broker answers a fetch with nothing new after at most this long (the freshness of a feed).
FETCH_MAX_WAIT_MS = 50


class TopicFeed(Generic[M]):
    """Calls `apply(key, event)` for every valid record of `topic`, oldest first, forever.

    Invalid records are logged and skipped: a latest-state view has no one to dead-letter to,
    and the producing service already dead-letters at its input. A tombstone (a record without a
    value) calls `delete(key)` when given, and is skipped otherwise. `lookback_s`: start at the
    records of the last `lookback_s` seconds (see the module doc) instead of the beginning.
    `records_read` counts what the feed read (start-up cost, for tests and benchmarks).
    """

    def __init__(
        self,
        settings: CommonSettings,
        topic: Topic,
        apply: Callable[[str, M], None],
        *,
        delete: Callable[[str], None] | None = None,
        lookback_s: float | None = None,
    ) -> None:
        self._settings = settings
        self.topic = topic
        self._apply = apply
        self._delete = delete
        self._lookback_s = lookback_s
        self.caught_up = asyncio.Event()
        self.records_read = 0
        for reason in ("invalid", "apply_failed"):  # export zeros, so rate() sees the first increment
            SKIPPED.labels(topic.name, reason)

    def take(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Apply one record to the view; False if it was skipped (logged and counted), never raises.

        A bad record (undecodable, invalid, a key that is not UTF-8) is skipped with the reason;
        so is one whose `apply` fails (a bug, logged with the error): one record must not stop
        the view, nor put the service in a crash loop as it is read again at every start.
        """
        try:
            key = record_key(record.key)
            if record.value is None:
                if self._delete is not None:
                    self._delete(key)
                return True
            event: M = decode(self.topic.message, record.value)  # type: ignore[assignment]
        except InvalidEvent as exc:
            SKIPPED.labels(self.topic.name, "invalid").inc()
            log.warning("skipped invalid record", topic=record.topic, offset=record.offset, reason=exc.reason)
            return False
        try:
            self._apply(key, event)
        except Exception as exc:
            SKIPPED.labels(self.topic.name, "apply_failed").inc()
            log.error(
                "skipped record: applying it failed",
                topic=record.topic,
                offset=record.offset,
                error=repr(exc),
            )
            return False
        return True

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic.name)
            while not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.topic.name)
                if not partitions:
                    await asyncio.sleep(0.5)
            assigned = [TopicPartition(self.topic.name, p) for p in sorted(partitions)]
            # What existed when we started. Tansu reports "latest" as the first offset of the last
            # batch + 1 (docs/operations.md, broker defects), so this is a lower bound there and
            # exact on Apache Kafka.
            start_ends = await consumer.end_offsets(assigned)
            if self._lookback_s is None:
                consumer.assign(assigned)
                await consumer.seek_to_beginning(*assigned)
            else:
                since_ms = int((time.time() - self._lookback_s) * 1000)
                starts = await first_offsets_since(consumer, assigned, since_ms)
                consumer.assign(assigned)
                for tp in assigned:
                    consumer.seek(tp, starts[tp])
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batches.values():
                    self.records_read += len(records)
                    for record in records:
                        self.take(record)
                if not batches and not self.caught_up.is_set():
                    # Caught up: every partition is past what existed at start, and a poll came
                    # back empty (which also covers Tansu's short "latest" offset).
                    positions = [await consumer.position(tp) for tp in assigned]
                    if all(pos >= start_ends[tp] for pos, tp in zip(positions, assigned, strict=True)):
                        self.caught_up.set()
        finally:
            await consumer.stop()


async def first_offsets_since(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], since_ms: int
) -> dict[TopicPartition, int]:
    """Per partition, the first offset whose record timestamp is at or after `since_ms`.

    A binary search that reads one record per probe, because Tansu answers ListOffsets by
    timestamp with offset 0 (Apache Kafka answers it right; the search gives the same offsets
    there). Assumes timestamps grow with offsets, as they do for one producer per partition; where
    they do not, the feed starts a little early or late by as much as the producers' clocks differ.
    Changes the consumer's assignment.
    """
    begins = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    found: dict[TopicPartition, int] = {}
    for tp in partitions:
        low, high = begins[tp], ends[tp]
        consumer.assign([tp])
        while low < high:
            middle = (low + high) // 2
            consumer.seek(tp, middle)
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
            records = batch.get(tp, [])
            if records and records[0].timestamp < since_ms:
                low = records[0].offset + 1
            else:
                high = middle
        found[tp] = low
    return found


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
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
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
