"""The bandit's faust app: two agents, three tables and a timer around the rules in `stats`.

    ad.impressions + ad.clicks (key impression_id)
      -> agent `track-impressions`, tables `impressions` and `held-clicks` (keyed by
         impression_id, co-partitioned with the sources); late and orphaned clicks -> ad.clicks.dlq
      -> internal topic `<app_id>-count-outcomes` (key creative_id, created by faust)
      -> agent `count-outcomes`, table `creative-counts` (keyed by creative_id, all its buckets)
      -> timer: BanditStats snapshots of changed counts -> bandit.stats, per (creative, bucket)
         with `context_bucket` set and key `creative_id|bucket`, and per creative over all
         contexts with key `creative_id`; all records of one creative go to the partition its
         creative_id hashes to, the buckets before the aggregate, so a reader that keeps one record
         per creative_id ends every round on the aggregate.

Tables are in memory and recovered from their changelog topics (`<app_id>-<table>-changelog`)
on start and after every rebalance. The attribution window runs on event time (see `stats`), so
no wall-clock timer touches the tables.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.types import AgentT
from mode import CrashingSupervisor

from creativeloop.bandit.metrics import (
    CLICKS_HELD,
    CLICKS_UNATTRIBUTED,
    EVENTS,
    OUTCOMES_REPLAYED,
    SNAPSHOTS_PUBLISHED,
)
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.stats import (
    UNATTRIBUTED,
    CreativeCounter,
    ImpressionLedger,
    Letter,
    LetterKind,
    Outcome,
    SourceRecord,
    Step,
    Verdict,
)
from creativeloop.kit.codec import InvalidEvent, dead_letter, decode, encode
from creativeloop.kit.context import stats_key
from creativeloop.kit.faust_app import make_faust_app
from creativeloop.kit.logs import get_logger
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, Topic
from creativeloop.v1 import events_pb2

log = get_logger(__name__)

IMPRESSIONS_TABLE = "impressions"
HELD_TABLE = "held-clicks"
COUNTS_TABLE = "creative-counts"
TRACK_AGENT = "track-impressions"
COUNT_AGENT = "count-outcomes"
SOURCES: tuple[Topic, ...] = (AD_IMPRESSIONS, AD_CLICKS)


def _check_key(key: bytes | None, impression_id: str) -> None:
    """Dedupe and click-before-impression rely on co-partitioning: the key must be the impression_id."""
    if key is None or key.decode(errors="replace") != impression_id:
        raise InvalidEvent(f"record key {key!r} is not the impression_id {impression_id!r}")


def stats_partition(creative_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives key `creative_id` (murmur2, like the Java client)."""
    return (int(murmur2(creative_id.encode())) & 0x7FFFFFFF) % partitions


def source_record(message: Any) -> SourceRecord:
    """The faust message's origin and bytes (its timestamp is in seconds, with ms precision)."""
    timestamp_ns = round((message.timestamp or 0.0) * 1000) * 1_000_000
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ns=timestamp_ns,
    )


