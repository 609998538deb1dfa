"""The bandit's attribution and counting rules, free of faust so they can be tested with plain dicts.

Two stages, because the inputs are keyed by impression_id and the counts by creative_id:

1. `ImpressionLedger` (state keyed by impression_id, co-partitioned with `ad.impressions` and
   `ad.clicks`) turns records into `Outcome`s and dead letters:

   - an impression counts once (duplicates change nothing), in its context bucket
     (`kit.context.context_bucket(impression.context)`) and in all contexts;
   - a click counts once, for its impression's creative and bucket, and only inside the
     **attribution window**: `clicked_at` at most `window` after the impression's `shown_at`
     (a click stamped before its impression, by clock skew between the ad servers that log them,
     counts if it is no more than one window early). A click outside the window is **late**:
     it goes to `ad.clicks.dlq` once ("click outside attribution window ..."), and its duplicates
     change nothing; a later click of the same impression inside the window still counts;
   - a click whose impression has not arrived is **held**. It is matched when the impression
     arrives (then the window decides), or dead-lettered as an **orphan** ("no impression within
     attribution window ...") once the partition's *impression clock* passes
     `clicked_at + window`. The impression clock of a partition is the newest `shown_at` read from
     that partition of `ad.impressions`: it moves with event time, not the wall clock, so a replay
     of the same records dead-letters the same clicks. Only impressions move it, so a click stream
     read ahead of its impression stream (a backlog) does not expire clicks whose impressions are
     still unread. A partition that receives no impressions keeps its held clicks until it does.

   Event time is `Impression.shown_at` / `Click.clicked_at`, or the record's Kafka timestamp when
   the field is unset.

   State is bounded in event time: an impression_id's state (and a dead-lettered click's marker)
   leaves once the partition's *eviction clock* passes its time + window + **dedupe horizon**. A
   record older than that can no longer be told from a duplicate, so it is dead-lettered
   ("older than the dedupe horizon") instead of counted: counts stay exact and the state stays
   flat however long the stream. The eviction clock is the impression clock, but never more than
   `max_clock_lead` ahead of the newest Kafka record timestamp read, so one impression stamped far
   in the future cannot evict the partition's state.
2. `CreativeCounter` (state keyed by creative_id: one value with all its buckets, so an outcome
   updates a creative atomically) adds outcomes up per (creative, bucket) and per creative over
   all contexts, with exponential **time decay** in event time: an outcome weighs
   `2 ** (-age / half_life)`, where age is measured from its impression's `shown_at` (a click takes
   its impression's time, so clicks never outweigh impressions). Stored counts are decayed to the
   newest outcome time applied (`at_ns`), which is the snapshot's `updated_at`:
   counts(T) = sum over outcomes of 2 ** (-(T - t_i) / half_life), whatever order the outcomes
   arrive in. Each outcome carries the offset it was read at; replays after a crash (offsets at or
   below the last one applied) are ignored, so counts stay exact under at-least-once delivery.

State lives in `MutableMapping`s of the state objects (`ImpressionState`, `HeldClick`,
`CreativeRecord`; their byte encodings are read too). With `track_changes()`, the ledger also
records what changed and what it counted since `take_changes()`: the stream engine checkpoints
exactly that.
"""

from __future__ import annotations

import base64
import heapq
import json
import math
from collections.abc import Iterator, MutableMapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.kit.behaviour import within_window
from creativeloop.kit.context import ALL_CONTEXTS, BUCKET_KEYS, context_bucket
from creativeloop.kit.decay import NS_PER_S, decay_factor, decayed_add
from creativeloop.v1 import events_pb2

__all__ = ["NS_PER_S", "decay_factor"]

#: How long a dead-lettered or counted impression_id is remembered after its attribution window,
#: in event time, unless the ledger is given another horizon.
DEFAULT_HORIZON_S = 3600.0


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def _seconds(ns: int) -> str:
    return f"{ns / NS_PER_S:g}s"


def _iso(ns: int) -> str:
    stamp = Timestamp()
    try:
        stamp.FromNanoseconds(ns)
        return stamp.ToJsonString()
    except (ValueError, OverflowError):  # outside Timestamp's range (years 1-9999)
        return f"{ns}ns"


def event_time_ns(stamp: Timestamp, record_timestamp_ns: int) -> int:
    """When a record's event happened: its own timestamp, or the Kafka record timestamp if unset."""
    if stamp.seconds or stamp.nanos:
        return int(stamp.ToNanoseconds())
    return record_timestamp_ns


# --- stage 1: attribution, keyed by impression_id ---------------------------------------------


