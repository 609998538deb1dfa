"""The bandit's partition state and its checkpoints, without a broker.

A small in-memory "broker" (lists per topic partition) drives `PartitionState` the way the engine
does: bulk reads, flushes that append a checkpoint and then send its outcome batches, recovery
from the checkpoints after a crash. Checked: the state stays flat over a long stream, and crashes
at any point (also between a checkpoint and its outcome batches) end in exactly the counts and
user windows of a run without crashes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiokafka.structs import ConsumerRecord
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.bandit.partition import PartitionState, Rules, key_partition
from creativeloop.kit.codec import encode
from creativeloop.v1 import events_pb2, streams_pb2

NS = 1_000_000_000
T0_NS = 1_800_000_000 * NS
CONTEXTS = [{"placement": "feed", "device": "mobile"}, {"placement": "search", "device": "desktop"}, {}]


def stamp(ns: int) -> Timestamp:
    value = Timestamp()
    value.FromNanoseconds(ns)
    return value


def rules(partitions: int, **changes: float | int | None) -> Rules:
    base: dict[str, float | int | None] = {
        "partitions": partitions,
        "window_s": 60.0,
        "horizon_s": 120.0,
        "max_clock_lead_s": 5.0,
        "half_life_s": 3600.0,
        "user_history": 20,
        "max_users": 10_000,
        "flush_interval_s": 0.1,
        "refresh_s": 1.0,
    }
    base.update(changes)
    return Rules(**base)  # type: ignore[arg-type]


def record(
    topic: str, partition: int, offset: int, key: str, value: bytes, at_ns: int
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic, partition, offset, at_ns // 1_000_000, 0, key.encode(), value, None, 0, 0, ()
    )


@dataclass(frozen=True)
class Entry:
    fence_offset: int
    sequence: int = 0
    body: streams_pb2.PartitionCheckpoint | None = None
    live_from: int = 0
    live_from_fence: int = 0


def recover(log: list[Entry]) -> Iterator[tuple[int, int, int, streams_pb2.PartitionCheckpoint]]:
    """What `CheckpointLog.recover` yields: from the last checkpoint's live_from, fenced records out."""
    data = [entry for entry in log if entry.body is not None]
    if not data:
        return
    current = data[-1].live_from_fence
    for offset in range(data[-1].live_from, len(log)):
        entry = log[offset]
        if entry.body is None:
            current = offset
        elif entry.fence_offset == current:
            yield offset, current, entry.sequence, entry.body