class BanditStreams:
    """Builds the faust app; `run()` runs it until it stops, `ready` is set once it consumes."""

    def __init__(self, settings: BanditSettings) -> None:
        self.settings = settings
        self.app = make_faust_app(settings.app_id, settings.common, settings.data_dir)
        #: Set by an app task, which faust starts only after table recovery and once consuming.
        self.ready = asyncio.Event()
        # value_type=bytes: tables default to the json codec, which writes our bytes as they are
        # but parses them on recovery, so values would be bytes live and dicts after a restart.
        self.impressions = self.app.Table(
            IMPRESSIONS_TABLE, key_type=str, value_type=bytes, help="Impression state by impression_id."
        )
        self.held = self.app.Table(
            HELD_TABLE,
            key_type=str,
            value_type=bytes,
            help="Clicks waiting for their impression, by impression_id.",
            on_recover=self._on_held_recovered,
        )
        self.counts = self.app.Table(
            COUNTS_TABLE,
            key_type=str,
            value_type=bytes,
            help="Decayed impression and click counts by creative_id, per context bucket and overall.",
            on_recover=self._on_counts_recovered,
        )
        self.ledger = ImpressionLedger(self.impressions, self.held, settings.attribution_window_s)
        self.counter = CreativeCounter(self.counts, settings.half_life_s)
        self._stats_topic = self.app.topic(BANDIT_STATS.name)
        #: bandit.stats is created with this many partitions (kit.admin.ensure_topics).
        self._stats_partitions = BANDIT_STATS.partitions or settings.common.topic_partitions
        self._dlq = {t.name: self.app.topic(t.dlq.name) for t in SOURCES}
        # CrashingSupervisor: an unexpected error stops the process (restarted, state intact)
        # instead of faust's default of restarting the agent past the record that failed.
        # No channel: faust creates and owns `<app_id>-count-outcomes`, partitioned like the table.
        self.count_agent: AgentT[Any] = self.app.agent(
            name=COUNT_AGENT, supervisor_strategy=CrashingSupervisor
        )(self._count_outcomes)
        sources = self.app.topic(*(t.name for t in SOURCES))
        self.track_agent: AgentT[Any] = self.app.agent(
            sources, name=TRACK_AGENT, supervisor_strategy=CrashingSupervisor
        )(self._track_impressions)
        self.app.timer(settings.stats_interval_s, name="publish-stats")(self.publish_stats)
        self.app.task(self._mark_ready)
        for topic in SOURCES:  # export zeros, so rate() sees the first increment
            for verdict in Verdict:
                EVENTS.labels(topic.name, settings.app_id, verdict.value)
        for kind in UNATTRIBUTED:
            CLICKS_UNATTRIBUTED.labels(kind.value)

    async def _mark_ready(self) -> None:
        log.info("tables recovered, consuming")
        self.ready.set()

    async def _on_held_recovered(self) -> None:
        # Held clicks are indexed by deadline in memory: rebuild the index from the recovered table.
        self.ledger.rebuild()
        CLICKS_HELD.set(self.ledger.held_count())

    async def _on_counts_recovered(self) -> None:
        # The previous owner may have stopped before publishing its last changes.
        self.counter.mark_all_changed()

    async def _track_impressions(self, stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            record = source_record(event.message)
            try:
                step = self._step(record)
            except InvalidEvent as exc:
                step = Step(Verdict.DEAD_LETTERED, letters=(Letter(record, LetterKind.INVALID, exc.reason),))
            if (outcome := step.outcome) is not None:
                await self.count_agent.send(key=outcome.creative_id.encode(), value=outcome.encode())
            for letter in step.letters:
                await self._dead_letter(letter)
            # Counted last: once a record shows in the metrics, its letters are on the broker.
            EVENTS.labels(record.topic, self.settings.app_id, step.verdict.value).inc()
            CLICKS_HELD.set(self.ledger.held_count())

    def _step(self, record: SourceRecord) -> Step:
        if record.topic == AD_IMPRESSIONS.name:
            impression = decode(events_pb2.Impression, record.value)
            _check_key(record.key, impression.impression_id)
            return self.ledger.impression(impression, record)
        click = decode(events_pb2.Click, record.value)
        _check_key(record.key, click.impression_id)
        return self.ledger.click(click, record)

    async def _dead_letter(self, letter: Letter) -> None:
        record = letter.record
        log.warning("dead-lettered", topic=record.topic, offset=record.offset, reason=letter.reason)
        dead = dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            reason=letter.reason,
            consumer=self.settings.app_id,
        )
        delivered = await self._dlq[record.topic].send(key=record.key, value=dead.SerializeToString())
        await delivered  # a letter is rare and must not be lost: wait for the broker's ack
        if letter.kind in UNATTRIBUTED:
            CLICKS_UNATTRIBUTED.labels(letter.kind.value).inc()

    async def _count_outcomes(self, stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            if not self.counter.apply(Outcome.decode(event.value), event.message.offset):
                OUTCOMES_REPLAYED.inc()

    async def publish_stats(self) -> None:
        """Publish a snapshot of every count changed since the last run (buckets before aggregates)."""
        for stats in self.counter.take_snapshots():
            await self._stats_topic.send(
                key=stats_key(stats.creative_id, stats.context_bucket).encode(),
                value=encode(stats),
                partition=stats_partition(stats.creative_id, self._stats_partitions),
            )
            SNAPSHOTS_PUBLISHED.inc()

    async def run(self) -> None:
        """Run the faust app until it stops; stop it when cancelled; fail when it stops by itself."""
        try:
            await self.app.start()
            await self.app.wait_until_stopped()
        finally:
            await self._stop_app()
        reason = self.app.crash_reason
        raise RuntimeError(f"faust app stopped: {reason!r}") from reason

    async def _stop_app(self) -> None:
        try:
            await self.app.stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # After a crash, mode cancels the calls pending in faust's consumer thread, and a
            # commit during stop() surfaces that as CancelledError: not ours, so do not hide the crash.
            log.warning("faust app stopped uncleanly after a crash", reason=repr(self.app.crash_reason))
