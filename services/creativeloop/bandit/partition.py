"""Everything one partition number owns in the bandit, and how it becomes a checkpoint.

Partition p of the bandit is partition p of three co-partitioned topics, owned by one worker:

- stage 1 (`ImpressionLedger`): impressions and clicks of `ad.impressions[p]` / `ad.clicks[p]`
  (keyed by impression_id): the join, dedupe, attribution window, held clicks, dead letters;
- stage 2: the `<app_id>-outcomes[p]` batches for the creatives and users that hash to p: decayed
  counts per creative and bucket (`CreativeCounter`, published on `bandit.stats`) and each user's
  recent impressions (`kit.behaviour.UserWindow`, published on `user.behaviour`).

Records are read in bulk (`read_impressions`, `read_clicks`, `read_outcomes`), synchronously, so
a flush never sees half a batch. `plan_flush` takes what changed since the last checkpoint
(stage 1 states with what they counted, the stage 2 batches applied, a slice of the stage 2
rewrite, users dropped) with the input offsets it covers into one `PartitionCheckpoint` body, and
derives the outcome batches for stage 2 from the stage 1 changes (`outcome_batches`). Recovery
replays checkpoints in order (`apply_checkpoint`) and re-derives the last one's outcome batches
to send them again (stage 2 applies a (source partition, sequence) once).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from aiokafka.partitioner import murmur2
from aiokafka.structs import ConsumerRecord

from creativeloop.bandit.stats import (
    ClickStatus,
    CreativeCounter,
    CreativeCounts,
    HeldClick,
    ImpressionLedger,
    ImpressionState,
    Letter,
    LetterKind,
    Outcome,
    SourceRecord,
    Verdict,
)
from creativeloop.kit.behaviour import UserWindow, behaviour_message
from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.decay import NS_PER_S
from creativeloop.v1 import events_pb2, streams_pb2

IMPRESSIONS, CLICKS, OUTCOMES = 0, 1, 2
#: Click status <-> its number in checkpoints.
STATUS_CODES = {status: code for code, status in enumerate(ClickStatus)}
STATUSES = list(ClickStatus)
#: Most user entries per outcome batch record (keeps records far below 1 MiB).
MAX_BATCH_ENTRIES = 8000
#: A rewrite round of stage 2 (every creative and user) is written in this many slices.
SWEEP_SLICES = 10


def key_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, like the Java client)."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % partitions


def check_key(key: bytes | None, impression_id: str) -> None:
    """Dedupe and click-before-impression rely on co-partitioning: the key must be the impression_id."""
    if key is None or key.decode(errors="replace") != impression_id:
        raise InvalidEvent(f"record key {key!r} is not the impression_id {impression_id!r}")


@dataclass(frozen=True)
class Rules:
    """The settings every partition's state is built with."""

    partitions: int
    window_s: float
    horizon_s: float
    max_clock_lead_s: float | None
    half_life_s: float | None
    user_history: int
    max_users: int
    flush_interval_s: float
    refresh_s: float
    #: Each creative's / user's records are published at most this often (and at once after a pause).
    stats_interval_s: float = 0.5
    #: Event-time sanity bounds around the record timestamp (None: unbounded; see `ImpressionLedger`).
    max_event_lead_s: float | None = None
    max_event_age_s: float | None = None
    behaviour_interval_s: float = 1.0


@dataclass
class Flush:
    """One flush of one partition, planned synchronously, written by the engine in this order."""

    letters: list[Letter]
    #: The checkpoint body (None: nothing to write).
    body: bytes | None
    sequence: int
    #: (partition of <app_id>-outcomes, OutcomeBatch bytes), sent once the checkpoint is written.
    outbox: list[tuple[int, bytes]]
    stats: list[events_pb2.BanditStats]
    #: (user_id, record or None for a tombstone).
    behaviour: list[tuple[str, streams_pb2.UserBehaviour | None]]
    #: Newest stage 1 time in the body (for the live window), and whether a rewrite round ends here.
    max_at_ns: int | None = None
    sweep_started: bool = False
    sweep_done: bool = False