@dataclass
class Bus:
    """Topics as lists: impressions and clicks per partition, outcomes per partition, checkpoints."""

    partitions: int
    impressions: list[list[ConsumerRecord[bytes, bytes]]] = field(default_factory=list)
    clicks: list[list[ConsumerRecord[bytes, bytes]]] = field(default_factory=list)
    outcomes: list[list[ConsumerRecord[bytes, bytes]]] = field(default_factory=list)
    #: Per partition, the checkpoint log as `CheckpointLog` writes it: fences (body None) and
    #: checkpoints (fence_offset, sequence, body, live_from, live_from_fence); the offset is the index.
    checkpoints: list[list[Entry]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for lists in (self.impressions, self.clicks, self.outcomes, self.checkpoints):
            lists.extend([] for _ in range(self.partitions))

    def send_outcomes(self, batches: list[tuple[int, bytes]]) -> None:
        for partition, value in batches:
            queue = self.outcomes[partition]
            queue.append(ConsumerRecord("outcomes", partition, len(queue), 0, 0, None, value, None, 0, 0, ()))


def stream(
    n: int, partitions: int, seed: int, users: int = 50
) -> Iterator[tuple[bool, int, ConsumerRecord[bytes, bytes]]]:
    """(is_impression, partition, record): impressions 0.1 s apart, clicks, duplicates, disorder."""
    rng = random.Random(seed)
    offsets = {(kind, p): 0 for kind in (True, False) for p in range(partitions)}
    pending: list[tuple[bool, int, str, bytes, int]] = []
    for i in range(n):
        iid = f"i{i}"
        partition = key_partition(iid, partitions)
        at = T0_NS + i * NS // 10
        impression = events_pb2.Impression(
            impression_id=iid,
            user_id=f"u{rng.randrange(users)}",
            creative_id=f"c{rng.randrange(8)}",
            propensity=0.5,
            shown_at=stamp(at),
            context=rng.choice(CONTEXTS),
        )
        items = [(True, partition, iid, encode(impression), at)]
        if rng.random() < 0.3:
            click = events_pb2.Click(impression_id=iid, clicked_at=stamp(at + 2 * NS))
            items.append((False, partition, iid, encode(click), at + 2 * NS))
        if rng.random() < 0.1:
            items.append(items[0])  # delivered twice
        rng.shuffle(items)  # a click may come first
        pending += items
        if len(pending) > 20 or i == n - 1:
            for kind, p, key, value, when in pending:
                yield (
                    kind,
                    p,
                    record("ad.impressions" if kind else "ad.clicks", p, offsets[kind, p], key, value, when),
                )
                offsets[kind, p] += 1
            pending = []


class Worker:
    """Owns every partition: reads from the bus in chunks, flushes, checkpoints, recovers."""

    def __init__(self, bus: Bus, rules: Rules) -> None:
        self.bus, self.rules = bus, rules
        self.fences = [0] * bus.partitions
        self.states = [self._recover(p) for p in range(bus.partitions)]

    def _recover(self, partition: int) -> PartitionState:
        log = self.bus.checkpoints[partition]
        fence = len(log)
        log.append(Entry(fence_offset=-1))  # the new owner's fence
        self.fences[partition] = fence
        state = PartitionState(partition, self.rules, fence)
        for offset, fence_at, sequence, body in recover(log[:fence]):
            state.apply_checkpoint(offset, fence_at, sequence, body)
        self.bus.send_outcomes(state.finish_recovery())
        return state

    def crash(self) -> None:
        self.states = [self._recover(p) for p in range(self.bus.partitions)]

    def read(self, chunk: int = 40) -> bool:
        """One round of bulk reads on every partition; False when everything was read."""
        busy = False
        for state in self.states:
            p = state.partition
            for rows, which in (
                (self.bus.impressions[p], 0),
                (self.bus.clicks[p], 1),
                (self.bus.outcomes[p], 2),
            ):
                start = state.next_offsets[which]
                batch = rows[start : start + chunk]
                if batch:
                    busy = True
                    [state.read_impressions, state.read_clicks, state.read_outcomes][which](batch)
        return busy

    def flush(self, send: bool = True, sweep: bool = True) -> None:
        for state in self.states:
            plan = state.plan_flush(stats=True, behaviour=True, sweep=sweep)
            if plan.body is None:
                continue
            log = self.bus.checkpoints[state.partition]
            fence = self.fences[state.partition]
            live_from, live_fence = state.live_from(fence)
            body = streams_pb2.PartitionCheckpoint.FromString(plan.body)
            log.append(Entry(fence, plan.sequence, body, live_from, live_fence))
            state.written(plan, len(log) - 1, fence)
            if send:
                self.bus.send_outcomes(plan.outbox)

    def results(self) -> tuple[dict[tuple[str, str], tuple[float, float]], dict[str, dict[str, list[int]]]]:
        counts = {}
        for state in self.states:
            for creative_id in state.counter.creative_ids():
                for bucket, c in state.counter.record(creative_id).buckets.items():
                    counts[creative_id, bucket] = (round(c.impressions, 9), round(c.clicks, 9))
        users = {uid: dict(w.tallies) for state in self.states for uid, w in state.users.items()}
        return counts, users


def run(seed: int, crashes: int, n: int = 3000, partitions: int = 3) -> Worker:
    rng = random.Random(seed)
    bus = Bus(partitions)
    worker = Worker(bus, rules(partitions))
    crash_points = set(rng.sample(range(1, n // 20), crashes)) if crashes else set()
    step = 0
    for is_impression, partition, rec in stream(n, partitions, seed):
        (bus.impressions if is_impression else bus.clicks)[partition].append(rec)
        if rng.random() < 0.05:
            worker.read()
            step += 1
            if step in crash_points:
                worker.flush(send=rng.random() < 0.5)  # sometimes dies between checkpoint and outbox
                worker.crash()
            elif rng.random() < 0.5:
                worker.flush()
    while worker.read():
        worker.flush()
    for _ in range(3):  # last outcome batches, then their application
        worker.flush()
        worker.read()
    worker.flush()
    return worker


def test_crashes_at_any_point_end_in_exactly_the_counts_of_a_run_without_crashes() -> None:
    for seed in range(4):
        expected = run(seed, crashes=0).results()
        got = run(seed, crashes=6).results()
        assert got[0] == expected[0], seed
        assert got[1] == expected[1], seed
        assert expected[0] and expected[1]


def test_recovered_outcome_batches_are_applied_once() -> None:
    worker = run(7, crashes=5)
    replays = sum(state.replayed_batches for state in worker.states)
    # Every recovery sends its last checkpoint's batches again: those already applied are skipped.
    assert replays > 0


def test_state_and_recovery_span_stay_flat_over_a_long_stream() -> None:
    """Event time runs 10 impressions a second for 3 hours: state is bounded by window + horizon."""
    partitions = 2
    bus = Bus(partitions)
    worker = Worker(bus, rules(partitions, window_s=60.0, horizon_s=60.0, user_history=10))
    sizes: list[dict[str, int]] = []
    spans: list[int] = []
    n = 108_000
    for i, (is_impression, partition, rec) in enumerate(stream(n, partitions, seed=3, users=200)):
        (bus.impressions if is_impression else bus.clicks)[partition].append(rec)
        if i % 500 == 0:
            worker.read(chunk=1000)
            worker.flush()
        if i % 10_000 == 0 and i:
            total: dict[str, int] = {}
            for state in worker.states:
                for kind, size in state.sizes().items():
                    total[kind] = total.get(kind, 0) + size
            sizes.append(total)
            spans.append(
                max(len(log) - next(e for e in reversed(log) if e.body).live_from for log in bus.checkpoints)
            )
    # 10 impressions/s kept for window + horizon = 120 s (plus one eviction bucket): ~1,200, never
    # the 108,000 read. Users: 200 at most 10 impressions each.
    middle, end = sizes[len(sizes) // 2], sizes[-1]
    assert end["impressions"] < 2_000 and abs(end["impressions"] - middle["impressions"]) < 400
    assert end["users"] <= 200 and end["user_impressions"] <= 2_000
    assert (
        end["live_checkpoints"] == middle["live_checkpoints"]
        or abs(end["live_checkpoints"] - middle["live_checkpoints"]) < 20
    )
    # What a recovery would read does not grow with the stream either.
    assert max(spans[len(spans) // 2 :]) <= 2 * max(spans[: len(spans) // 2]) + 10