class ClickStatus(StrEnum):
    """What became of an impression's click."""

    NONE = ""
    HELD = "held"  # the click came first; waiting for the impression
    COUNTED = "counted"
    LATE = "late"  # outside the window: dead-lettered
    ORPHANED = "orphaned"  # no impression within the window: dead-lettered


class ImpressionState(NamedTuple):
    """What is known about one impression_id (a named tuple: one is made per impression)."""

    #: Empty until the impression itself has arrived (a click can come first).
    creative_id: str = ""
    bucket: str = ALL_CONTEXTS
    shown_at_ns: int = 0
    click: ClickStatus = ClickStatus.NONE
    #: Who saw it (the impression's user_id): their behaviour summary gets the outcomes.
    user_id: str = ""

    @property
    def shown(self) -> bool:
        return bool(self.creative_id)

    def encode(self) -> bytes:
        return _dumps(self._asdict())

    @classmethod
    def decode(cls, raw: ImpressionState | bytes | None) -> ImpressionState | None:
        if raw is None or isinstance(raw, ImpressionState):
            return raw
        data = json.loads(raw)
        creative_id = str(data["creative_id"])
        if "click" in data:
            click = ClickStatus(data["click"])
        else:  # written before attribution windows: {"creative_id", "clicked"}
            click = ClickStatus.NONE
            if data.get("clicked"):
                click = ClickStatus.COUNTED if creative_id else ClickStatus.HELD
        return cls(
            creative_id,
            str(data.get("bucket", "")),
            int(data.get("shown_at_ns", 0)),
            click,
            str(data.get("user_id", "")),
        )


class KafkaRecord(Protocol):
    """What the ledger reads of an aiokafka `ConsumerRecord` (timestamp in milliseconds)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...


@dataclass(frozen=True)
class SourceRecord:
    """Where an input record was read, and its bytes: what its dead letter carries."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: The Kafka record timestamp (event-time fallback).
    timestamp_ns: int = 0

    def to_json(self) -> dict[str, Any]:
        def b64(data: bytes | None) -> str | None:
            return None if data is None else base64.b64encode(data).decode()

        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": b64(self.key),
            "value": b64(self.value),
            "timestamp_ns": self.timestamp_ns,
        }

    @classmethod
    def of(cls, record: SourceRecord | KafkaRecord) -> SourceRecord:
        """The `SourceRecord` of a record read with aiokafka (timestamp in ms), or itself."""
        if isinstance(record, SourceRecord):
            return record
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            record.timestamp * 1_000_000,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceRecord:
        def unb64(text: str | None) -> bytes | None:
            return None if text is None else base64.b64decode(text)

        return cls(
            str(data["topic"]),
            int(data["partition"]),
            int(data["offset"]),
            unb64(data["key"]),
            unb64(data["value"]),
            int(data["timestamp_ns"]),
        )


@dataclass(frozen=True)
class HeldClick:
    """A click waiting for its impression, with the record to dead-letter if it never comes."""

    clicked_at_ns: int
    record: SourceRecord

    def encode(self) -> bytes:
        return _dumps({"clicked_at_ns": self.clicked_at_ns, "record": self.record.to_json()})

    @classmethod
    def decode(cls, raw: HeldClick | bytes) -> HeldClick:
        if isinstance(raw, HeldClick):
            return raw
        data = json.loads(raw)
        return cls(int(data["clicked_at_ns"]), SourceRecord.from_json(data["record"]))


class LetterKind(StrEnum):
    """Why a record was dead-lettered; for valid clicks, the label of the unattributed-clicks counter."""

    INVALID = "invalid"  # cannot be decoded or validated (any source topic)
    NO_IMPRESSION = "no_impression"
    OUTSIDE_WINDOW = "outside_window"
    #: Older than window + dedupe horizon: it could be a duplicate of a record already forgotten.
    EXPIRED = "expired"
    #: Event time too far from the record's Kafka timestamp (`max_event_lead_s`, `max_event_age_s`).
    IMPLAUSIBLE_TIME = "implausible_time"


#: The kinds of letters that are valid clicks not counted.
UNATTRIBUTED: tuple[LetterKind, ...] = (LetterKind.NO_IMPRESSION, LetterKind.OUTSIDE_WINDOW)


@dataclass(frozen=True)
class Letter:
    """A record to dead-letter, and why."""

    record: SourceRecord
    kind: LetterKind
    reason: str


