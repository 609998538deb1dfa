"""The bandit's counting rules, free of faust so they can be tested with plain dicts.

Two stages, because the inputs are keyed by impression_id and the counts by creative_id:

1. `ImpressionLedger` (state keyed by impression_id, co-partitioned with `ad.impressions` and
   `ad.clicks`) turns records into `Outcome`s: an impression counts once, a click counts once and
   only for the creative of its impression, and a click that arrives first is held until the
   impression does. Duplicates change nothing.
2. `CreativeCounter` (state keyed by creative_id) adds outcomes up. Each outcome carries the offset
   it was read at; replays after a crash (offsets at or below the last one applied) are ignored,
   so the counts stay exact under at-least-once delivery.

Both keep their state as bytes in a `MutableMapping`: a faust table in the service.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from enum import StrEnum

from creativeloop.v1 import events_pb2
from google.protobuf.timestamp_pb2 import Timestamp


def _dumps(data: dict[str, object]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class ImpressionState:
    """What is known about one impression_id."""

    #: Empty until the impression itself has arrived (a click can come first).
    creative_id: str = ""
    clicked: bool = False

    @property
    def shown(self) -> bool:
        return bool(self.creative_id)

    def encode(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | None) -> ImpressionState | None:
        if raw is None:
            return None
        data = json.loads(raw)
        return cls(creative_id=str(data["creative_id"]), clicked=bool(data["clicked"]))


@dataclass(frozen=True)
class Outcome:
    """A change to one creative's counts, forwarded keyed by creative_id."""

    creative_id: str
    impressions: int = 0
    clicks: int = 0

    def encode(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> Outcome:
        data = json.loads(raw)
        return cls(str(data["creative_id"]), int(data["impressions"]), int(data["clicks"]))


class Verdict(StrEnum):
    """What a record did; also the `outcome` label of the events counter."""

    COUNTED = "ok"
    HELD = "held"  # a click whose impression has not arrived yet
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Step:
    verdict: Verdict
    outcome: Outcome | None = None


class ImpressionLedger:
    """Stage 1: per-impression state keyed by impression_id."""

    def __init__(self, table: MutableMapping[str, bytes]) -> None:
        self._table = table

    def state(self, impression_id: str) -> ImpressionState | None:
        return ImpressionState.decode(self._table.get(impression_id))

    def impression(self, event: events_pb2.Impression) -> Step:
        """Count an impression once; release a click that was waiting for it."""
        state = self.state(event.impression_id)
        if state is not None and state.shown:
            return Step(Verdict.DUPLICATE)
        clicked = state is not None and state.clicked
        self._table[event.impression_id] = ImpressionState(event.creative_id, clicked).encode()
        return Step(Verdict.COUNTED, Outcome(event.creative_id, impressions=1, clicks=int(clicked)))

    def click(self, event: events_pb2.Click) -> Step:
        """Count a click once, for its impression's creative (not the click's own creative_id)."""
        state = self.state(event.impression_id)
        if state is not None and state.clicked:
            return Step(Verdict.DUPLICATE)
        if state is None or not state.shown:
            self._table[event.impression_id] = ImpressionState(clicked=True).encode()
            return Step(Verdict.HELD)
        self._table[event.impression_id] = ImpressionState(state.creative_id, clicked=True).encode()
        return Step(Verdict.COUNTED, Outcome(state.creative_id, clicks=1))


@dataclass(frozen=True)
class CreativeCounts:
    impressions: int = 0
    clicks: int = 0
    #: Offset of the last outcome applied; outcomes of one creative share a partition, so their
    #: offsets only grow and anything at or below this is a replay.
    last_offset: int = -1

    def encode(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | None) -> CreativeCounts:
        if raw is None:
            return cls()
        data = json.loads(raw)
        return cls(int(data["impressions"]), int(data["clicks"]), int(data["last_offset"]))

    def snapshot(self, creative_id: str, at: Timestamp) -> events_pb2.BanditStats:
        return events_pb2.BanditStats(
            creative_id=creative_id,
            impressions=float(self.impressions),
            clicks=float(self.clicks),
            updated_at=at,
        )


class CreativeCounter:
    """Stage 2: counts keyed by creative_id, and which creatives changed since the last snapshot."""

    def __init__(self, table: MutableMapping[str, bytes]) -> None:
        self._table = table
        self._changed: set[str] = set()

    def get(self, creative_id: str) -> CreativeCounts:
        return CreativeCounts.decode(self._table.get(creative_id))

    def apply(self, outcome: Outcome, offset: int) -> bool:
        """Add `outcome` (read at `offset`); False if that offset was already applied."""
        counts = self.get(outcome.creative_id)
        if offset <= counts.last_offset:
            return False
        self._table[outcome.creative_id] = CreativeCounts(
            counts.impressions + outcome.impressions, counts.clicks + outcome.clicks, offset
        ).encode()
        self._changed.add(outcome.creative_id)
        return True

    def mark_all_changed(self) -> None:
        """Republish every creative held here (after recovery: the last snapshots may be missing)."""
        self._changed.update(self._table.keys())

    def take_snapshots(self, at: Timestamp) -> list[events_pb2.BanditStats]:
        """Snapshots of the creatives changed since the last call, skipping ones no longer held here."""
        changed, self._changed = sorted(self._changed), set()
        return [self.get(cid).snapshot(cid, at) for cid in changed if cid in self._table]
