"""The bandit's rules with plain dicts as tables: attribution window, held and late clicks, buckets,
duplicates, time decay and replays."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.bandit.stats import (
    NS_PER_S,
    ClickStatus,
    CreativeCounter,
    CreativeCounts,
    CreativeRecord,
    HeldClick,
    ImpressionLedger,
    ImpressionState,
    Letter,
    LetterKind,
    Outcome,
    SourceRecord,
    Step,
    Verdict,
    decay_factor,
    event_time_ns,
)
from creativeloop.kit.context import context_bucket
from creativeloop.v1 import events_pb2

T0 = 1_800_000_000 * NS_PER_S
FEED_MOBILE = {"placement": "feed", "device": "mobile"}
BUCKET = "placement=feed|device=mobile"
WINDOW_S = 1800.0
HOUR = 3600 * NS_PER_S


def at(seconds: float) -> int:
    return T0 + round(seconds * NS_PER_S)


def stamp(ns: int) -> Timestamp:
    value = Timestamp()
    value.FromNanoseconds(ns)
    return value


@dataclass
class Ledger:
    """An `ImpressionLedger` over dicts, fed like the agent feeds it: one record at a time."""

    window_s: float = WINDOW_S
    impressions: dict[str, bytes] = field(default_factory=dict)
    held: dict[str, bytes] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ledger = ImpressionLedger(self.impressions, self.held, self.window_s)

    def restart(self) -> Ledger:
        """A new worker over the same (recovered) tables: clocks and the held index are gone."""
        again = Ledger(self.window_s, self.impressions, self.held, self.offsets)
        again.ledger.rebuild()
        return again

    def record(self, topic: str, key: str, value: bytes, partition: int) -> SourceRecord:
        offset = self.offsets.get((topic, partition), 0)
        self.offsets[topic, partition] = offset + 1
        return SourceRecord(topic, partition, offset, key.encode(), value, timestamp_ns=T0)

    def impression(
        self,
        iid: str,
        cid: str,
        seconds: float = 0.0,
        context: dict[str, str] | None = None,
        partition: int = 0,
    ) -> Step:
        event = events_pb2.Impression(
            impression_id=iid,
            creative_id=cid,
            propensity=0.5,
            shown_at=stamp(at(seconds)),
            context=FEED_MOBILE if context is None else context,
        )
        record = self.record("ad.impressions", iid, event.SerializeToString(), partition)
        return self.ledger.impression(event, record)

    def click(self, iid: str, seconds: float = 1.0, cid: str = "", partition: int = 0) -> Step:
        event = events_pb2.Click(impression_id=iid, creative_id=cid, clicked_at=stamp(at(seconds)))
        self.last_click = self.record("ad.clicks", iid, event.SerializeToString(), partition)
        return self.ledger.click(event, self.last_click)


# --- stage 1 ----------------------------------------------------------------------------------


def test_an_impression_counts_once_in_its_context_bucket() -> None:
    feed = Ledger()
    assert feed.impression("i1", "cA") == Step(Verdict.COUNTED, Outcome("cA", BUCKET, at(0), impressions=1))
    assert feed.impression("i1", "cA") == Step(Verdict.DUPLICATE)
    # A replay that names another creative is still the same impression: first one wins.
    assert feed.impression("i1", "cB") == Step(Verdict.DUPLICATE)
    assert feed.ledger.state("i1") == ImpressionState("cA", BUCKET, at(0))
    # No bucket keys in the context: all contexts only.
    step = feed.impression("i2", "cA", context={"request": "r1"})
    assert step.outcome == Outcome("cA", "", at(0), impressions=1)


def test_a_click_inside_the_window_counts_once_for_its_impressions_creative() -> None:
    feed = Ledger()
    feed.impression("i1", "cA", seconds=0)
    # The click's own creative_id is not trusted: the impression decides; it counts at the
    # impression's time and in its bucket.
    assert feed.click("i1", seconds=60, cid="cB") == Step(
        Verdict.COUNTED, Outcome("cA", BUCKET, at(0), clicks=1)
    )
    assert feed.click("i1", seconds=61) == Step(Verdict.DUPLICATE)
    assert feed.impression("i1", "cA") == Step(Verdict.DUPLICATE)
    assert feed.ledger.state("i1") == ImpressionState("cA", BUCKET, at(0), ClickStatus.COUNTED)


@pytest.mark.parametrize(
    ("delay_ns", "counted"),
    [
        (0, True),
        (round(WINDOW_S * NS_PER_S), True),
        (round(WINDOW_S * NS_PER_S) + 1, False),
        # Stamped before its impression (clock skew between ad servers): up to one window.
        (-round(WINDOW_S * NS_PER_S), True),
        (-round(WINDOW_S * NS_PER_S) - 1, False),
    ],
)
def test_the_window_edges(delay_ns: int, counted: bool) -> None:
    feed = Ledger()
    feed.impression("i1", "cA", seconds=100)
    step = feed.click("i1", seconds=100 + delay_ns / NS_PER_S)
    assert step.verdict == (Verdict.COUNTED if counted else Verdict.DEAD_LETTERED), step


def test_a_late_click_is_dead_lettered_once_and_a_later_click_inside_the_window_still_counts() -> None:
    feed = Ledger()
    feed.impression("i1", "cA", seconds=0)
    late = feed.click("i1", seconds=1860)
    assert late.verdict is Verdict.DEAD_LETTERED and late.outcome is None
    (letter,) = late.letters
    assert letter == Letter(
        feed.last_click,
        LetterKind.OUTSIDE_WINDOW,
        "click outside attribution window (1800s): 1860s after its impression",
    )
    assert feed.click("i1", seconds=1860) == Step(Verdict.DUPLICATE)  # no second letter
    early = feed.click("i1", seconds=-2000)
    assert early == Step(Verdict.DUPLICATE)
    # A genuine click inside the window, read after the late one, still counts (once).
    assert feed.click("i1", seconds=30) == Step(Verdict.COUNTED, Outcome("cA", BUCKET, at(0), clicks=1))
    assert feed.click("i1", seconds=1860) == Step(Verdict.DUPLICATE)


def test_a_click_before_its_impression_is_held_then_counted_with_it() -> None:
    feed = Ledger()
    assert feed.click("i1", seconds=5) == Step(Verdict.HELD)
    first = feed.last_click
    assert feed.click("i1", seconds=5) == Step(Verdict.DUPLICATE)
    assert feed.ledger.state("i1") == ImpressionState(click=ClickStatus.HELD)
    assert feed.ledger.held_click("i1") == HeldClick(at(5), first)
    assert feed.ledger.held_count() == 1
    assert feed.impression("i1", "cA", seconds=0) == Step(
        Verdict.COUNTED, Outcome("cA", BUCKET, at(0), impressions=1, clicks=1)
    )
    assert feed.ledger.held_count() == 0
    assert feed.click("i1") == Step(Verdict.DUPLICATE)
    assert feed.impression("i1", "cA") == Step(Verdict.DUPLICATE)


def test_a_held_click_outside_its_impressions_window_is_dead_lettered_when_the_impression_arrives() -> None:
    feed = Ledger()
    feed.click("i1", seconds=4000)
    held = feed.last_click
    step = feed.impression("i1", "cA", seconds=0)
    assert step.verdict is Verdict.COUNTED
    assert step.outcome == Outcome("cA", BUCKET, at(0), impressions=1, clicks=0)
    assert [(letter.record, letter.kind) for letter in step.letters] == [(held, LetterKind.OUTSIDE_WINDOW)]
    assert feed.ledger.state("i1") == ImpressionState("cA", BUCKET, at(0), ClickStatus.LATE)
    assert feed.ledger.held_count() == 0


def test_a_held_click_expires_once_impressions_of_its_partition_pass_the_window() -> None:
    feed = Ledger(window_s=10)
    assert feed.click("orphan", seconds=0, partition=0) == Step(Verdict.HELD)
    orphan = feed.last_click
    # Impressions up to the deadline, and impressions of other partitions, do not expire it.
    assert feed.impression("a", "cA", seconds=10, partition=0).letters == ()
    assert feed.impression("b", "cA", seconds=500, partition=1).letters == ()
    # The first impression past clicked_at + window on its partition does.
    step = feed.impression("c", "cA", seconds=10.5, partition=0)
    assert step.outcome == Outcome("cA", BUCKET, at(10.5), impressions=1)
    (letter,) = step.letters
    assert letter.record == orphan  # partition, offset, key and the original bytes
    assert letter.kind is LetterKind.NO_IMPRESSION
    assert letter.reason == (
        "no impression within attribution window (10s): clicked at 2027-01-15T08:00:00Z, "
        "impressions of partition 0 reached 2027-01-15T08:00:10.500Z"
    )
    assert feed.ledger.state("orphan") == ImpressionState(click=ClickStatus.ORPHANED)
    assert feed.ledger.held_count() == 0
    # Duplicates of a dead-lettered click change nothing, and expiry happens once.
    assert feed.click("orphan", seconds=0) == Step(Verdict.DUPLICATE)
    assert feed.impression("d", "cA", seconds=60, partition=0).letters == ()
    # Its impression, very late, counts as an impression; replaying the letter then counts the click.
    assert feed.impression("orphan", "cB", seconds=-1) == Step(
        Verdict.COUNTED, Outcome("cB", BUCKET, at(-1), impressions=1)
    )
    assert feed.click("orphan", seconds=0) == Step(Verdict.COUNTED, Outcome("cB", BUCKET, at(-1), clicks=1))
    assert feed.click("orphan", seconds=0) == Step(Verdict.DUPLICATE)


def test_a_click_is_dead_lettered_at_once_when_its_partitions_impressions_are_past_its_window() -> None:
    feed = Ledger(window_s=10)
    feed.impression("a", "cA", seconds=100)
    step = feed.click("orphan", seconds=50)
    assert step.verdict is Verdict.DEAD_LETTERED
    assert [(letter.record, letter.kind) for letter in step.letters] == [
        (feed.last_click, LetterKind.NO_IMPRESSION)
    ]
    assert feed.ledger.held_count() == 0
    # On a partition whose impressions are not that far yet, the same click is held.
    assert feed.click("other", seconds=50, partition=3) == Step(Verdict.HELD)


def test_held_clicks_survive_a_restart_and_still_expire() -> None:
    feed = Ledger(window_s=10)
    feed.click("kept", seconds=0, partition=2)
    kept = feed.last_click
    feed.click("matched", seconds=0, partition=2)
    after = feed.restart()
    assert after.ledger.clock(2) is None
    assert after.impression("matched", "cA", seconds=-1, partition=2).outcome == Outcome(
        "cA", BUCKET, at(-1), impressions=1, clicks=1
    )
    step = after.impression("later", "cA", seconds=11, partition=2)
    assert [(letter.record, letter.kind) for letter in step.letters] == [(kept, LetterKind.NO_IMPRESSION)]


def test_event_time_falls_back_to_the_record_timestamp() -> None:
    assert event_time_ns(Timestamp(), 123) == 123
    assert event_time_ns(stamp(at(1)), 123) == at(1)
    ledger = ImpressionLedger({}, {}, 10)
    record = SourceRecord("ad.impressions", 0, 0, b"i1", b"", timestamp_ns=at(7))
    step = ledger.impression(events_pb2.Impression(impression_id="i1", creative_id="c", propensity=1), record)
    assert step.outcome == Outcome("c", "", at(7), impressions=1)


def test_state_and_outcomes_survive_their_byte_encoding() -> None:
    for state in [ImpressionState(), ImpressionState("c", BUCKET, at(3), ClickStatus.LATE)]:
        assert ImpressionState.decode(state.encode()) == state
    assert ImpressionState.decode(None) is None
    # State written before attribution windows existed.
    assert ImpressionState.decode(b'{"clicked":true,"creative_id":"c"}') == ImpressionState(
        "c", click=ClickStatus.COUNTED
    )
    assert ImpressionState.decode(b'{"clicked":true,"creative_id":""}') == ImpressionState(
        click=ClickStatus.HELD
    )
    for record in [
        SourceRecord("ad.clicks", 3, 41, b"k", b"\x00\xffbytes", 5),
        SourceRecord("ad.clicks", 0, 0, None, None),
    ]:
        held = HeldClick(at(2), record)
        assert HeldClick.decode(held.encode()) == held
    outcome = Outcome("c", BUCKET, at(1), impressions=1, clicks=1)
    assert Outcome.decode(outcome.encode()) == outcome
    creative = CreativeRecord(
        "c",
        {BUCKET: CreativeCounts("c", BUCKET, 7.25, 2.5, at(9)), "": CreativeCounts("c", "", 9.5, 2.5, at(9))},
        last_offset=41,
    )
    assert CreativeRecord.decode("c", creative.encode()) == creative
    assert CreativeRecord.decode("c", None) == CreativeRecord("c", {})
    # Counts written before buckets and decay: one record over all contexts.
    assert CreativeRecord.decode("c", b'{"clicks":2,"impressions":7,"last_offset":41}') == CreativeRecord(
        "c", {"": CreativeCounts("c", "", 7.0, 2.0)}, last_offset=41
    )


def test_a_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        ImpressionLedger({}, {}, 0)
    with pytest.raises(ValueError, match="half-life"):
        CreativeCounter({}, -1)


# --- stage 2 ----------------------------------------------------------------------------------


def test_counts_per_bucket_and_over_all_contexts() -> None:
    table: dict[str, bytes] = {}
    counter = CreativeCounter(table)
    mobile, desktop = BUCKET, "placement=feed|device=desktop"
    outcomes = [
        Outcome("cA", mobile, at(0), impressions=1),
        Outcome("cA", mobile, at(0), clicks=1),
        Outcome("cA", desktop, at(1), impressions=1),
        Outcome("cA", "", at(2), impressions=1),  # no bucket: counted once, in all contexts
        Outcome("cB", mobile, at(3), impressions=1, clicks=1),
    ]
    for offset, outcome in enumerate(outcomes):
        assert counter.apply(outcome, offset)
    # One table value per creative, with all its buckets: an outcome updates it atomically.
    assert sorted(table) == ["cA", "cB"]
    assert sorted(counter.record("cA").buckets) == ["", desktop, mobile]
    assert sorted(counter.record("cB").buckets) == ["", mobile]
    assert (counter.get("cA", mobile).impressions, counter.get("cA", mobile).clicks) == (1, 1)
    assert (counter.get("cA", desktop).impressions, counter.get("cA", desktop).clicks) == (1, 0)
    assert (counter.get("cA").impressions, counter.get("cA").clicks) == (3, 1)
    assert counter.get("cA").at_ns == at(2)
    assert (counter.get("cB").impressions, counter.get("cB").clicks) == (1, 1)
    assert counter.get("unknown") == CreativeCounts("unknown")


def test_counter_ignores_replayed_offsets() -> None:
    counter = CreativeCounter({})
    assert counter.apply(Outcome("cA", BUCKET, at(0), impressions=1), offset=0)
    assert counter.apply(Outcome("cA", BUCKET, at(0), impressions=1, clicks=1), offset=1)
    # Read again after a restart whose offsets were not committed yet: already counted.
    assert not counter.apply(Outcome("cA", BUCKET, at(0), impressions=1), offset=1)
    assert not counter.apply(Outcome("cA", BUCKET, at(0), impressions=1), offset=0)
    assert counter.record("cA").last_offset == 1
    for bucket in (BUCKET, ""):
        assert (counter.get("cA", bucket).impressions, counter.get("cA", bucket).clicks) == (2, 1)


def test_decay_halves_a_count_every_half_life_in_any_order() -> None:
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        counter = CreativeCounter({}, half_life_s=3600)
        for offset, hours in enumerate(order):
            counter.apply(Outcome("c", "", T0 + hours * HOUR, impressions=1, clicks=int(hours == 0)), offset)
        counts = counter.get("c")
        # Powers of two are exact in floating point: 1/4 + 1/2 + 1.
        assert (counts.impressions, counts.clicks, counts.at_ns) == (1.75, 0.25, T0 + 2 * HOUR)
        assert counts.as_of(T0 + 3 * HOUR, 3600) == (0.875, 0.125)
        assert counts.as_of(T0, 3600) == (1.75, 0.25)  # never decays backwards


@pytest.mark.parametrize("seed", range(5))
def test_decayed_counts_match_the_closed_form(seed: int) -> None:
    rng = random.Random(seed)
    half_life_s = 6 * 3600.0
    times = [T0 + rng.randrange(-3 * 24 * HOUR, 3 * 24 * HOUR) for _ in range(300)]
    clicked = [rng.random() < 0.2 for _ in times]
    outcomes = [
        Outcome("c", BUCKET, t, impressions=1, clicks=int(k)) for t, k in zip(times, clicked, strict=True)
    ]
    rng.shuffle(outcomes)
    counter = CreativeCounter({}, half_life_s)
    for offset, outcome in enumerate(outcomes):
        counter.apply(outcome, offset)
    newest = max(times)
    expected_n = sum(2 ** (-(newest - t) / NS_PER_S / half_life_s) for t in times)
    expected_c = sum(
        2 ** (-(newest - t) / NS_PER_S / half_life_s) for t, k in zip(times, clicked, strict=True) if k
    )
    for bucket in (BUCKET, ""):
        counts = counter.get("c", bucket)
        assert counts.at_ns == newest
        assert counts.impressions == pytest.approx(expected_n, rel=1e-12)
        assert counts.clicks == pytest.approx(expected_c, rel=1e-12)
    assert decay_factor(6 * HOUR, half_life_s) == 0.5


def test_without_decay_counts_are_plain_sums() -> None:
    for off in (None, 0.0):
        counter = CreativeCounter({}, off)
        assert counter.half_life_s is None
        for offset, hours in enumerate([0, 100, 50]):
            counter.apply(Outcome("c", "", T0 + hours * HOUR, impressions=1, clicks=1), offset)
        assert (counter.get("c").impressions, counter.get("c").clicks) == (3.0, 3.0)
        assert counter.get("c").at_ns == T0 + 100 * HOUR


def test_snapshots_list_buckets_before_the_aggregate_of_each_creative_once() -> None:
    table: dict[str, bytes] = {}
    counter = CreativeCounter(table, half_life_s=3600)
    desktop = "placement=feed|device=desktop"
    counter.apply(Outcome("cB", BUCKET, at(0), impressions=1), 0)
    counter.apply(Outcome("cA", desktop, at(0), impressions=1, clicks=1), 1)
    counter.apply(Outcome("cA", BUCKET, T0 + HOUR, impressions=1), 2)
    snapshots = counter.take_snapshots()
    assert [(s.creative_id, s.context_bucket, s.impressions, s.clicks) for s in snapshots] == [
        ("cA", desktop, 1.0, 1.0),
        ("cA", BUCKET, 1.0, 0.0),
        ("cA", "", 1.5, 0.5),
        ("cB", BUCKET, 1.0, 0.0),
        ("cB", "", 1.0, 0.0),
    ]
    # updated_at is the event time the counts are decayed to.
    assert [s.updated_at.ToNanoseconds() for s in snapshots] == [at(0), T0 + HOUR, T0 + HOUR, at(0), at(0)]
    assert counter.take_snapshots() == []
    counter.mark_all_changed()
    assert [(s.creative_id, s.context_bucket) for s in counter.take_snapshots()] == [
        ("cA", desktop),
        ("cA", BUCKET),
        ("cA", ""),
        ("cB", BUCKET),
        ("cB", ""),
    ]


def test_snapshots_skip_counts_no_longer_held_here_and_never_show_more_clicks_than_impressions() -> None:
    table: dict[str, bytes] = {}
    counter = CreativeCounter(table)
    counter.apply(Outcome("cA", BUCKET, at(0), impressions=1), 0)
    del table["cA"]  # its partition went to another worker
    assert counter.take_snapshots() == []
    table["cB"] = CreativeRecord(
        "cB", {"": CreativeCounts("cB", "", 0.7, 0.7000000000000001, at(0))}, 3
    ).encode()
    counter.mark_all_changed()
    (snapshot,) = counter.take_snapshots()
    assert snapshot.clicks == snapshot.impressions == 0.7


# --- both stages --------------------------------------------------------------------------------


def run_both_stages(
    records: list[tuple[str, events_pb2.Impression | events_pb2.Click, int]],
    window_s: float,
    half_life_s: float,
) -> tuple[dict[str, bytes], dict[str, bytes], list[Letter]]:
    """Feed (key, event, partition) records through both stages as the agents do."""
    impressions: dict[str, bytes] = {}
    counts: dict[str, bytes] = {}
    ledger = ImpressionLedger(impressions, {}, window_s)
    counter = CreativeCounter(counts, half_life_s)
    letters: list[Letter] = []
    offsets: dict[tuple[str, int], int] = {}
    outcome_offset = 0
    for key, event, partition in records:
        topic = "ad.impressions" if isinstance(event, events_pb2.Impression) else "ad.clicks"
        offset = offsets.get((topic, partition), 0)
        offsets[topic, partition] = offset + 1
        record = SourceRecord(topic, partition, offset, key.encode(), event.SerializeToString(), T0)
        if isinstance(event, events_pb2.Impression):
            step = ledger.impression(event, record)
        else:
            step = ledger.click(event, record)
        letters += step.letters
        if step.outcome is not None:
            counter.apply(step.outcome, outcome_offset)
            outcome_offset += 1
    return impressions, counts, letters


@pytest.mark.parametrize("seed", range(5))
def test_any_order_with_duplicates_gives_the_closed_form_per_bucket_and_replays_give_the_same_bytes(
    seed: int,
) -> None:
    """Shuffled, duplicated input counts every impression and click once, decayed, per bucket."""
    rng = random.Random(seed)
    half_life_s = 6 * 3600.0
    contexts = [FEED_MOBILE, {"placement": "feed", "device": "desktop"}, {}]
    shown = {}
    for n in range(120):
        shown[f"i{n}"] = (f"c{n % 3}", rng.choice(contexts), T0 + rng.randrange(0, 24 * HOUR))
    clicked = {
        iid: t + rng.randrange(0, 600 * NS_PER_S) for iid, (_, _, t) in shown.items() if rng.random() < 0.3
    }
    records: list[tuple[str, events_pb2.Impression | events_pb2.Click, int]] = []
    for iid, (cid, context, t) in shown.items():
        event = events_pb2.Impression(
            impression_id=iid, creative_id=cid, propensity=0.5, shown_at=stamp(t), context=context
        )
        records.append((iid, event, int(iid[1:]) % 4))
    for iid, t in clicked.items():
        records.append((iid, events_pb2.Click(impression_id=iid, clicked_at=stamp(t)), int(iid[1:]) % 4))
    records += rng.sample(records, 40)  # at-least-once delivery: some records twice
    rng.shuffle(records)

    # A window longer than the spread of the data: every click finds its impression.
    impressions, counts, letters = run_both_stages(records, window_s=2 * 24 * 3600, half_life_s=half_life_s)
    assert letters == []
    counter = CreativeCounter(counts, half_life_s)
    for cid in ("c0", "c1", "c2"):
        for bucket in {context_bucket(c) for c in contexts}:
            mine = {
                iid: t
                for iid, (c, ctx, t) in shown.items()
                if c == cid and bucket in ("", context_bucket(ctx))
            }
            newest = max(mine.values())
            weight = {iid: 2 ** (-(newest - t) / NS_PER_S / half_life_s) for iid, t in mine.items()}
            got = counter.get(cid, bucket)
            assert got.at_ns == newest
            assert got.impressions == pytest.approx(sum(weight.values()), rel=1e-12)
            assert got.clicks == pytest.approx(
                sum(w for iid, w in weight.items() if iid in clicked), rel=1e-12
            )

    # Replaying the same records from scratch gives byte-identical state.
    assert run_both_stages(records, 2 * 24 * 3600, half_life_s)[:2] == (impressions, counts)


@pytest.mark.parametrize("seed", range(3))
def test_replays_dead_letter_the_same_clicks(seed: int) -> None:
    """With a short window, some held clicks expire: a replay of the same records gives the same letters."""
    rng = random.Random(seed)
    records: list[tuple[str, events_pb2.Impression | events_pb2.Click, int]] = []
    for n in range(200):
        iid, t = f"i{n}", T0 + n * NS_PER_S
        if rng.random() < 0.9:  # some impressions never arrive
            event = events_pb2.Impression(impression_id=iid, creative_id="c", propensity=1, shown_at=stamp(t))
            records.append((iid, event, n % 2))
        if rng.random() < 0.4:
            delay = rng.randrange(0, 40) * NS_PER_S  # some after the window
            records.append((iid, events_pb2.Click(impression_id=iid, clicked_at=stamp(t + delay)), n % 2))
    rng.shuffle(records)
    first = run_both_stages(records, window_s=20, half_life_s=3600)
    assert {letter.kind for letter in first[2]} == {LetterKind.NO_IMPRESSION, LetterKind.OUTSIDE_WINDOW}
    assert run_both_stages(records, window_s=20, half_life_s=3600) == first


def test_a_click_backlog_holds_eviction_back_until_it_is_read() -> None:
    """Impressions read far ahead of their clicks (a click backlog) are kept until the clicks come."""
    feed = Ledger(window_s=10)
    feed.ledger = ImpressionLedger(feed.impressions, feed.held, 10, horizon_s=100)
    feed.impression("early", "cA", seconds=0)
    feed.click("warm-up", seconds=0)  # the click stream has reached t=0
    feed.ledger.clicks_behind(0, True)
    for n in range(1, 40):
        feed.impression(f"later-{n}", "cA", seconds=n * 10)  # the impression clock runs 390 s ahead
    assert feed.ledger.state("early") is not None
    assert feed.click("early", seconds=2).verdict is Verdict.COUNTED
    # Once the clicks are caught up, eviction follows the impressions again.
    feed.ledger.clicks_behind(0, False)
    feed.impression("last", "cA", seconds=400)
    assert feed.ledger.state("early") is None
    assert feed.impression("early", "cA", seconds=0).letters[0].kind is LetterKind.EXPIRED


def test_snapshots_wait_out_the_interval_for_impressions_but_not_for_clicks() -> None:
    counter = CreativeCounter({})
    counter.add(Outcome("cA", BUCKET, at(0), impressions=1))
    counter.add(Outcome("cB", BUCKET, at(0), impressions=1))
    assert {s.creative_id for s in counter.take_snapshots(now=10.0, min_interval_s=0.5)} == {"cA", "cB"}
    counter.add(Outcome("cA", BUCKET, at(1), impressions=1))  # impressions only: waits
    counter.add(Outcome("cB", BUCKET, at(1), clicks=1))  # a click: goes at once
    assert {s.creative_id for s in counter.take_snapshots(now=10.2, min_interval_s=0.5)} == {"cB"}
    assert {s.creative_id for s in counter.take_snapshots(now=10.6, min_interval_s=0.5)} == {"cA"}
    assert counter.take_snapshots(now=11.0, min_interval_s=0.5) == []
