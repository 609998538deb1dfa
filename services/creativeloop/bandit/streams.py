"""The bandit's faust app: a host for the stream engine, which reads and checkpoints in bulk.

    ad.impressions + ad.clicks (key impression_id), partition p
      -> stage 1 of partition p: the join (dedupe, attribution window, held clicks), late and
         orphaned clicks -> ad.clicks.dlq
      -> internal topic `<app_id>-outcomes` (outcome batches, partition = the creative's or
         user's), tagged (source partition, sequence)
      -> stage 2 of the partition that owns the creative / user: decayed counts per creative and
         bucket, each user's recent impressions
      -> `bandit.stats` (per (creative, bucket) with key `creative_id|bucket`, and per creative over
         all contexts with key `creative_id`; all records of one creative go to the partition its
         creative_id hashes to, the buckets before the aggregate) and `user.behaviour` (key user_id)

Every partition's state is checkpointed with the input offsets it covers to
`<app_id>-checkpoints` (`engine`, `checkpoint`): recovery resumes exactly where the state is.
faust-streaming runs the application (the engine's reading loop as an app task, its flushes as an
app timer, start-up, shutdown and crashes); the records themselves are read in bulk by the
engine's own consumer, because faust's per-message path tops out far below the broker
(docs/benchmarks.md). The attribution window runs on event time (see `stats`), so no wall-clock
timer touches the counts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from creativeloop.bandit.engine import BanditEngine
from creativeloop.bandit.group import GroupMember
from creativeloop.bandit.metrics import CLICKS_UNATTRIBUTED, EVENTS
from creativeloop.bandit.partition import key_partition
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.stats import UNATTRIBUTED, CreativeCounter, ImpressionLedger, SourceRecord, Verdict
from creativeloop.kit.faust_app import make_faust_app
from creativeloop.kit.logs import get_logger
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, Topic

log = get_logger(__name__)

SOURCES: tuple[Topic, ...] = (AD_IMPRESSIONS, AD_CLICKS)


def stats_partition(creative_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives key `creative_id` (murmur2, like the Java client)."""
    return key_partition(creative_id, partitions)


def source_record(message: Any) -> SourceRecord:
    """A faust message's origin and bytes (its timestamp is in seconds, with ms precision)."""
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
    """Builds the app and the engine; `run()` runs them until they stop, `ready` is set once reading."""

    def __init__(self, settings: BanditSettings, member: GroupMember | None = None) -> None:
        self.settings = settings
        self.app = make_faust_app(settings.app_id, settings.common, settings.data_dir, host=True)
        self.engine = BanditEngine(settings, member)
        #: Set once the partitions of the first assignment are recovered and being read.
        self.ready = self.engine.ready
        self.app.task(self._consume)
        self.app.timer(settings.flush_interval_s, name="flush")(self.engine.tick)
        for topic in SOURCES:  # export zeros, so rate() sees the first increment
            for verdict in Verdict:
                EVENTS.labels(topic.name, settings.app_id, verdict.value)
        for kind in UNATTRIBUTED:
            CLICKS_UNATTRIBUTED.labels(kind.value)

    @property
    def ledger(self) -> ImpressionLedger:
        """A stage 1 ledger with the rules every partition's is built with."""
        rules = self.engine.rules()
        return ImpressionLedger(
            {},
            {},
            rules.window_s,
            rules.horizon_s,
            rules.max_clock_lead_s,
            rules.max_event_lead_s,
            rules.max_event_age_s,
        )

    @property
    def counter(self) -> CreativeCounter:
        """A stage 2 counter with the rules every partition's is built with."""
        return CreativeCounter({}, self.engine.rules().half_life_s)

    async def _consume(self) -> None:
        await self.engine.consume()

    async def run(self) -> None:
        """Run until the app stops; on the way out, checkpoint every partition and leave the group."""
        try:
            await asyncio.gather(self.engine.start(), self.app.start())
            await self.app.wait_until_stopped()
        finally:
            await self._stop()
        reason = self.app.crash_reason
        raise RuntimeError(f"faust app stopped: {reason!r}") from reason

    async def _stop(self) -> None:
        try:
            await self.app.stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.warning("faust app stopped uncleanly after a crash", reason=repr(self.app.crash_reason))
        finally:
            await self.engine.stop()
