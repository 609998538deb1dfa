"""Dead-letter queues: list the letters of ``<topic>.dlq``, and replay them to their source topic.

A letter (`DeadLetter`) holds the rejected record's source topic, partition and offset, its key
and bytes, the reason, the consumer that rejected it and when. ``creativeloop dlq list TOPIC``
and ``creativeloop dlq replay TOPIC`` are the command line over `list_letters` and `replay`.

Replay re-publishes each letter's original key and value to its source topic and partition,
with a header ``creativeloop-replay-of: <dlq topic>/<partition>/<offset>`` naming the letter. It
is idempotent in two ways:

- **Progress is committed on the DLQ topic** under a replay consumer group
  (``creativeloop-dlq-replay`` unless told otherwise), after each batch is on the broker
  (``acks=all``). A second run starts after the last committed letter, so running replay twice
  publishes every letter once. Only a crash between publishing a batch and committing it
  publishes that batch again on the next run (at least once, never lost).
- **A letter of an oversized record** holds only the record's first 64 KiB (headers give the
  whole value's sha256 and size, `creativeloop.kit.codec.dead_letter_headers`): it is never
  replayed (`ReplayReport.truncated`).
- **A replayed record that fails again** is dead-lettered with its headers (`EventProducer`
  copies them), so its new letter names the letter it was replayed from; replay skips such
  letters unless asked to (`include_failed_replays`), so bad records do not loop.

Why a re-published record is safe: every consumer of a source topic is idempotent. The stream
stages (`creativeloop.kit.stage`) skip versions older than the newest one handled (a replayed
stale product or profile changes nothing) and republish the same version with the same
deterministic creative ids and content-addressed assets, so the compacted latest state is
rewritten with itself; the bandit ignores impression and click ids it has counted; ranking's
views are latest-state per key. A replayed record is ordered after newer records of its key,
and version ordering, not arrival order, decides.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import DecodeError

from creativeloop.kit.codec import TRUNCATED_HEADER
from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.kit.feed import read_to_end
from creativeloop.kit.kafka import client_options
from creativeloop.kit.logs import get_logger
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import DLQ_SUFFIX, Topic, by_name
from creativeloop.v1 import events_pb2

log = get_logger(__name__)

REPLAY_GROUP = "creativeloop-dlq-replay"
REPLAY_HEADER = "creativeloop-replay-of"


def dlq_topic(name: str) -> Topic:
    """The DLQ topic for a source topic name (``product.changes``) or a DLQ name (``...dlq``)."""
    source = by_name(name.removesuffix(DLQ_SUFFIX))  # KeyError for an unknown topic
    return source.dlq


@dataclass(frozen=True)
class Letter:
    """One dead letter and where it sits on the DLQ topic."""

    dlq_topic: str
    dlq_partition: int
    offset: int
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes
    value: bytes
    reason: str
    consumer: str
    failed_at: datetime
    #: "<dlq topic>/<partition>/<offset>" when the failed record was itself a replay, else "".
    replay_of: str = ""
    headers: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def truncated(self) -> str:
        """What the letter holds only the start of ("value", "key", "key,value"), or "" (whole)."""
        return next((v.decode(errors="replace") for n, v in self.headers if n == TRUNCATED_HEADER), "")

    @property
    def ref(self) -> str:
        """ "<dlq topic>/<partition>/<offset>": how a replayed record names this letter."""
        return f"{self.dlq_topic}/{self.dlq_partition}/{self.offset}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: bytes as text (UTF-8, undecodable bytes replaced); the value by size only."""
        return {
            "dlq_topic": self.dlq_topic,
            "dlq_partition": self.dlq_partition,
            "offset": self.offset,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "key": self.key.decode(errors="replace"),
            "value_bytes": len(self.value),
            "reason": self.reason,
            "consumer": self.consumer,
            "failed_at": self.failed_at.isoformat(),
            "replay_of": self.replay_of,
            "truncated": self.truncated,
        }


def letter_from_record(record: ConsumerRecord[bytes, bytes]) -> Letter:
    """Parse one DLQ record; ValueError if it is not a DeadLetter."""
    try:
        message = events_pb2.DeadLetter.FromString(record.value or b"")
    except DecodeError as exc:
        raise ValueError(f"{record.topic}@{record.offset}: not a DeadLetter: {exc}") from exc
    try:
        failed_at = message.failed_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:  # a Timestamp outside its range
        raise ValueError(f"{record.topic}@{record.offset}: bad failed_at: {exc}") from exc
    headers = tuple((name, bytes(value)) for name, value in (record.headers or ()))
    replay_of = next((value.decode(errors="replace") for name, value in headers if name == REPLAY_HEADER), "")
    return Letter(
        dlq_topic=record.topic,
        dlq_partition=record.partition,
        offset=record.offset,
        source_topic=message.source_topic,
        source_partition=message.partition,
        source_offset=message.offset,
        key=message.key,
        value=message.value,
        reason=message.reason,
        consumer=message.consumer,
        failed_at=failed_at,
        replay_of=replay_of,
        headers=headers,
    )