class _Names:
    """Interns ids read from many records (creative ids, buckets) so windows share one string each."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self._names: dict[str, str] = {}
        self._limit = limit

    def __call__(self, name: str) -> str:
        got = self._names.get(name)
        if got is None:
            if len(self._names) >= self._limit:
                self._names.clear()
            got = self._names[name] = name
        return got


class PartitionCache:
    """key -> partition, cached (murmur2 in pure Python costs microseconds); one cache per count."""

    _caches: ClassVar[dict[int, dict[str, int]]] = {}

    def __init__(self, partitions: int, limit: int = 1_000_000) -> None:
        self.partitions = partitions
        self._cache = self._caches.setdefault(partitions, {})
        self._limit = limit

    def __call__(self, key: str) -> int:
        got = self._cache.get(key)
        if got is None:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            got = self._cache[key] = key_partition(key, self.partitions)
        return got


class PartitionState:
    """The state of one partition number (see the module doc), in memory."""

    def __init__(self, partition: int, rules: Rules, fence: int = -1) -> None:
        self.partition = partition
        self.rules = rules
        self.ledger = ImpressionLedger(
            {},
            {},
            rules.window_s,
            rules.horizon_s,
            rules.max_clock_lead_s,
            rules.max_event_lead_s,
            rules.max_event_age_s,
        )
        self.ledger.track_changes()
        self.counter = CreativeCounter({}, rules.half_life_s)
        self.users: OrderedDict[str, UserWindow] = OrderedDict()
        #: Next offsets to read: ad.impressions, ad.clicks, <app_id>-outcomes (this partition).
        self.next_offsets = [0, 0, 0]
        self._checkpointed_offsets = [0, 0, 0]
        #: Sequence of the last checkpoint written (or recovered).
        self.sequence = 0
        #: Per source partition: (sequence << 16 | part) of the last outcome batch applied.
        self.applied_sequences: dict[int, int] = {}
        self._applied: list[bytes] = []
        self._letters: list[Letter] = []
        self.verdicts: Counter[tuple[str, str]] = Counter()
        self.replayed_batches = 0
        self._users_changed: set[str] = set()
        #: Users dropped since the last `user.behaviour` publication (tombstones to send).
        self._tombstones: list[str] = []
        #: user_id -> when its record was last published (the engine's clock).
        self._user_taken_at: dict[str, float] = {}
        self._names = _Names()
        self._route = PartitionCache(rules.partitions)
        #: Checkpoints still needed by stage 1: (offset, fence in force, newest stage 1 time).
        self.live: deque[tuple[int, int, int | None]] = deque()
        #: (offset, fence) of the start of the last complete stage 2 rewrite (recovery reads from
        #: there at the latest); a new partition's is its own fence.
        self.sweep_live_from = (fence, fence)
        self._sweep: list[tuple[bool, str]] = []
        self._sweep_at = 0
        self._sweep_start: tuple[int, int] | None = None
        self._sweep_pending = False
        #: The last checkpoint recovered (its outcome batches are sent again after recovery).
        self.recovered: streams_pb2.PartitionCheckpoint | None = None

    # -- stage 1 ---------------------------------------------------------------------------------

    def read_impressions(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        self._read(records, IMPRESSIONS, True)

    def read_clicks(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        self._read(records, CLICKS, False)

    def _read(self, records: Sequence[ConsumerRecord[bytes, bytes]], which: int, impressions: bool) -> None:
        expected = self.next_offsets[which]
        letters, verdicts = self._letters, self.verdicts
        admit = self.ledger.admit_impression if impressions else self.ledger.admit_click
        message = events_pb2.Impression if impressions else events_pb2.Click
        topic = records[0].topic if records else ""
        tally: Counter[Verdict] = Counter()
        for record in records:
            offset = record.offset
            if offset < expected:
                continue  # read again after a seek: already in the state
            expected = offset + 1
            try:
                event: Any = decode(message, record.value)
                if record.key != event.impression_id.encode():
                    check_key(record.key, event.impression_id)
                verdict, found = admit(event, record.partition, record.timestamp * 1_000_000, record)
            except InvalidEvent as exc:
                verdict = Verdict.DEAD_LETTERED
                found = (Letter(SourceRecord.of(record), LetterKind.INVALID, exc.reason),)
            if found:
                letters.extend(found)
            tally[verdict] += 1
        for verdict, n in tally.items():
            verdicts[topic, verdict.value] += n
        self.next_offsets[which] = expected

    # -- stage 2 ---------------------------------------------------------------------------------

    def read_outcomes(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        expected = self.next_offsets[OUTCOMES]
        for record in records:
            if record.offset < expected:
                continue
            expected = record.offset + 1
            batch = streams_pb2.OutcomeBatch.FromString(record.value or b"")
            key = (batch.sequence << 16) | batch.part
            if key <= self.applied_sequences.get(batch.source_partition, 0):
                self.replayed_batches += 1  # sent again by a recovered source partition
                continue
            self._apply_batch(batch)
            self.applied_sequences[batch.source_partition] = key
            self._applied.append(record.value or b"")
        self.next_offsets[OUTCOMES] = expected

    def _apply_batch(self, batch: streams_pb2.OutcomeBatch) -> None:
        names, counter = self._names, self.counter
        for creative_id, bucket, impressions, clicks, at_ns in zip(
            batch.creative_ids, batch.buckets, batch.impressions, batch.clicks, batch.at_ns, strict=True
        ):
            counter.add(Outcome(names(creative_id), names(bucket), at_ns, impressions, clicks))
        users, changed, history = self.users, self._users_changed, self.rules.user_history
        for user_id, impression_id, creative_id, shown_at_ns, op in zip(
            batch.user_ids,
            batch.impression_ids,
            batch.shown_creative_ids,
            batch.shown_at_ns,
            batch.user_ops,
            strict=True,
        ):
            window = users.get(user_id)
            if window is None:
                window = users[user_id] = UserWindow(history)
            else:
                users.move_to_end(user_id)
            if op & 1:
                window.show(impression_id, names(creative_id), shown_at_ns, bool(op & 2))
            else:
                window.click(impression_id)
            changed.add(user_id)

    # -- checkpoints -----------------------------------------------------------------------------

    def take_letters(self) -> list[Letter]:
        letters, self._letters = self._letters, []
        return letters

    def plan_flush(self, stats: bool, behaviour: bool, sweep: bool, now: float | None = None) -> Flush:
        """Take everything since the last checkpoint into a `Flush` (synchronous: a consistent cut).

        `stats` / `behaviour`: publish what changed; with `now` (the engine's monotonic clock),
        each creative and user at most every `stats_interval_s` / `behaviour_interval_s`.
        """
        changes = self.ledger.take_changes()
        applied, self._applied = self._applied, []
        dropped = self._drop_users()
        body = streams_pb2.PartitionCheckpoint(
            impressions_offset=self.next_offsets[IMPRESSIONS],
            clicks_offset=self.next_offsets[CLICKS],
            outcomes_offset=self.next_offsets[OUTCOMES],
            clock_ns=self.ledger.clock(self.partition) or 0,
            eviction_clock_ns=self.ledger.eviction_clock(self.partition) or 0,
            applied=applied,
            applied_sequences=self.applied_sequences,
            dropped_users=dropped,
            sweep_live_from=self.sweep_live_from[0],
            sweep_live_from_fence=self.sweep_live_from[1],
        )
        entries = changes
        max_at = _fill_entries(body, entries, self.ledger)
        sweep_started, sweep_done = self._rewrite_slice(body) if sweep else (False, False)
        wrote = bool(
            entries
            or applied
            or dropped
            or sweep_started
            or len(body.creatives)
            or len(body.users)
            or self.next_offsets != self._checkpointed_offsets
        )
        sequence = self.sequence + 1 if wrote else self.sequence
        outbox = self.outcome_batches(entries, sequence) if wrote else []
        if wrote:
            self.sequence = sequence
            self._checkpointed_offsets = list(self.next_offsets)
        self._tombstones += dropped
        self._users_changed.difference_update(dropped)
        published_users: list[tuple[str, streams_pb2.UserBehaviour | None]] = []
        if behaviour:
            due = self._users_changed
            if now is not None:
                interval, taken = self.rules.behaviour_interval_s, self._user_taken_at
                due = {u for u in due if now - taken.get(u, -math.inf) >= interval}
                for user_id in due:
                    taken[user_id] = now
                for user_id in self._tombstones:
                    taken.pop(user_id, None)
            for user_id in sorted(due):
                published_users.append((user_id, behaviour_message(user_id, self.users[user_id])))
            published_users += [(user_id, None) for user_id in self._tombstones if user_id not in self.users]
            self._users_changed -= due
            self._tombstones = []
        return Flush(
            letters=self.take_letters(),
            body=body.SerializeToString() if wrote else None,
            sequence=sequence,
            outbox=outbox,
            stats=self.counter.take_snapshots(now, self.rules.stats_interval_s) if stats else [],
            behaviour=published_users,
            max_at_ns=max_at,
            sweep_started=sweep_started,
            sweep_done=sweep_done,
        )

    def written(self, flush: Flush, offset: int, fence: int) -> None:
        """The checkpoint of `flush` is at `offset`: remember what recovery needs from there."""
        self.live.append((offset, fence, flush.max_at_ns))
        if flush.sweep_started:
            self._sweep_start = (offset, fence)
        if flush.sweep_done and self._sweep_start is not None:
            self.sweep_live_from = self._sweep_start

    def live_from(self, fence: int) -> tuple[int, int]:
        """Where recovery must start reading, and the fence in force there."""
        clock = self.ledger.eviction_clock(self.partition)
        keep = self.ledger.window_ns + self.ledger.horizon_ns
        live = self.live
        while live and (live[0][2] is None or (clock is not None and live[0][2] + keep <= clock)):
            live.popleft()
        candidates = [self.sweep_live_from]
        if live:
            candidates.append((live[0][0], live[0][1]))
        found = min(candidates)
        return found if found[0] >= 0 else (fence, fence)

    def _drop_users(self) -> list[str]:
        dropped = []
        while len(self.users) > self.rules.max_users:
            user_id, _ = self.users.popitem(last=False)
            dropped.append(user_id)
        return dropped

    def _rewrite_slice(self, body: streams_pb2.PartitionCheckpoint) -> tuple[bool, bool]:
        """Write the next slice of the stage 2 rewrite (every creative and user once per `refresh_s`)."""
        started = False
        if not self._sweep_pending:
            self._sweep = [(False, c) for c in self.counter.creative_ids()] + [(True, u) for u in self.users]
            self._sweep_at, self._sweep_pending, started = 0, True, True
        size = max(1, math.ceil(len(self._sweep) / SWEEP_SLICES))
        chunk = self._sweep[self._sweep_at : self._sweep_at + size]
        self._sweep_at += size
        for is_user, key in chunk:
            if is_user:
                window = self.users.get(key)
                if window is None:
                    continue
                entries = window.entries()
                body.users.add(
                    user_id=key,
                    impression_ids=[e[0] for e in entries],
                    creative_ids=[e[1] for e in entries],
                    shown_at_ns=[e[2] for e in entries],
                    clicked=[e[3] for e in entries],
                )
                self._users_changed.add(key)
            else:
                for counts in self.counter.record(key).buckets.values():
                    body.creatives.add(
                        creative_id=key,
                        bucket=counts.bucket,
                        impressions=counts.impressions,
                        clicks=counts.clicks,
                        at_ns=counts.at_ns,
                    )
                self.counter.mark_changed(key)
        done = self._sweep_at >= len(self._sweep)
        if done:
            self._sweep_pending = False
        return started, done

    def outcome_batches(
        self, entries: Sequence[tuple[str, ImpressionState, int]], sequence: int
    ) -> list[tuple[int, bytes]]:
        """The outcome batches (partition, bytes) of a checkpoint's stage 1 changes.

        Counts are summed per (creative, bucket), decayed to the newest impression time among them
        (the same sum `kit.decay.decayed_add` gives one by one); user entries keep their order.
        """
        counted_entries = [entry for entry in entries if entry[2]]
        if not counted_entries:
            return []
        ids, states, counted = zip(*counted_entries, strict=True)
        creatives, buckets, shown_at, _, users = zip(*states, strict=True)
        route = self._route
        batches: dict[int, list[streams_pb2.OutcomeBatch]] = {}

        def batch(destination: int, part: int = 0) -> streams_pb2.OutcomeBatch:
            parts = batches.setdefault(destination, [])
            while len(parts) <= part:
                parts.append(
                    streams_pb2.OutcomeBatch(
                        source_partition=self.partition, sequence=sequence, part=len(parts)
                    )
                )
            return parts[part]

        groups: dict[tuple[str, str], int] = {}
        group = [groups.setdefault(key, len(groups)) for key in zip(creatives, buckets, strict=True)]
        gid = np.fromiter(group, dtype=np.int64, count=len(group))
        flags = np.fromiter(counted, dtype=np.int64, count=len(counted))
        times = np.fromiter(shown_at, dtype=np.int64, count=len(shown_at))
        newest = np.full(len(groups), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(newest, gid, times)
        half_life = self.rules.half_life_s
        if half_life:
            weights = np.exp2((times - newest[gid]).astype(np.float64) / (half_life * NS_PER_S))
        else:
            weights = np.ones(len(times))
        impressions = np.bincount(gid, weights * (flags & 1), minlength=len(groups))
        clicks = np.bincount(gid, weights * ((flags >> 1) & 1), minlength=len(groups))
        for (creative_id, bucket), g in groups.items():
            target = batch(route(creative_id))
            target.creative_ids.append(creative_id)
            target.buckets.append(bucket)
            target.impressions.append(float(impressions[g]))
            target.clicks.append(float(clicks[g]))
            target.at_ns.append(int(newest[g]))

        by_destination: dict[int, list[int]] = {}
        for i, user_id in enumerate(users):
            if user_id:
                by_destination.setdefault(route(user_id), []).append(i)
        for destination, rows in by_destination.items():
            for part, first in enumerate(range(0, len(rows), MAX_BATCH_ENTRIES)):
                chunk = rows[first : first + MAX_BATCH_ENTRIES]
                target = batch(destination, part)
                target.user_ids.extend([users[i] for i in chunk])
                target.impression_ids.extend([ids[i] for i in chunk])
                target.shown_creative_ids.extend([creatives[i] for i in chunk])
                target.shown_at_ns.extend([shown_at[i] for i in chunk])
                target.user_ops.extend([counted[i] for i in chunk])
        return [
            (destination, part.SerializeToString())
            for destination in sorted(batches)
            for part in batches[destination]
        ]

    # -- recovery --------------------------------------------------------------------------------

    def apply_checkpoint(
        self, offset: int, fence: int, sequence: int, body: streams_pb2.PartitionCheckpoint
    ) -> None:
        """Replay one recovered checkpoint on top of the ones before it."""
        ledger, partition, names = self.ledger, self.partition, self._names
        at_max: int | None = None
        for impression_id, creative_id, bucket, user_id, at_ns, status in zip(
            body.impression_ids,
            body.creative_ids,
            body.buckets,
            body.user_ids,
            body.at_ns,
            body.click_status,
            strict=True,
        ):
            shown_at = at_ns if creative_id else 0
            state = ImpressionState(names(creative_id), names(bucket), shown_at, STATUSES[status], user_id)
            ledger.restore(impression_id, state, partition, at_ns)
            at_max = at_ns if at_max is None else max(at_max, at_ns)
        for held in body.held:
            record = SourceRecord(
                held.topic,
                held.partition,
                held.offset,
                held.key if held.has_key else None,
                held.value if held.has_value else None,
                held.timestamp_ns,
            )
            ledger.restore_held(held.impression_id, HeldClick(held.clicked_at_ns, record))
        for raw in body.applied:
            self._apply_batch(streams_pb2.OutcomeBatch.FromString(raw))
        self.applied_sequences = dict(body.applied_sequences)
        for counts in body.creatives:
            self.counter.load(
                CreativeCounts(
                    names(counts.creative_id),
                    names(counts.bucket),
                    counts.impressions,
                    counts.clicks,
                    counts.at_ns,
                )
            )
        for user in body.users:
            self.users[user.user_id] = UserWindow.from_entries(
                self.rules.user_history,
                zip(
                    user.impression_ids,
                    map(names, user.creative_ids),
                    user.shown_at_ns,
                    user.clicked,
                    strict=True,
                ),
            )
        for user_id in body.dropped_users:
            self.users.pop(user_id, None)
        self.next_offsets = [body.impressions_offset, body.clicks_offset, body.outcomes_offset]
        self._checkpointed_offsets = list(self.next_offsets)
        self.sequence = sequence
        self.sweep_live_from = (body.sweep_live_from, body.sweep_live_from_fence)
        self.live.append((offset, fence, at_max))
        self.recovered = body

    def finish_recovery(self) -> list[tuple[int, bytes]]:
        """After the last `apply_checkpoint`: settle the state; the outcome batches to send again."""
        body = self.recovered
        if body is not None:
            self.ledger.restore_clocks(self.partition, body.clock_ns or None, body.eviction_clock_ns or None)
        self.ledger.take_changes()
        self._applied = []
        self.counter.mark_all_changed()
        self._users_changed = set(self.users)
        if body is None:
            return []
        entries = [
            (iid, ImpressionState(cid, bucket, at if cid else 0, STATUSES[status], uid), counted)
            for iid, cid, bucket, uid, at, status, counted in zip(
                body.impression_ids,
                body.creative_ids,
                body.buckets,
                body.user_ids,
                body.at_ns,
                body.click_status,
                body.counted,
                strict=True,
            )
        ]
        return self.outcome_batches(entries, self.sequence)

    # -- sizes -----------------------------------------------------------------------------------

    def sizes(self) -> dict[str, int]:
        """How much state this partition holds (what must stay flat over a long stream)."""
        return {
            "impressions": len(self.ledger),
            "held_clicks": self.ledger.held_count(),
            "creatives": len(self.counter),
            "users": len(self.users),
            "user_impressions": sum(w.impressions for w in self.users.values()),
            "live_checkpoints": len(self.live),
        }


def _fill_entries(
    body: streams_pb2.PartitionCheckpoint,
    entries: list[tuple[str, ImpressionState, int]],
    ledger: ImpressionLedger,
) -> int | None:
    """Write stage 1 changes as columns (and the held clicks among them); the newest time written."""
    if not entries:
        return None
    ids, states, counted = zip(*entries, strict=True)
    creatives, buckets, shown_at, clicks, users = zip(*states, strict=True)
    times = [
        at if cid else ledger.entry_time(iid, ImpressionState())
        for iid, cid, at in zip(ids, creatives, shown_at, strict=True)
    ]
    for impression_id, click in zip(ids, clicks, strict=True):
        if click is not ClickStatus.HELD:
            continue
        held = ledger.held_click(impression_id)
        if held is None:
            continue  # held then, settled by a later change in this same checkpoint
        record = held.record
        body.held.add(
            impression_id=impression_id,
            clicked_at_ns=held.clicked_at_ns,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            has_key=record.key is not None,
            key=record.key or b"",
            has_value=record.value is not None,
            value=record.value or b"",
            timestamp_ns=record.timestamp_ns,
        )
    body.impression_ids.extend(ids)
    body.creative_ids.extend(creatives)
    body.buckets.extend(buckets)
    body.user_ids.extend(users)
    body.at_ns.extend(times)
    body.click_status.extend([STATUS_CODES[c] for c in clicks])
    body.counted.extend(counted)
    return max(times)
