"""The bandit's faust app: two agents, two tables and a timer around the rules in `stats`.

    ad.impressions + ad.clicks (key impression_id)
      -> agent `track-impressions`, table `impressions` (keyed by impression_id, co-partitioned)
      -> internal topic `<app_id>-count-outcomes` (key creative_id, created by faust)
      -> agent `count-outcomes`, table `creative-counts` (keyed by creative_id)
      -> timer: BanditStats snapshots of changed creatives -> bandit.stats

Tables are in memory and recovered from their changelog topics (`<app_id>-<table>-changelog`)
on start and after every rebalance.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from creativeloop.bandit.metrics import EVENTS, OUTCOMES_REPLAYED, SNAPSHOTS_PUBLISHED
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.stats import CreativeCounter, ImpressionLedger, Outcome, Step, Verdict
from creativeloop.kit.codec import InvalidEvent, dead_letter, decode, encode
from creativeloop.kit.faust_app import make_faust_app
from creativeloop.kit.logs import get_logger
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, Topic
from creativeloop.v1 import events_pb2
from faust.types import AgentT
from mode import CrashingSupervisor

log = get_logger(__name__)

IMPRESSIONS_TABLE = "impressions"
COUNTS_TABLE = "creative-counts"
TRACK_AGENT = "track-impressions"
COUNT_AGENT = "count-outcomes"
SOURCES: tuple[Topic, ...] = (AD_IMPRESSIONS, AD_CLICKS)


def _check_key(key: bytes | None, impression_id: str) -> None:
    """Dedupe and click-before-impression rely on co-partitioning: the key must be the impression_id."""
    if key is None or key.decode(errors="replace") != impression_id:
        raise InvalidEvent(f"record key {key!r} is not the impression_id {impression_id!r}")


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
        self.counts = self.app.Table(
            COUNTS_TABLE,
            key_type=str,
            value_type=bytes,
            help="Impression and click counts by creative_id.",
            on_recover=self._on_counts_recovered,
        )
        self.ledger = ImpressionLedger(self.impressions)
        self.counter = CreativeCounter(self.counts)
        self._stats_topic = self.app.topic(BANDIT_STATS.name)
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
            for outcome in (*(verdict.value for verdict in Verdict), "dead_lettered"):
                EVENTS.labels(topic.name, settings.app_id, outcome)

    async def _mark_ready(self) -> None:
        log.info("tables recovered, consuming")
        self.ready.set()

    async def _on_counts_recovered(self) -> None:
        # The previous owner may have stopped before publishing its last changes.
        self.counter.mark_all_changed()

    async def _track_impressions(self, stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                step = self._step(message.topic, message.key, message.value)
            except InvalidEvent as exc:
                await self._dead_letter(self._dlq[message.topic], message, exc.reason)
                continue
            EVENTS.labels(message.topic, self.settings.app_id, step.verdict.value).inc()
            if (outcome := step.outcome) is not None:
                await self.count_agent.send(key=outcome.creative_id.encode(), value=outcome.encode())

    def _step(self, topic: str, key: bytes | None, value: bytes | None) -> Step:
        if topic == AD_IMPRESSIONS.name:
            impression = decode(events_pb2.Impression, value)
            _check_key(key, impression.impression_id)
            return self.ledger.impression(impression)
        click = decode(events_pb2.Click, value)
        _check_key(key, click.impression_id)
        return self.ledger.click(click)

    async def _dead_letter(self, dlq: faust.TopicT, message: Any, reason: str) -> None:
        log.warning("dead-lettered", topic=message.topic, offset=message.offset, reason=reason)
        letter = dead_letter(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            reason=reason,
            consumer=self.settings.app_id,
        )
        delivered = await dlq.send(key=message.key, value=letter.SerializeToString())
        await delivered  # a letter is rare and must not be lost: wait for the broker's ack
        EVENTS.labels(message.topic, self.settings.app_id, "dead_lettered").inc()

    async def _count_outcomes(self, stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            if not self.counter.apply(Outcome.decode(event.value), event.message.offset):
                OUTCOMES_REPLAYED.inc()

    async def publish_stats(self) -> None:
        """Publish a snapshot of every creative whose counts changed since the last run."""
        for stats in self.counter.take_snapshots(now_timestamp()):
            await self._stats_topic.send(key=stats.creative_id.encode(), value=encode(stats))
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