def _letters(records: list[ConsumerRecord[bytes, bytes]]) -> list[Letter]:
    letters = []
    for record in records:
        try:
            letters.append(letter_from_record(record))
        except ValueError as exc:
            log.warning("skipped unreadable dead letter", error=str(exc))
    return letters


async def list_letters(settings: CommonSettings, topic: str, *, timeout_s: float = 60.0) -> list[Letter]:
    """Every letter on the DLQ of `topic` (source or DLQ name), oldest first per partition."""
    _, records = await read_to_end(settings, dlq_topic(topic).name, timeout_s=timeout_s)
    return _letters(records)


@dataclass
class ReplayReport:
    """What one replay run did."""

    #: Letters re-published to their source topic (or that would be, in a dry run).
    replayed: list[Letter] = field(default_factory=list)
    #: Letters of replayed records that failed again, left alone (see `include_failed_replays`).
    skipped: list[Letter] = field(default_factory=list)
    #: Letters of oversized records, which hold only their start (`Letter.truncated`): never replayed.
    truncated: list[Letter] = field(default_factory=list)


async def replay(
    settings: CommonSettings,
    topic: str,
    *,
    group: str = REPLAY_GROUP,
    include_failed_replays: bool = False,
    dry_run: bool = False,
    timeout_s: float = 60.0,
) -> ReplayReport:
    """Re-publish the letters not yet replayed by `group` to their source topics (see module doc).

    Reads the DLQ from the group's committed offsets (the beginning the first time) until it is
    past the end offsets seen at the start and a poll comes back empty (Tansu reports "latest"
    short, so the end offsets alone would leave letters behind). It stops before a letter of a
    record this very run replayed (dead-lettered again meanwhile): that one waits for the next
    run, which skips it or, with `include_failed_replays`, replays it. Letters
    of failed replays that are skipped count as done for the group too: to replay those, fix the
    cause and run with `include_failed_replays` before the group passes them, or with a new
    group (which replays every letter from the beginning again: safe, see the module doc). A dry
    run reports what would be replayed and commits nothing.
    """
    dlq = dlq_topic(topic)
    report = ReplayReport()
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        **client_options(settings), client_id=f"{group}-producer", acks="all", linger_ms=2
    )
    await consumer.start()
    await producer.start()
    try:
        await consumer.topics()
        partitions = consumer.partitions_for_topic(dlq.name)
        if not partitions:
            raise DependencyUnavailable("broker", f"topic {dlq.name} is missing (creativeloop topics create)")
        assigned = [TopicPartition(dlq.name, p) for p in sorted(partitions)]
        consumer.assign(assigned)  # no group membership needed: the group only keeps the offsets
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        ends = await consumer.end_offsets(assigned)
        source_partitions: dict[str, int] = {}
        this_run: set[str] = set()
        stopped: set[TopicPartition] = set()  # reached a failure of this run's own replays
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batches.items():
                if tp in stopped:
                    continue
                futures = []
                done: int | None = None  # the offset to commit: past the last letter dealt with
                for record in records:
                    try:
                        letter = letter_from_record(record)
                    except ValueError as exc:
                        log.warning("skipped unreadable dead letter", error=str(exc))
                        done = record.offset + 1
                        continue
                    if letter.replay_of in this_run:
                        stopped.add(tp)  # our own replay failed again: it and what follows wait
                        break
                    done = record.offset + 1
                    if letter.replay_of and not include_failed_replays:
                        report.skipped.append(letter)
                        continue
                    if letter.truncated:  # only the start of the record is here: nothing to replay
                        log.warning("skipped truncated dead letter", letter=letter.ref, cut=letter.truncated)
                        report.truncated.append(letter)
                        continue
                    report.replayed.append(letter)
                    this_run.add(letter.ref)
                    if dry_run:
                        continue
                    if letter.source_topic not in source_partitions:
                        known = await producer.partitions_for(letter.source_topic)
                        source_partitions[letter.source_topic] = len(known)
                    partition = (
                        letter.source_partition
                        if 0 <= letter.source_partition < source_partitions[letter.source_topic]
                        else None
                    )
                    futures.append(
                        await producer.send(
                            letter.source_topic,
                            letter.value,
                            key=letter.key or None,
                            partition=partition,
                            headers=[(REPLAY_HEADER, letter.ref.encode())],
                        )
                    )
                for future in futures:
                    await future
                if not dry_run and done is not None:
                    await consumer.commit({tp: done})
            if not batches or len(stopped) == len(assigned):
                positions = {tp: await consumer.position(tp) for tp in assigned}
                if all(tp in stopped or positions[tp] >= ends[tp] for tp in assigned):
                    break
            if asyncio.get_running_loop().time() > deadline:
                raise DependencyUnavailable("broker", f"{dlq.name} not read to its end in {timeout_s:g}s")
    finally:
        await producer.stop()
        await consumer.stop()
    log.info(
        "dead letters replayed" if not dry_run else "dead letters to replay (dry run)",
        dlq=dlq.name,
        replayed=len(report.replayed),
        skipped_failed_replays=len(report.skipped),
        group=group,
    )
    return report