class Verdict(StrEnum):
    """What a record did when it was read; also the `outcome` label of the events counter."""

    COUNTED = "ok"
    HELD = "held"  # a click whose impression has not arrived yet
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class Outcome:
    """A change to one creative's counts in one bucket, forwarded keyed by creative_id."""

    creative_id: str
    bucket: str
    #: Event time of the impression it is about (its `shown_at`), for decay.
    at_ns: int
    #: Whole numbers for one record; decayed sums (to `at_ns`) when outcomes are aggregated.
    impressions: float = 0
    clicks: float = 0

    def encode(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> Outcome:
        data = json.loads(raw)
        return cls(
            str(data["creative_id"]),
            str(data.get("bucket", "")),
            int(data.get("at_ns", 0)),
            data["impressions"],
            data["clicks"],
        )


@dataclass(frozen=True)
class Step:
    """The effect of one input record: its verdict, the outcome to count, the letters to send."""

    verdict: Verdict
    outcome: Outcome | None = None
    #: Dead letters: this record (a late click), or held clicks that this impression expired.
    letters: tuple[Letter, ...] = ()


#: One change of the ledger's state: (impression_id, state written, what it counted).
Change = tuple[str, ImpressionState, int]


class ImpressionLedger:
    """Stage 1: per-impression state keyed by impression_id, and the clicks held for an impression.

    `impressions` and `held` must be partitioned like the input topics. The impression clocks, the
    index of held clicks by deadline and the eviction index live in memory: call `rebuild()` after
    the tables are recovered from bytes, or `restore()` entry by entry (which also indexes them
    for eviction). A clock that restarts from nothing is harmless: every held click older than
    the lost clock allows was already expired.
    """

    def __init__(
        self,
        impressions: MutableMapping[str, Any],
        held: MutableMapping[str, Any],
        window_s: float,
        horizon_s: float = DEFAULT_HORIZON_S,
        max_clock_lead_s: float | None = None,
        max_event_lead_s: float | None = None,
        max_event_age_s: float | None = None,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"attribution window must be positive, not {window_s}")
        if horizon_s < 0:
            raise ValueError(f"dedupe horizon must not be negative, not {horizon_s}")
        self._table = impressions
        self._held = held
        self.window_ns = round(window_s * NS_PER_S)
        #: How long after its time (+ window) an impression_id's state is kept.
        self.horizon_ns = round(horizon_s * NS_PER_S)
        self._lead_ns = None if max_clock_lead_s is None else round(max_clock_lead_s * NS_PER_S)
        #: Event-time sanity bounds around the record's Kafka timestamp (None or 0: unbounded).
        self._event_lead_ns = round(max_event_lead_s * NS_PER_S) if max_event_lead_s else None
        self._event_age_ns = round(max_event_age_s * NS_PER_S) if max_event_age_s else None
        #: Per partition: the newest `shown_at` read from it.
        self._clock: dict[int, int] = {}
        #: Per partition: the eviction clock (the impression clock, bounded by record timestamps).
        self._eviction_clock: dict[int, int] = {}
        #: Per partition: a heap of (deadline, impression_id) of held clicks.
        self._due: dict[int, list[tuple[int, str]]] = {}
        #: Per partition: time bucket -> [(impression_id, time)], and a heap of the buckets.
        self._buckets: dict[int, dict[int, list[tuple[str, int]]]] = {}
        self._bucket_heap: dict[int, list[int]] = {}
        self._bucket_ns = max(NS_PER_S, (self.window_ns + self.horizon_ns) // 32)
        #: (impression_id, state, what it counted: 1 the impression, 2 its click), in order, since
        #: `take_changes()`; None while not tracked.
        self._changes: list[Change] | None = None
        #: clicked_at of the impression_ids known only by a click (held or dead-lettered).
        self._click_at: dict[str, int] = {}
        self._buckets_seen: dict[tuple[str | None, ...], str] = {}
        #: Per partition: the newest clicked_at read, and whether unread clicks are waiting.
        self._click_clock: dict[int, int] = {}
        self._clicks_behind: dict[int, bool] = {}

    # -- reading ---------------------------------------------------------------------------------

    def state(self, impression_id: str) -> ImpressionState | None:
        raw = self._table.get(impression_id)
        if raw is None or type(raw) is ImpressionState:
            return raw
        return ImpressionState.decode(raw)

    def held_click(self, impression_id: str) -> HeldClick | None:
        raw = self._held.get(impression_id)
        return None if raw is None else HeldClick.decode(raw)

    def held_count(self) -> int:
        return len(self._held)

    def __len__(self) -> int:
        """impression_ids remembered (shown, held, counted or dead-lettered)."""
        return len(self._table)

    def clock(self, partition: int) -> int | None:
        return self._clock.get(partition)

    def eviction_clock(self, partition: int) -> int | None:
        return self._eviction_clock.get(partition)

    def clicks_behind(self, partition: int, behind: bool) -> None:
        """Whether the partition's click stream has unread records (its consumer lag).

        While it has, eviction waits for it: the eviction clock stays within half a horizon of
        the newest click read, so a click stream read behind the impression stream (a backlog of
        clicks) still finds its impressions. A click stream that is caught up holds nothing back.
        """
        self._clicks_behind[partition] = behind

    def entry_time(self, impression_id: str, state: ImpressionState) -> int:
        """The event time an impression_id's state is kept from: shown_at, or its click's clicked_at."""
        return state.shown_at_ns if state.shown else self._click_at.get(impression_id, 0)

    # -- change tracking (the stream engine checkpoints what changed) ----------------------------

    def track_changes(self) -> None:
        """From now on, record every state written and what it counted, until `take_changes()`."""
        self._changes = []

    def take_changes(self) -> list[Change]:
        """(impression_id, state written, counted: 1 its impression, 2 its click) since the last call,
        in order (an impression_id written twice appears twice; the last is its state now)."""
        changes, self._changes = self._changes or [], []
        return changes

    def _put(self, impression_id: str, state: ImpressionState, counted: int = 0) -> None:
        self._table[impression_id] = state
        if self._changes is not None:
            self._changes.append((impression_id, state, counted))

    # -- recovery --------------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Re-index the held clicks in the table (after recovery or a rebalance)."""
        self._due = {}
        for impression_id, raw in list(self._held.items()):
            held = HeldClick.decode(raw)
            self._index(held.record.partition, held.clicked_at_ns + self.window_ns, impression_id)

    def restore(self, impression_id: str, state: ImpressionState, partition: int, at_ns: int) -> None:
        """Put back a checkpointed state (time `at_ns`: its shown_at, or its click's clicked_at)."""
        self._table[impression_id] = state
        if state.shown:
            self._click_at.pop(impression_id, None)
        else:
            self._click_at[impression_id] = at_ns
        self._remember(partition, impression_id, at_ns)

    def restore_held(self, impression_id: str, held: HeldClick) -> None:
        self._held[impression_id] = held

    def restore_clocks(self, partition: int, clock_ns: int | None, eviction_clock_ns: int | None) -> None:
        """After `restore()`: set the clocks, drop held clicks no longer held, evict what expired."""
        if clock_ns is not None:
            self._clock[partition] = clock_ns
        if eviction_clock_ns is not None:
            self._eviction_clock[partition] = eviction_clock_ns
        for impression_id in list(self._held):
            state = self.state(impression_id)
            if state is None or state.click is not ClickStatus.HELD:
                del self._held[impression_id]
        self.rebuild()
        self._evict(partition)

    # -- rules -----------------------------------------------------------------------------------

    def _index(self, partition: int, deadline_ns: int, impression_id: str) -> None:
        heapq.heappush(self._due.setdefault(partition, []), (deadline_ns, impression_id))

    def _remember(self, partition: int, impression_id: str, at_ns: int) -> None:
        """Index an impression_id for eviction at `at_ns` + window + horizon."""
        bucket = at_ns // self._bucket_ns
        buckets = self._buckets.setdefault(partition, {})
        entries = buckets.get(bucket)
        if entries is None:
            entries = buckets[bucket] = []
            heapq.heappush(self._bucket_heap.setdefault(partition, []), bucket)
        entries.append((impression_id, at_ns))

    def _expired(self, at_ns: int, partition: int) -> bool:
        clock = self._eviction_clock.get(partition)
        return clock is not None and at_ns + self.window_ns + self.horizon_ns <= clock

    def _implausible(self, what: str, at_ns: int, timestamp_ns: int) -> str | None:
        """Why an event time is too far from its record's Kafka timestamp to be true, or None.

        Checked against the record timestamp, not the wall clock, so a record gets the same verdict
        when it is read again after a crash. A record without a timestamp (0 or less) is not checked.
        """
        if timestamp_ns <= 0:
            return None
        if self._event_lead_ns is not None and at_ns - timestamp_ns > self._event_lead_ns:
            return (
                f"{what} time {_iso(at_ns)} is more than {_seconds(self._event_lead_ns)} after "
                f"its record's timestamp {_iso(timestamp_ns)} (max_event_lead_s)"
            )
        if self._event_age_ns is not None and timestamp_ns - at_ns > self._event_age_ns:
            return (
                f"{what} time {_iso(at_ns)} is more than {_seconds(self._event_age_ns)} before "
                f"its record's timestamp {_iso(timestamp_ns)} (max_event_age_s)"
            )
        return None

    def _too_old(
        self, what: str, at_ns: int, partition: int, record: SourceRecord | KafkaRecord
    ) -> tuple[Verdict, tuple[Letter, ...]]:
        clock = self._eviction_clock[partition]
        reason = (
            f"{what} older than the dedupe horizon ({_seconds(self.window_ns + self.horizon_ns)}): "
            f"at {_iso(at_ns)}, impressions of partition {partition} reached {_iso(clock)}"
        )
        return Verdict.DEAD_LETTERED, (Letter(SourceRecord.of(record), LetterKind.EXPIRED, reason),)

    def _outside_window(self, shown_at_ns: int, clicked_at_ns: int) -> str | None:
        """None if the click is inside the attribution window of its impression, else why not."""
        if within_window(shown_at_ns, clicked_at_ns, self.window_ns):
            return None
        delay = clicked_at_ns - shown_at_ns
        when = f"{_seconds(delay)} after" if delay > 0 else f"{_seconds(-delay)} before"
        return f"click outside attribution window ({_seconds(self.window_ns)}): {when} its impression"

    def _orphan(self, held: HeldClick, clock_ns: int, partition: int) -> Letter:
        reason = (
            f"no impression within attribution window ({_seconds(self.window_ns)}): clicked at "
            f"{_iso(held.clicked_at_ns)}, impressions of partition {partition} reached {_iso(clock_ns)}"
        )
        return Letter(held.record, LetterKind.NO_IMPRESSION, reason)

    def impression(self, event: events_pb2.Impression, record: SourceRecord) -> Step:
        """Count an impression once; settle a click that was waiting for it; expire old held clicks."""
        verdict, letters = self.admit_impression(event, record.partition, record.timestamp_ns, record)
        outcome = None
        if verdict is Verdict.COUNTED:
            state = self.state(event.impression_id)
            assert state is not None
            clicks = 1 if state.click is ClickStatus.COUNTED else 0
            outcome = Outcome(
                state.creative_id, state.bucket, state.shown_at_ns, impressions=1, clicks=clicks
            )
        return Step(verdict, outcome, letters)

    def click(self, event: events_pb2.Click, record: SourceRecord) -> Step:
        """Count a click once, for its impression's creative (not the click's own creative_id)."""
        verdict, letters = self.admit_click(event, record.partition, record.timestamp_ns, record)
        outcome = None
        if verdict is Verdict.COUNTED:
            state = self.state(event.impression_id)
            assert state is not None
            outcome = Outcome(state.creative_id, state.bucket, state.shown_at_ns, clicks=1)
        return Step(verdict, outcome, letters)

    def admit_impression(
        self,
        event: events_pb2.Impression,
        partition: int,
        timestamp_ns: int,
        record: SourceRecord | KafkaRecord,
    ) -> tuple[Verdict, tuple[Letter, ...]]:
        """`impression()` without building its outcome: the verdict and the letters (the stream path).

        `record` (the one read, with its Kafka `timestamp_ns` and `partition`) becomes a
        `SourceRecord` only when a letter or a held click needs it.
        """
        stamp = event.shown_at
        shown_at = stamp.seconds * NS_PER_S + stamp.nanos if (stamp.seconds or stamp.nanos) else timestamp_ns
        if self._event_lead_ns is not None or self._event_age_ns is not None:
            why = self._implausible("impression", shown_at, timestamp_ns)
            if why is not None:
                return Verdict.DEAD_LETTERED, (
                    Letter(SourceRecord.of(record), LetterKind.IMPLAUSIBLE_TIME, why),
                )
        impression_id = event.impression_id
        raw = self._table.get(impression_id)
        state = raw if raw is None or type(raw) is ImpressionState else ImpressionState.decode(raw)
        letters: tuple[Letter, ...] = ()
        if state is not None and state.creative_id:
            verdict = Verdict.DUPLICATE
        else:
            if state is None:
                eviction = self._eviction_clock.get(partition)
                if eviction is not None and shown_at + self.window_ns + self.horizon_ns <= eviction:
                    return self._too_old("impression", shown_at, partition, record)
            context = event.context
            bucket = self._bucket(context) if context else ALL_CONTEXTS
            counted = 1
            click = ClickStatus.NONE
            if state is not None:
                click = state.click
                self._click_at.pop(impression_id, None)
            if click is ClickStatus.HELD:
                held_raw = self._held.get(impression_id)
                if held_raw is None:  # held by a version without attribution windows: no time to check
                    click, counted = ClickStatus.COUNTED, 3
                else:
                    del self._held[impression_id]
                    held = HeldClick.decode(held_raw)
                    why = self._outside_window(shown_at, held.clicked_at_ns)
                    if why is None:
                        click, counted = ClickStatus.COUNTED, 3
                    else:
                        click = ClickStatus.LATE
                        letters = (Letter(held.record, LetterKind.OUTSIDE_WINDOW, why),)
            new = ImpressionState(event.creative_id, bucket, shown_at, click, event.user_id)
            self._table[impression_id] = new
            if self._changes is not None:
                self._changes.append((impression_id, new, counted))
            self._remember(partition, impression_id, shown_at)
            verdict = Verdict.COUNTED
        expired = self._advance(partition, timestamp_ns, shown_at)
        return verdict, (letters + expired if expired else letters)

    def _bucket(self, context: Any) -> str:
        """`kit.context.context_bucket`, cached by the bucket keys' values."""
        key = tuple(map(context.get, BUCKET_KEYS))
        bucket = self._buckets_seen.get(key)
        if bucket is None:
            if len(self._buckets_seen) > 10_000:
                self._buckets_seen.clear()
            bucket = self._buckets_seen[key] = context_bucket(context)
        return bucket

    def admit_click(
        self,
        event: events_pb2.Click,
        partition: int,
        timestamp_ns: int,
        record: SourceRecord | KafkaRecord,
    ) -> tuple[Verdict, tuple[Letter, ...]]:
        """`click()` without building its outcome (see `admit_impression`)."""
        stamp = event.clicked_at
        clicked_at = (
            stamp.seconds * NS_PER_S + stamp.nanos if (stamp.seconds or stamp.nanos) else timestamp_ns
        )
        if self._event_lead_ns is not None or self._event_age_ns is not None:
            why = self._implausible("click", clicked_at, timestamp_ns)
            if why is not None:
                return Verdict.DEAD_LETTERED, (
                    Letter(SourceRecord.of(record), LetterKind.IMPLAUSIBLE_TIME, why),
                )
        click_clock = self._click_clock.get(partition)
        if click_clock is None or clicked_at > click_clock:
            self._click_clock[partition] = clicked_at
        impression_id = event.impression_id
        known = self.state(impression_id)
        if known is None and self._expired(clicked_at, partition):
            return self._too_old("click", clicked_at, partition, record)
        state = known or ImpressionState()
        if state.click is ClickStatus.COUNTED:
            return Verdict.DUPLICATE, ()
        if not state.shown:
            if state.click is not ClickStatus.NONE:  # already held, or already dead-lettered
                return Verdict.DUPLICATE, ()
            held = HeldClick(clicked_at, SourceRecord.of(record))
            deadline = clicked_at + self.window_ns
            clock = self._clock.get(partition)
            self._click_at[impression_id] = clicked_at
            if clock is not None and clock > deadline:
                self._put(impression_id, state._replace(click=ClickStatus.ORPHANED))
                self._remember(partition, impression_id, clicked_at)
                return Verdict.DEAD_LETTERED, (self._orphan(held, clock, partition),)
            self._held[impression_id] = held
            self._put(impression_id, state._replace(click=ClickStatus.HELD))
            self._remember(partition, impression_id, clicked_at)
            self._index(partition, deadline, impression_id)
            return Verdict.HELD, ()
        why = self._outside_window(state.shown_at_ns, clicked_at)
        if why is None:
            self._put(impression_id, state._replace(click=ClickStatus.COUNTED), 2)
            return Verdict.COUNTED, ()
        if state.click is ClickStatus.NONE:
            self._put(impression_id, state._replace(click=ClickStatus.LATE))
            letter = Letter(SourceRecord.of(record), LetterKind.OUTSIDE_WINDOW, why)
            return Verdict.DEAD_LETTERED, (letter,)
        return Verdict.DUPLICATE, ()  # this impression's late or orphaned click was dead-lettered already

    def _advance(self, partition: int, timestamp_ns: int, shown_at_ns: int) -> tuple[Letter, ...]:
        """Move the partition's clocks; dead-letter the held clicks left behind; evict expired state."""
        clock = self._clock.get(partition)
        if clock is not None and shown_at_ns <= clock and not self._due.get(partition):
            eviction = self._eviction_clock.get(partition)
            if eviction is not None and shown_at_ns <= eviction:
                return ()  # nothing moves: the common case of an impression older than the newest
        if clock is None or shown_at_ns > clock:
            self._clock[partition] = clock = shown_at_ns
        bound = shown_at_ns
        if self._lead_ns is not None and timestamp_ns:
            bound = min(shown_at_ns, timestamp_ns + self._lead_ns)
        if self._clicks_behind.get(partition):
            click_clock = self._click_clock.get(partition)
            if click_clock is not None:
                bound = min(bound, click_clock + self.horizon_ns // 2)
        eviction = self._eviction_clock.get(partition)
        if eviction is None or bound > eviction:
            self._eviction_clock[partition] = bound
            heap = self._bucket_heap.get(partition)
            if heap and (heap[0] + 1) * self._bucket_ns + self.window_ns + self.horizon_ns <= bound:
                self._evict(partition)
        due = self._due.get(partition)
        if not due or due[0][0] >= clock:
            return ()
        letters: list[Letter] = []
        while due and due[0][0] < clock:
            _, impression_id = heapq.heappop(due)
            raw = self._held.get(impression_id)
            if raw is None:
                continue  # its impression arrived meanwhile
            held = HeldClick.decode(raw)
            del self._held[impression_id]
            state = self.state(impression_id) or ImpressionState()
            self._put(impression_id, state._replace(click=ClickStatus.ORPHANED))
            letters.append(self._orphan(held, clock, partition))
        return tuple(letters)

    def _evict(self, partition: int) -> None:
        """Forget impression_ids of `partition` whose time + window + horizon the eviction clock passed."""
        clock = self._eviction_clock.get(partition)
        heap = self._bucket_heap.get(partition)
        if clock is None or not heap:
            return
        keep_ns = self.window_ns + self.horizon_ns
        buckets = self._buckets[partition]
        while heap and (heap[0] + 1) * self._bucket_ns + keep_ns <= clock:
            for impression_id, at_ns in buckets.pop(heapq.heappop(heap)):
                state = self.state(impression_id)
                if state is None:
                    continue
                # A held click's entry got its impression since: it is indexed again at shown_at.
                time_ns = state.shown_at_ns if state.shown else at_ns
                if time_ns + keep_ns <= clock:
                    del self._table[impression_id]
                    self._held.pop(impression_id, None)
                    self._click_at.pop(impression_id, None)

    def entries(self) -> Iterator[tuple[str, ImpressionState]]:
        for impression_id in list(self._table):
            state = self.state(impression_id)
            if state is not None:
                yield impression_id, state


# --- stage 2: decayed counts per creative, and per bucket within it -----------------------------


@dataclass(frozen=True)
class CreativeCounts:
    """Decayed impression and click counts of one creative in one bucket ("" = all contexts)."""

    creative_id: str
    bucket: str = ALL_CONTEXTS
    impressions: float = 0.0
    clicks: float = 0.0
    #: Event time the counts are decayed to: the newest outcome applied.
    at_ns: int = 0

    def add(self, outcome: Outcome, half_life_s: float | None) -> CreativeCounts:
        impressions, clicks, at_ns = decayed_add(
            self.impressions,
            self.clicks,
            self.at_ns,
            outcome.impressions,
            outcome.clicks,
            outcome.at_ns,
            half_life_s,
        )
        return CreativeCounts(self.creative_id, self.bucket, impressions, clicks, at_ns)

    def as_of(self, at_ns: int, half_life_s: float | None) -> tuple[float, float]:
        """(impressions, clicks) decayed further to a later time `at_ns`."""
        kept = decay_factor(max(0, at_ns - self.at_ns), half_life_s)
        return self.impressions * kept, self.clicks * kept

    def snapshot(self) -> events_pb2.BanditStats:
        updated_at = Timestamp()
        updated_at.FromNanoseconds(self.at_ns)
        return events_pb2.BanditStats(
            creative_id=self.creative_id,
            impressions=self.impressions,
            # Decayed sums can round a hair above impressions when every impression was clicked.
            clicks=min(self.clicks, self.impressions),
            updated_at=updated_at,
            context_bucket=self.bucket,
        )


@dataclass(frozen=True)
class CreativeRecord:
    """Everything counted for one creative: one table value, so an outcome updates it atomically."""

    creative_id: str
    #: Per bucket, and "" for all contexts.
    buckets: dict[str, CreativeCounts]
    #: Offset of the last outcome applied; outcomes of one creative share a partition, so their
    #: offsets only grow and anything at or below this is a replay.
    last_offset: int = -1

    def encode(self) -> bytes:
        buckets = {
            bucket: {"impressions": c.impressions, "clicks": c.clicks, "at_ns": c.at_ns}
            for bucket, c in self.buckets.items()
        }
        return _dumps({"buckets": buckets, "last_offset": self.last_offset})

    @classmethod
    def decode(cls, creative_id: str, raw: CreativeRecord | bytes | None) -> CreativeRecord:
        if raw is None:
            return cls(creative_id, {})
        if isinstance(raw, CreativeRecord):
            return raw
        data = json.loads(raw)
        if "buckets" not in data:  # written before buckets: {"impressions", "clicks", "last_offset"}
            data["buckets"] = {ALL_CONTEXTS: {"impressions": data["impressions"], "clicks": data["clicks"]}}
        buckets = {
            str(bucket): CreativeCounts(
                creative_id,
                str(bucket),
                float(c["impressions"]),
                float(c["clicks"]),
                int(c.get("at_ns", 0)),
            )
            for bucket, c in data["buckets"].items()
        }
        return cls(creative_id, buckets, int(data["last_offset"]))


class CreativeCounter:
    """Stage 2: decayed counts per creative (table key creative_id), per bucket and over all contexts."""

    def __init__(self, table: MutableMapping[str, Any], half_life_s: float | None = None) -> None:
        if half_life_s is not None and half_life_s < 0:
            raise ValueError(f"half-life must not be negative, not {half_life_s}")
        self._table = table
        self.half_life_s = half_life_s or None
        #: (creative_id, bucket) changed since the last snapshots.
        self._changed: set[tuple[str, str]] = set()
        #: creative_id -> when its snapshots were last taken (the caller's clock).
        self._taken_at: dict[str, float] = {}
        #: Creatives with a new click since their last snapshots: published without waiting.
        self._clicked: set[str] = set()

    def record(self, creative_id: str) -> CreativeRecord:
        return CreativeRecord.decode(creative_id, self._table.get(creative_id))

    def get(self, creative_id: str, bucket: str = ALL_CONTEXTS) -> CreativeCounts:
        return self.record(creative_id).buckets.get(bucket) or CreativeCounts(creative_id, bucket)

    def apply(self, outcome: Outcome, offset: int) -> bool:
        """Add `outcome` (read at `offset`) to its bucket and to all contexts; False if a replay."""
        record = self.record(outcome.creative_id)
        if offset <= record.last_offset:
            return False
        self._add(record, outcome, offset)
        return True

    def add(self, outcome: Outcome) -> None:
        """Add `outcome` to its bucket and to all contexts (the caller applies each outcome once)."""
        record = self.record(outcome.creative_id)
        self._add(record, outcome, record.last_offset)

    def _add(self, record: CreativeRecord, outcome: Outcome, offset: int) -> None:
        buckets = dict(record.buckets)
        for bucket in dict.fromkeys((outcome.bucket, ALL_CONTEXTS)):
            counts = buckets.get(bucket) or CreativeCounts(outcome.creative_id, bucket)
            buckets[bucket] = counts.add(outcome, self.half_life_s)
            self._changed.add((outcome.creative_id, bucket))
        if outcome.clicks:
            self._clicked.add(outcome.creative_id)
        self._table[outcome.creative_id] = CreativeRecord(outcome.creative_id, buckets, offset)

    def load(self, counts: CreativeCounts) -> None:
        """Put back one checkpointed (creative, bucket) count as it was."""
        record = self.record(counts.creative_id)
        self._table[counts.creative_id] = CreativeRecord(
            counts.creative_id, {**record.buckets, counts.bucket: counts}, record.last_offset
        )

    def creative_ids(self) -> list[str]:
        return list(self._table.keys())

    def __len__(self) -> int:
        return len(self._table)

    def mark_changed(self, creative_id: str) -> None:
        """Publish every bucket of `creative_id` with the next snapshots."""
        self._changed.update((creative_id, bucket) for bucket in self.record(creative_id).buckets)

    def mark_all_changed(self) -> None:
        """Republish every count held here (after recovery: the last snapshots may be missing)."""
        for creative_id in list(self._table.keys()):
            self.mark_changed(creative_id)

    def take_snapshots(
        self, now: float | None = None, min_interval_s: float = 0.0
    ) -> list[events_pb2.BanditStats]:
        """Snapshots of the counts changed since the last call, skipping creatives no longer held here.

        Ordered by creative, and within a creative its buckets first and all contexts last: a
        reader that keeps one record per creative_id ends each round on the aggregate. With `now`,
        a creative whose snapshots were taken less than `min_interval_s` before waits (its changes
        stay pending) unless it got a click: impressions alone publish a creative at most that
        often (and at once after a pause), a click at once, since ranking is waiting for it.
        """
        changed, self._changed = self._changed, set()
        clicked, self._clicked = self._clicked, set()
        if now is not None:
            taken = self._taken_at
            due = {c for c, _ in changed if c in clicked or now - taken.get(c, -math.inf) >= min_interval_s}
            self._changed = {pair for pair in changed if pair[0] not in due}
            changed -= self._changed
            for creative_id in due:
                taken[creative_id] = now
        order = sorted(changed, key=lambda pair: (pair[0], pair[1] == ALL_CONTEXTS, pair[1]))
        records: dict[str, CreativeRecord] = {}
        snapshots = []
        for creative_id, bucket in order:
            if creative_id not in records:
                if creative_id not in self._table:
                    continue
                records[creative_id] = self.record(creative_id)
            counts = records[creative_id].buckets.get(bucket)
            if counts is not None:
                snapshots.append(counts.snapshot())
        return snapshots
