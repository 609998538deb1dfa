"""The bandit's stream engine: bulk reads, per-partition state, checkpoints with offsets, outputs.

One aiokafka consumer in the group `<app_id>` subscribes to `ad.impressions`, `ad.clicks` and
`<app_id>-outcomes` with a co-partitioning assignor (`CopartitionedAssignor`): a worker owns a
partition *number* p of all three, and with it `PartitionState` p. Workers are processes; Kafka's
group protocol spreads the partition numbers over them and moves them when workers come and go.

Per partition, every `flush_interval_s` (`flush`):

1. the dead letters of the interval go to the DLQs (at least once: a crash before step 2 sends
   them again when the records are read again);
2. one checkpoint (`checkpoint.CheckpointLog`) holds the state changes *and* the input offsets
   they cover: they cannot disagree, so recovery resumes exactly where the state is;
3. the outcome batches derived from the checkpoint go to the partitions that own their
   creatives and users (`<app_id>-outcomes`), tagged (source partition, sequence): after a crash
   the recovered owner sends the last checkpoint's batches again and the receiving partition,
   which checkpoints the last sequence it applied per source with its own state, applies each
   once;
4. `bandit.stats` snapshots (every `stats_interval_s`) and `user.behaviour` records (every
   `behaviour_interval_s`) of what changed, as of the checkpoint, batched.

Offsets are never committed to Kafka: they live in the checkpoints (the committed group offsets
would be one more write that can disagree with the state). A partition the worker gets is fenced,
recovered from its checkpoints and sought to their offsets before its records are read.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from creativeloop.bandit.checkpoint import CheckpointLog, LogReader
from creativeloop.bandit.group import GroupMember, checkpoints_topic, outcomes_topic, partition_count
from creativeloop.bandit.metrics import (
    CHECKPOINT_BYTES,
    CLICKS_HELD,
    CLICKS_UNATTRIBUTED,
    EVENTS,
    FLUSH_SECONDS,
    OUTCOMES_REPLAYED,
    RECOVERY_SECONDS,
    SNAPSHOTS_PUBLISHED,
    STATE_SIZE,
)
from creativeloop.bandit.partition import Flush, PartitionCache, PartitionState, Rules
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.stats import UNATTRIBUTED, Letter
from creativeloop.kit.codec import dead_letter, dead_letter_headers
from creativeloop.kit.context import stats_key
from creativeloop.kit.kafka import client_options
from creativeloop.kit.logs import get_logger
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, USER_BEHAVIOUR

log = get_logger(__name__)


#: Seconds between updates of the state size gauges.
SIZES_EVERY_S = 10.0


class _Owned:
    """A partition this worker owns: its state, its checkpoint log, a lock for flush vs. revoke."""

    def __init__(self, state: PartitionState, log: CheckpointLog) -> None:
        self.state = state
        self.log = log
        self.lock = asyncio.Lock()


class BanditEngine:
    """Reads, keeps and checkpoints the partitions this worker owns (see the module doc)."""

    def __init__(self, settings: BanditSettings, member: GroupMember | None = None) -> None:
        self.settings = settings
        self._member = member
        self.common = settings.common
        self.app_id = settings.app_id
        self.outcomes = outcomes_topic(settings.app_id)
        self.checkpoints = checkpoints_topic(settings.app_id)
        self.partitions = 0
        self.stats_partitions = 0
        self.owned: dict[int, _Owned] = {}
        #: Set once the first assignment is recovered and reading.
        self.ready = asyncio.Event()
        #: Set once every client is started (an assignment can arrive before).
        self._started = asyncio.Event()
        #: An error in a rebalance callback: the reading loop raises it (the process restarts).
        self._failure: BaseException | None = None
        self._stopping = False
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: LogReader | None = None
        self._reader_consumer: AIOKafkaConsumer | None = None
        self._last_sweep = 0.0
        self._last_sizes = 0.0
        self._flushing: asyncio.Task[None] | None = None
        self._stats_route = PartitionCache(1)
        self._behaviour_route = PartitionCache(1)

    def rules(self) -> Rules:
        s = self.settings
        return Rules(
            partitions=self.partitions or s.common.topic_partitions,
            window_s=s.attribution_window_s,
            horizon_s=s.dedupe_horizon_s,
            max_clock_lead_s=s.max_clock_lead_s,
            half_life_s=s.half_life_s,
            user_history=s.user_history,
            max_users=s.max_users_per_partition,
            flush_interval_s=s.flush_interval_s,
            refresh_s=s.refresh_s,
            stats_interval_s=s.stats_interval_s,
            behaviour_interval_s=s.behaviour_interval_s,
            max_event_lead_s=s.max_event_lead_s or None,
            max_event_age_s=s.max_event_age_s or None,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the clients; the group member (joining since `GroupMember.start`) hands us partitions."""
        options = client_options(self.common)
        if self._member is None:
            self._member = GroupMember(self.settings)
            await self._member.start()
        self._consumer = self._member.consumer
        self.partitions = self._member.partitions
        # A short fetch wait: recovery reads one checkpoint partition after another, and a fetch left
        # waiting at the end of the previous one would hold the next one back that long.
        self._reader_consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, fetch_max_wait_ms=10)
        await self._reader_consumer.start()
        self.stats_partitions = await partition_count(self._reader_consumer, BANDIT_STATS.name)
        self._stats_route = PartitionCache(self.stats_partitions)
        behaviour_partitions = await partition_count(self._reader_consumer, USER_BEHAVIOUR.name)
        self._behaviour_route = PartitionCache(behaviour_partitions)
        self._reader = LogReader(self._reader_consumer)
        self._producer = AIOKafkaProducer(
            **options,
            client_id=self.app_id,
            acks="all",
            linger_ms=2,
            max_batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024,
        )
        await self._producer.start()
        self._started.set()
        self._member.attach(self)

    async def consume(self) -> None:
        """Read in bulk until stopped (a faust app task)."""
        await self._started.wait()
        assert self._consumer is not None
        consumer = self._consumer
        impressions, clicks = AD_IMPRESSIONS.name, AD_CLICKS.name
        while not self._stopping:
            if self._failure is not None:
                raise self._failure  # from a rebalance callback, which aiokafka would only log
            batches = await consumer.getmany(timeout_ms=100, max_records=20_000)
            for tp, records in batches.items():
                owned = self.owned.get(tp.partition)
                if owned is None or not records:
                    continue
                if tp.topic == impressions:
                    owned.state.read_impressions(records)
                elif tp.topic == clicks:
                    owned.state.read_clicks(records)
                    end = consumer.highwater(tp)
                    owned.state.ledger.clicks_behind(
                        tp.partition, end is not None and end > records[-1].offset + 1
                    )
                else:
                    owned.state.read_outcomes(records)
            if batches:
                self._count()

    def _count(self) -> None:
        held = 0
        for owned in self.owned.values():
            state = owned.state
            for (topic, verdict), n in state.verdicts.items():
                EVENTS.labels(topic, self.app_id, verdict).inc(n)
            state.verdicts.clear()
            if state.replayed_batches:
                OUTCOMES_REPLAYED.inc(state.replayed_batches)
                state.replayed_batches = 0
            held += state.ledger.held_count()
        CLICKS_HELD.set(held)

    async def tick(self) -> None:
        """Flush every owned partition (a faust timer); a flush runs to its end even if the timer stops."""
        if self._stopping:
            return
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_all())
        await asyncio.shield(self._flushing)

    async def _flush_all(self, final: bool = False) -> None:
        now = time.monotonic()
        sweep = not final and now - self._last_sweep >= self.settings.refresh_s / 10
        # Each creative's (user's) changes go out at the first flush at least stats_interval_s
        # (behaviour_interval_s) after its previous publication; at the final flush, all.
        clock = None if final else now
        await asyncio.gather(*(self.flush(p, sweep, clock) for p in list(self.owned)))
        if sweep:
            self._last_sweep = now
        if now - self._last_sizes >= SIZES_EVERY_S:  # counting user windows walks them all
            self._last_sizes = now
            sizes: collections.Counter[str] = collections.Counter()
            for owned in self.owned.values():
                sizes.update(owned.state.sizes())
            for what, size in sizes.items():
                STATE_SIZE.labels(what).set(size)

    async def stop(self) -> None:
        """Stop reading, finish the flush in flight, checkpoint everything, leave the group."""
        self._stopping = True
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        try:
            if self._producer is not None and self.owned:
                await self._flush_all(final=True)
        finally:
            self.owned = {}  # checkpointed: the group may hand them on without another flush
            for client in (self._consumer, self._reader_consumer, self._producer):
                if client is not None:
                    await client.stop()

    # -- flushing --------------------------------------------------------------------------------

    async def flush(self, partition: int, sweep: bool, now: float | None) -> None:
        owned = self.owned.get(partition)
        if owned is None:
            return
        async with owned.lock:
            if self.owned.get(partition) is not owned:
                return  # revoked meanwhile
            started = time.perf_counter()
            plan = owned.state.plan_flush(True, True, sweep, now)
            await self._write(owned, plan)
            FLUSH_SECONDS.observe(time.perf_counter() - started)

    async def _write(self, owned: _Owned, plan: Flush) -> None:
        producer = self._producer
        assert producer is not None
        if plan.letters:
            await asyncio.gather(*[self._dead_letter(letter) for letter in plan.letters])
        if plan.body is not None:
            live_from, live_fence = owned.state.live_from(owned.log.fence_offset)
            offset = await owned.log.append(plan.sequence, plan.body, live_from, live_fence)
            owned.state.written(plan, offset, owned.log.fence_offset)
            CHECKPOINT_BYTES.inc(len(plan.body))
        futures = [await producer.send(self.outcomes, value, partition=p) for p, value in plan.outbox]
        if plan.stats:
            futures += await self._publish(
                BANDIT_STATS.name,
                [
                    (
                        self._stats_route(s.creative_id),
                        stats_key(s.creative_id, s.context_bucket).encode(),
                        s.SerializeToString(),  # made from our own counts: valid by construction
                    )
                    for s in plan.stats
                ],
            )
        if plan.behaviour:
            futures += await self._publish(
                USER_BEHAVIOUR.name,
                [
                    (
                        self._behaviour_route(user_id),
                        user_id.encode(),
                        None if r is None else r.SerializeToString(),
                    )
                    for user_id, r in plan.behaviour
                ],
            )
        for future in futures:
            await future
        if plan.stats:
            SNAPSHOTS_PUBLISHED.inc(len(plan.stats))

    async def _publish(
        self, topic: str, records: list[tuple[int, bytes, bytes | None]]
    ) -> list[asyncio.Future[Any]]:
        """Send (partition, key, value) records in batches per partition, in order; the futures."""
        producer = self._producer
        assert producer is not None
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for partition, key, value in records:
            by_partition.setdefault(partition, []).append((key, value))
        futures: list[asyncio.Future[Any]] = []
        for partition, items in by_partition.items():
            batch = producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    async def _dead_letter(self, letter: Letter) -> None:
        assert self._producer is not None
        record = letter.record
        log.warning("dead-lettered", topic=record.topic, offset=record.offset, reason=letter.reason)
        dead = dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            reason=letter.reason,
            consumer=self.app_id,
        )
        topic = AD_IMPRESSIONS.dlq.name if record.topic == AD_IMPRESSIONS.name else AD_CLICKS.dlq.name
        headers = dead_letter_headers(record.key, record.value)
        await self._producer.send_and_wait(
            topic, dead.SerializeToString(), key=dead.key or None, headers=headers
        )
        if letter.kind in UNATTRIBUTED:
            CLICKS_UNATTRIBUTED.labels(letter.kind.value).inc()

    # -- rebalancing -----------------------------------------------------------------------------

    async def revoke(self, partitions: set[int]) -> None:
        """Checkpoint and drop the partitions the group takes away."""
        try:
            await self._revoke(partitions)
        except Exception as exc:
            log.error("revoking partitions failed", partitions=sorted(partitions), error=repr(exc))
            self._failure = exc
            raise

    async def _revoke(self, partitions: set[int]) -> None:
        for partition in sorted(partitions):
            owned = self.owned.get(partition)
            if owned is None:
                continue
            if not self._stopping and self._producer is not None:
                await self.flush(partition, False, None)
            self.owned.pop(partition, None)
        if partitions:
            log.info("partitions revoked", partitions=sorted(partitions))

    async def assign(self, partitions: set[int]) -> None:
        """Fence, recover and seek the partitions the group gives us; then read them."""
        try:
            await self._assign(partitions)
        except Exception as exc:
            log.error("recovering partitions failed", partitions=sorted(partitions), error=repr(exc))
            self._failure = exc
            raise

    async def _assign(self, partitions: set[int]) -> None:
        await self._started.wait()
        assert self._consumer is not None
        new = sorted(p for p in partitions if p not in self.owned)
        tps = [
            TopicPartition(t, p) for p in new for t in (AD_IMPRESSIONS.name, AD_CLICKS.name, self.outcomes)
        ]
        if tps:
            self._consumer.pause(*tps)
            started = time.perf_counter()
            for partition in new:
                await self._recover(partition)
            RECOVERY_SECONDS.observe(time.perf_counter() - started)
            self._consumer.resume(*tps)
            log.info("partitions recovered", partitions=new, seconds=round(time.perf_counter() - started, 3))
        if not self.ready.is_set():
            log.info("tables recovered, consuming")
            self.ready.set()

    async def _recover(self, partition: int) -> None:
        assert self._producer is not None and self._reader is not None and self._consumer is not None
        checkpoints = CheckpointLog(self._producer, self._reader, self.checkpoints, partition)
        fence = await checkpoints.fence()
        state = PartitionState(partition, self.rules(), fence)
        count = 0
        async for checkpoint in checkpoints.recover():
            state.apply_checkpoint(checkpoint.offset, checkpoint.fence, checkpoint.sequence, checkpoint.body)
            count += 1
        resend = state.finish_recovery()
        producer = self._producer
        futures = [await producer.send(self.outcomes, value, partition=p) for p, value in resend]
        for future in futures:
            await future
        offsets = state.next_offsets
        for topic, offset in zip((AD_IMPRESSIONS.name, AD_CLICKS.name, self.outcomes), offsets, strict=True):
            self._consumer.seek(TopicPartition(topic, partition), offset)
        self.owned[partition] = _Owned(state, checkpoints)
        CLICKS_HELD.set(sum(o.state.ledger.held_count() for o in self.owned.values()))
        log.info(
            "partition recovered",
            partition=partition,
            checkpoints=count,
            offsets=offsets,
            **state.sizes(),
        )
