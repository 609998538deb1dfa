"""A consumer loop for stream stages: decode, validate, handle, commit; pause on outages.

What happens to a record depends on why its handler failed (`creativeloop.kit.errors.classify`):

- **Bad record** (cannot be decoded or validated, or the handler raises `InvalidEvent`): it goes
  to ``<topic>.dlq`` with the reason and the loop carries on with the next record, so one bad
  record never stalls a partition.
- **Dependency outage** (model backend, gRPC peer, broker; see `kit.errors`): nothing is
  dead-lettered. The partition is paused (``consumer.pause``) and its fetch position set back
  to the failed record; the record is retried with capped exponential backoff
  (`stream_outage_backoff_s` doubling up to `stream_outage_backoff_max_s`) while the consumer keeps polling,
  so it stays in its group and its other partitions go on. Meanwhile the worker reports
  "stream <topic>" down on the `Availability` board, which turns the service's gRPC health
  NOT_SERVING. When the record succeeds the partition resumes after it and health returns to
  SERVING once nothing else is down. A record of a partition that is revoked while paused is
  left to its next owner (its offset was never committed).
- **Anything else** is a bug that may be transient: the record is retried in place
  `max_attempts` times (backoff `retry_backoff_s`, doubling), then dead-lettered with
  "handler failed after N attempts: <error>" as the reason, to be replayed with
  ``creativeloop dlq replay`` once fixed. The partition is never stalled by a bug for longer.

Offsets are committed per partition up to the last record handled or dead-lettered
(at-least-once), which is safe because handlers are idempotent.

A handler is either a plain ``async (event) -> None`` or a `PartitionStage`, which also gets the
record's key and partition, sees tombstones (``event=None``) and keeps per-partition state: it is
told which partitions it gets and loses, and a newly assigned partition stays paused until its
state is loaded (`creativeloop.kit.stage`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from prometheus_client import Counter, Gauge

from creativeloop.kit.codec import InvalidEvent, decode, record_key
from creativeloop.kit.errors import Failure, FailureKind, classify
from creativeloop.kit.health import Availability
from creativeloop.kit.kafka import client_options
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
PAUSED = Gauge(
    "creativeloop_stream_paused_partitions",
    "Partitions a stream worker holds paused because a dependency is unavailable.",
    ["topic", "group"],
)
OUTAGE_RETRIES = Counter(
    "creativeloop_stream_outage_failures_total",
    "Handler attempts that failed on an unavailable dependency (the record is retried, not dead-lettered).",
    ["topic", "group", "dependency"],
)

#: Broker settings that keep group joins fast on the Tansu broker (see FIELD_NOTES) and are
#: harmless on Apache Kafka.
GROUP_SESSION_TIMEOUT_MS = 6000
GROUP_HEARTBEAT_INTERVAL_MS = 2000


@dataclass(frozen=True)
class Delivery(Generic[M]):
    """One record for a `PartitionStage`: the event (None for a tombstone), its key and place."""

    event: M | None
    key: str
    partition: int
    offset: int


@runtime_checkable
class PartitionStage(Protocol[M]):
    """A handler with per-partition state (see `creativeloop.kit.stage.ProfileStage`)."""

    async def handle(self, delivery: Delivery[M]) -> None:
        """Handle one record; raise as `EventWorker` expects (InvalidEvent, an outage, a bug)."""
        ...

    async def assigned(self, partitions: frozenset[int]) -> None:
        """Load the state of newly assigned partitions; their records wait until this returns."""
        ...

    async def revoked(self, partitions: frozenset[int]) -> None:
        """Forget the state of partitions this worker no longer owns."""
        ...


class _PlainHandler(Generic[M]):
    """A plain ``async (event) -> None`` as a stateless stage; tombstones are bad records."""

    def __init__(self, handler: Callable[[M], Awaitable[None]]) -> None:
        self._handler = handler

    async def handle(self, delivery: Delivery[M]) -> None:
        if delivery.event is None:
            raise InvalidEvent("empty record value")
        await self._handler(delivery.event)

    async def assigned(self, partitions: frozenset[int]) -> None:
        return None

    async def revoked(self, partitions: frozenset[int]) -> None:
        return None


@dataclass
class _Stall:
    """A partition paused on `record` until a retry of it succeeds."""

    record: ConsumerRecord[bytes, bytes]
    failures: int
    retry_at: float
    failure: Failure


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, worker: EventWorker[Any]) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self._worker._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        await self._worker._on_assigned(set(assigned))


class EventWorker(Generic[M]):
    """Runs `handler` for every valid record of `topic` in consumer group `group_id`."""

    def __init__(
        self,
        settings: CommonSettings,
        topic: Topic,
        group_id: str,
        handler: Callable[[M], Awaitable[None]] | PartitionStage[M],
        producer: EventProducer,
        *,
        availability: Availability | None = None,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.5,
        outage_backoff_s: float | None = None,
        outage_backoff_max_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._group_id = group_id
        self._stage: PartitionStage[M]
        self._tombstones = isinstance(handler, PartitionStage)
        if isinstance(handler, PartitionStage):
            self._stage = handler
        else:
            self._stage = _PlainHandler(handler)
        self._producer = producer
        self.availability = availability if availability is not None else Availability()
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self._outage_backoff_s = outage_backoff_s or settings.stream_outage_backoff_s
        self._outage_backoff_max_s = outage_backoff_max_s or settings.stream_outage_backoff_max_s
        self._source = f"stream {topic.name}"
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._done: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._committed: dict[TopicPartition, int] = {}
        self._stalled: dict[TopicPartition, _Stall] = {}
        self._loaded: set[TopicPartition] = set()
        self._unloaded: set[TopicPartition] = set()  # assigned, paused until the stage loaded them
        self._load_failures = 0
        self._load_retry_at = 0.0
        self._load_failure: Failure | None = None
        self._generation = 0  # counts assignments, to spot one that happens while loading
        for outcome in ("ok", "dead_lettered"):  # export zeros, so rate() sees the first increment
            EVENTS.labels(topic.name, group_id, outcome)
        PAUSED.labels(topic.name, group_id).set(0)

    @property
    def paused_partitions(self) -> frozenset[int]:
        """Partitions held paused on an outage right now."""
        return frozenset(tp.partition for tp in self._stalled)

    @property
    def owned_partitions(self) -> frozenset[int]:
        """Partitions assigned to this worker whose stage state is loaded (records flow)."""
        return frozenset(tp.partition for tp in self._loaded)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=GROUP_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=GROUP_HEARTBEAT_INTERVAL_MS,
        )
        consumer.subscribe([self._topic.name], listener=_Rebalance(self))
        self._consumer = consumer  # before start: the first assignment may come during start()
        await consumer.start()
        self.ready.set()
        try:
            while True:
                await self._load_assigned(consumer)
                await self._retry_stalled(consumer)
                batches = await consumer.getmany(timeout_ms=self._poll_timeout_ms(), max_records=100)
                for tp, records in batches.items():
                    await self._run_partition(consumer, tp, records)
                await self._commit(consumer)
        finally:
            try:
                await asyncio.wait_for(self._commit(consumer), timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                pass
            self._consumer = None
            await consumer.stop()

    # -- one record ------------------------------------------------------------------------------
    def _delivery(self, record: ConsumerRecord[bytes, bytes]) -> Delivery[M]:
        key = record_key(record.key)
        if record.value is None and self._tombstones:
            return Delivery(None, key, record.partition, record.offset)
        event: M = decode(self._topic.message, record.value)  # type: ignore[assignment]
        return Delivery(event, key, record.partition, record.offset)

    async def _attempt(self, record: ConsumerRecord[bytes, bytes]) -> Failure | None:
        """Take `record` to an end (handled or dead-lettered), or return the outage that stops it."""
        try:
            delivery = self._delivery(record)
        except InvalidEvent as exc:
            return await self._dead_letter(record, exc.reason)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._stage.handle(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(exc)
                if failure.kind is FailureKind.INVALID:
                    return await self._dead_letter(record, failure.reason)
                if failure.kind is FailureKind.DEPENDENCY:
                    OUTAGE_RETRIES.labels(record.topic, self._group_id, failure.dependency).inc()
                    return failure
                log.warning(
                    "handler failed",
                    topic=record.topic,
                    offset=record.offset,
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt >= self._max_attempts:
                    return await self._dead_letter(
                        record, f"handler failed after {attempt} attempts: {exc!r}"
                    )
                await asyncio.sleep(self._retry_backoff_s * 2 ** (attempt - 1))
            else:
                EVENTS.labels(record.topic, self._group_id, "ok").inc()
                return None

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> Failure | None:
        """Park `record` on the DLQ; an outage of the broker while doing so stalls it instead."""
        try:
            await self._producer.dead_letter(self._topic, record, reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = classify(exc)
            if failure.kind is FailureKind.DEPENDENCY:
                return failure
            raise
        log.warning("dead-lettered", topic=record.topic, offset=record.offset, reason=reason)
        EVENTS.labels(record.topic, self._group_id, "dead_lettered").inc()
        return None

    # -- partitions ------------------------------------------------------------------------------
    async def _run_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        for record in records:
            if tp in self._stalled or tp in self._unloaded or tp not in consumer.assignment():
                return  # paused or revoked meanwhile: refetched from the position / committed offset
            failure = await self._attempt(record)
            if tp not in consumer.assignment() or tp in self._unloaded:
                return  # a rebalance while handling it: the partition is (re)loaded from the commit
            if failure is not None:
                self._stall(consumer, tp, record, failure, failures=1)
                return
            self._done[tp] = record.offset + 1

    def _backoff(self, failures: int) -> float:
        return float(min(self._outage_backoff_max_s, self._outage_backoff_s * 2 ** (failures - 1)))

    def _stall(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        failure: Failure,
        failures: int,
    ) -> None:
        delay = self._backoff(failures)
        first = tp not in self._stalled
        self._stalled[tp] = _Stall(record, failures, asyncio.get_running_loop().time() + delay, failure)
        if first:
            consumer.pause(tp)
            consumer.seek(tp, record.offset)  # drop what was fetched after it; refetched on resume
            log.warning(
                "partition paused: dependency unavailable",
                topic=record.topic,
                partition=tp.partition,
                offset=record.offset,
                dependency=failure.dependency,
                reason=failure.reason,
            )
        else:
            log.info(
                "dependency still unavailable",
                topic=record.topic,
                partition=tp.partition,
                offset=record.offset,
                dependency=failure.dependency,
                failures=failures,
                retry_in_s=delay,
            )
        self._report()

    async def _retry_stalled(self, consumer: AIOKafkaConsumer) -> None:
        now = asyncio.get_running_loop().time()
        for tp, stall in list(self._stalled.items()):
            if stall.retry_at > now or self._stalled.get(tp) is not stall:
                continue
            if tp not in consumer.assignment():
                self._stalled.pop(tp, None)
                continue
            failure = await self._attempt(stall.record)
            if self._stalled.get(tp) is not stall:
                continue  # revoked while retrying
            if failure is not None:
                self._stall(consumer, tp, stall.record, failure, failures=stall.failures + 1)
                continue
            del self._stalled[tp]
            self._done[tp] = stall.record.offset + 1
            consumer.seek(tp, stall.record.offset + 1)
            if tp not in self._unloaded:
                consumer.resume(tp)
            log.info(
                "partition resumed",
                topic=tp.topic,
                partition=tp.partition,
                offset=stall.record.offset,
                failures=stall.failures,
            )
            self._report()

    def _poll_timeout_ms(self) -> int:
        """Poll at most 500 ms, less when a stalled record or a state load is due sooner."""
        due = [stall.retry_at for stall in self._stalled.values()]
        if self._unloaded:
            due.append(self._load_retry_at)
        if not due:
            return 500
        wait_s = min(due) - asyncio.get_running_loop().time()
        return max(10, min(500, int(wait_s * 1000)))

    def _report(self) -> None:
        """Tell the availability board (and the gauge) whether this worker is held by an outage."""
        PAUSED.labels(self._topic.name, self._group_id).set(len(self._stalled))
        failure = next(iter(self._stalled.values())).failure if self._stalled else self._load_failure
        if failure is None:
            self.availability.up(self._source)
        else:
            self.availability.down(self._source, f"{failure.dependency}: {failure.reason}")

    # -- assignment ------------------------------------------------------------------------------
    async def _load_assigned(self, consumer: AIOKafkaConsumer) -> None:
        if not self._unloaded or asyncio.get_running_loop().time() < self._load_retry_at:
            return
        loading = set(self._unloaded)
        generation = self._generation
        try:
            await self._stage.assigned(frozenset(tp.partition for tp in loading))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = classify(exc)
            if failure.kind is not FailureKind.DEPENDENCY:
                raise  # a bug loading state: end the worker (and the service) rather than guess
            self._load_failures += 1
            self._load_retry_at = asyncio.get_running_loop().time() + self._backoff(self._load_failures)
            self._load_failure = failure
            log.warning("stage state not loaded: dependency unavailable", reason=failure.reason)
            self._report()
            return
        self._load_failures = 0
        self._load_failure = None
        if generation != self._generation:
            return  # reassigned while loading: load what is assigned now, on the next round
        assigned = consumer.assignment()
        for tp in loading & self._unloaded:
            self._unloaded.discard(tp)
            if tp in assigned:
                self._loaded.add(tp)
                if tp not in self._stalled:
                    consumer.resume(tp)
        self._report()

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._done.items()
            if tp in assigned and self._committed.get(tp) != offset
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # the broker away or a rebalance: commit again next round
            log.warning("commit failed", topic=self._topic.name, error=repr(exc))
            return
        self._committed.update(offsets)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is not None and revoked:
            await self._commit(consumer)  # hand over what is done, before the next owner starts

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self._generation += 1
        consumer = self._consumer
        held = self._loaded | self._unloaded
        lost = held - assigned
        for tp in lost:
            self._stalled.pop(tp, None)
            self._done.pop(tp, None)
            self._committed.pop(tp, None)
        self._loaded -= lost
        self._unloaded -= lost
        if lost:
            await self._stage.revoked(frozenset(tp.partition for tp in lost))
        self._unloaded |= assigned - self._loaded
        self._load_retry_at = 0.0
        if consumer is not None:
            # A new assignment resets pause state: keep stalled partitions and unloaded ones paused.
            paused = [tp for tp in assigned if tp in self._stalled or tp in self._unloaded]
            if paused:
                consumer.pause(*paused)
        self._report()
        log.info(
            "partitions assigned",
            topic=self._topic.name,
            assigned=sorted(tp.partition for tp in assigned),
            lost=sorted(tp.partition for tp in lost),
        )
