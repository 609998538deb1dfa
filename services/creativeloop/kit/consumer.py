"""A consumer loop for stateless stream stages: decode, validate, handle, commit.

A record that cannot be decoded or validated, or that its handler rejects with `InvalidEvent`,
goes to `<topic>.dlq` with the reason; a handler that keeps failing for other reasons is retried
with backoff and then dead-lettered too. Either way the loop carries on with the next record, so
one bad record never stalls a partition. Offsets are committed after each batch is handled
(at-least-once), which is safe because handlers are idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from prometheus_client import Counter

from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.logs import get_logger
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import Topic

log = get_logger(__name__)

M = TypeVar("M", bound=Message)

EVENTS = Counter(
    "creativeloop_events_total",
    "Records consumed, by topic, consumer group and outcome (ok, dead_lettered).",
    ["topic", "group", "outcome"],
)

#: Broker settings that keep group joins fast on the Tansu broker (see FIELD_NOTES) and are
#: harmless on Apache Kafka.
GROUP_SESSION_TIMEOUT_MS = 6000
GROUP_HEARTBEAT_INTERVAL_MS = 2000


class EventWorker(Generic[M]):
    """Runs `handler` for every valid record of `topic` in consumer group `group_id`."""

    def __init__(
        self,
        settings: CommonSettings,
        topic: Topic,
        group_id: str,
        handler: Callable[[M], Awaitable[None]],
        producer: EventProducer,
        *,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.5,
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._group_id = group_id
        self._handler = handler
        self._producer = producer
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self.ready = asyncio.Event()
        for outcome in ("ok", "dead_lettered"):  # export zeros, so rate() sees the first increment
            EVENTS.labels(topic.name, group_id, outcome)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            self._topic.name,
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=GROUP_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=GROUP_HEARTBEAT_INTERVAL_MS,
        )
        await consumer.start()
        self.ready.set()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=100)
                for records in batches.values():
                    for record in records:
                        await self._process(record)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event: M = decode(self._topic.message, record.value)  # type: ignore[assignment]
        except InvalidEvent as exc:
            await self._dead_letter(record, exc.reason)
            return
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._handler(event)
            except InvalidEvent as exc:
                await self._dead_letter(record, exc.reason)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "handler failed",
                    topic=record.topic,
                    offset=record.offset,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt == self._max_attempts:
                    await self._dead_letter(record, f"handler failed after {attempt} attempts: {exc!r}")
                    return
                await asyncio.sleep(self._retry_backoff_s * 2 ** (attempt - 1))
            else:
                EVENTS.labels(record.topic, self._group_id, "ok").inc()
                return

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        log.warning("dead-lettered", topic=record.topic, offset=record.offset, reason=reason)
        await self._producer.dead_letter(self._topic, record, reason)
        EVENTS.labels(record.topic, self._group_id, "dead_lettered").inc()
