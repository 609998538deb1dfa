"""The attribution job: joins `ad.impressions` with `ad.clicks` (the bandit's window rule), looks up
each creative's elements on `creatives`, feeds the settled impressions to the estimator and
publishes the changed estimates on `element.attribution`.

One process reads every partition (no consumer group): the estimates pool all products. It keeps
no offsets: at start it reads the three topics from their earliest retained records up to their
ends before it settles anything, so its aggregates are those of the retained logs (set the
retention of ad.impressions / ad.clicks to the history the lifts should cover).

State, all bounded: the creatives' elements (the catalogue), the impressions within their window
(at most `max_pending`), the clicks not yet matched and the settled impression ids (both expire
with the window, and hold at most `max_pending` and twice that: a duplicate of an id still held is
counted once), and the estimator's sums (catalogue x buckets x element values).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.attribution.estimator import ElementAttribution, Estimate
from creativeloop.attribution.settings import AttributionSettings
from creativeloop.kit.admin import ensure_topics, topic_partitions
from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.context import context_bucket
from creativeloop.kit.kafka import client_options
from creativeloop.kit.logs import get_logger
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, CREATIVES, ELEMENT_ATTRIBUTION
from creativeloop.v1 import attribution_pb2, events_pb2

log = get_logger(__name__)


def _seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def lift_key(kind: str, value: str, bucket: str) -> str:
    """The `element.attribution` key of one element value in one bucket."""
    return f"{kind}/{value}/{bucket}"


def lift_message(estimate: Estimate, product_id: str = "") -> attribution_pb2.ElementLift:
    message = attribution_pb2.ElementLift(
        element_kind=estimate.kind,
        element_id=estimate.value,
        context_bucket=estimate.bucket,
        lift=estimate.lift,
        low=estimate.low,
        high=estimate.high,
        stderr=estimate.stderr,
        ctr_with=estimate.ctr_with,
        ctr_without=estimate.ctr_without,
        naive_ctr=estimate.naive_ctr,
        impressions_with=estimate.impressions_with,
        impressions_without=estimate.impressions_without,
        products=estimate.products,
        product_id=product_id,
    )
    message.updated_at.CopyFrom(now_timestamp())
    return message


@dataclass
class _Pending:
    creative_id: str
    bucket: str
    propensity: float
    shown_at: float
    deadline: float


class AttributionJob:
    """Reads, joins, estimates and publishes (see the module doc)."""

    def __init__(self, settings: AttributionSettings) -> None:
        self.settings = settings
        self.estimator = ElementAttribution(max_weight=settings.max_weight)
        #: creative_id -> (product_id, elements)
        self.creatives: dict[str, tuple[str, dict[str, str]]] = {}
        #: impression_id -> the impression awaiting its window (insertion order = read order).
        self.pending: collections.OrderedDict[str, _Pending] = collections.OrderedDict()
        #: impression_id -> clicked_at, for clicks read before their impression is settled.
        self.clicks: dict[str, float] = {}
        #: impression_id -> when it may be forgotten (duplicates of it until then are ignored).
        self.settled: dict[str, float] = {}
        self.dirty: set[tuple[str, str, str]] = set()
        self.counts: collections.Counter[str] = collections.Counter()
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self.producer = EventProducer(settings.common, client_id="creativeloop-attribution")

    # -- the join --------------------------------------------------------------------------------

    def read_creative(self, key: str, value: bytes | None) -> None:
        if value is None:
            self.creatives.pop(key, None)
            return
        event = decode(events_pb2.CreativeUpdated, value)
        creative = event.creative
        if not creative.elements and creative.creative_id in self.creatives:
            # A lifecycle state record (retired, paused) carries no content: the logged impressions
            # of the creative still count for the elements it was built from.
            return
        self.creatives[creative.creative_id] = (creative.product_id, dict(creative.elements))

    def read_impression(self, value: bytes | None, now: float) -> None:
        impression = decode(events_pb2.Impression, value)
        iid = impression.impression_id
        if iid in self.pending or iid in self.settled:
            self.counts["duplicate"] += 1
            return
        shown_at = _seconds(impression.shown_at)
        window, grace = self.settings.attribution_window_s, self.settings.settle_grace_s
        self.pending[iid] = _Pending(
            impression.creative_id,
            context_bucket(impression.context),
            impression.propensity,
            shown_at,
            max(shown_at + window, now) + grace,
        )
        while len(self.pending) > self.settings.max_pending:
            oldest = next(iter(self.pending))
            self._settle(oldest, self.pending.pop(oldest), now)
            self.counts["settled_early"] += 1

    def read_click(self, value: bytes | None, now: float) -> None:
        click = decode(events_pb2.Click, value)
        if click.impression_id in self.settled:
            self.counts["late_click"] += 1
            return
        self.clicks[click.impression_id] = _seconds(click.clicked_at)
        if len(self.clicks) > self.settings.max_pending:  # the oldest read first
            del self.clicks[next(iter(self.clicks))]

    def _settle(self, iid: str, pending: _Pending, now: float) -> None:
        clicked_at = self.clicks.pop(iid, None)
        clicked = (
            clicked_at is not None and clicked_at - pending.shown_at <= self.settings.attribution_window_s
        )
        self.settled[iid] = now + self.settings.attribution_window_s + self.settings.settle_grace_s
        if len(self.settled) > 2 * self.settings.max_pending:  # the oldest settled first
            del self.settled[next(iter(self.settled))]
        creative = self.creatives.get(pending.creative_id)
        if creative is None:
            self.counts["unknown_creative"] += 1
            return
        product_id, elements = creative
        self.dirty.update(
            self.estimator.add(product_id, elements, pending.bucket, pending.propensity, clicked)
        )
        self.counts["settled"] += 1

    def settle(self, now: float) -> None:
        """Count every impression whose window (and grace) has passed; forget what expired."""
        due = [iid for iid, p in self.pending.items() if p.deadline <= now]
        for iid in due:
            self._settle(iid, self.pending.pop(iid), now)
        horizon = self.settings.attribution_window_s + self.settings.settle_grace_s
        for iid in [i for i, until in self.settled.items() if until <= now]:
            del self.settled[iid]
        for iid in [i for i, at in self.clicks.items() if at + 2 * horizon <= now and i not in self.pending]:
            del self.clicks[iid]

    def changed_estimates(self) -> list[tuple[str, attribution_pb2.ElementLift]]:
        """The estimates changed since the last call that have a comparison (products > 0)."""
        out = []
        for kind, value, bucket in sorted(self.dirty):
            estimate = self.estimator.estimate(kind, value, bucket)
            if estimate.products:
                out.append((lift_key(kind, value, bucket), lift_message(estimate)))
        self.dirty.clear()
        return out

    # -- the loop --------------------------------------------------------------------------------

    def _apply(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]], now: float) -> None:
        for record in records:
            try:
                if tp.topic == CREATIVES.name:
                    self.read_creative((record.key or b"").decode(errors="replace"), record.value)
                elif tp.topic == AD_IMPRESSIONS.name:
                    self.read_impression(record.value, now)
                else:
                    self.read_click(record.value, now)
            except InvalidEvent:
                # The bandit dead-letters bad impressions and clicks; a bad creative is imagegen's.
                self.counts["invalid"] += 1

    async def run(self) -> None:
        """Catch up on the retained logs, then read, settle and publish until cancelled."""
        await ensure_topics(self.settings.common, [ELEMENT_ATTRIBUTION])
        options = client_options(self.settings.common)
        consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, group_id=None)
        await consumer.start()
        await self.producer.start()
        self._consumer = consumer
        try:
            partitions = []
            for topic in (CREATIVES, AD_IMPRESSIONS, AD_CLICKS):
                numbers = await topic_partitions(consumer, topic.name)
                partitions += [TopicPartition(topic.name, p) for p in numbers]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            caught_up = False
            last_publish = 0.0
            while True:
                batches = await consumer.getmany(timeout_ms=100, max_records=10_000)
                now = time.time()
                for tp, records in batches.items():
                    self._apply(tp, records, now)
                if not caught_up:
                    caught_up = all([await consumer.position(tp) >= end for tp, end in ends.items()])
                    if not caught_up:
                        continue
                    log.info("attribution caught up", extra={"creatives": len(self.creatives)})
                if now - last_publish >= self.settings.publish_interval_s or not self.ready.is_set():
                    last_publish = now
                    self.settle(now)
                    changed = self.changed_estimates()
                    if changed:
                        await self.producer.send_batch(ELEMENT_ATTRIBUTION, changed)
                    self.ready.set()
        finally:
            await consumer.stop()
            await self.producer.stop()
