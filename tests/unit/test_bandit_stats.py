"""The bandit's counting rules with plain dicts as tables: dedupe, click-before-impression, counts."""

from __future__ import annotations

import random

import pytest
from creativeloop.bandit.stats import (
    CreativeCounter,
    CreativeCounts,
    ImpressionLedger,
    ImpressionState,
    Outcome,
    Step,
    Verdict,
)
from creativeloop.v1 import events_pb2
from google.protobuf.timestamp_pb2 import Timestamp


def impression(iid: str, cid: str) -> events_pb2.Impression:
    return events_pb2.Impression(impression_id=iid, creative_id=cid, propensity=0.5)


def click(iid: str, cid: str = "") -> events_pb2.Click:
    return events_pb2.Click(impression_id=iid, creative_id=cid)


def test_an_impression_counts_once() -> None:
    ledger = ImpressionLedger({})
    assert ledger.impression(impression("i1", "cA")) == Step(Verdict.COUNTED, Outcome("cA", impressions=1))
    assert ledger.impression(impression("i1", "cA")) == Step(Verdict.DUPLICATE)
    # A replay that names another creative is still the same impression: first one wins.
    assert ledger.impression(impression("i1", "cB")) == Step(Verdict.DUPLICATE)
    assert ledger.state("i1") == ImpressionState("cA", clicked=False)


def test_a_click_counts_once_for_its_impressions_creative() -> None:
    ledger = ImpressionLedger({})
    ledger.impression(impression("i1", "cA"))
    # The click's own creative_id is not trusted: the impression decides.
    assert ledger.click(click("i1", "cB")) == Step(Verdict.COUNTED, Outcome("cA", clicks=1))
    assert ledger.click(click("i1")) == Step(Verdict.DUPLICATE)
    assert ledger.impression(impression("i1", "cA")) == Step(Verdict.DUPLICATE)


def test_a_click_before_its_impression_is_held_then_counted_with_it() -> None:
    ledger = ImpressionLedger({})
    assert ledger.click(click("i1")) == Step(Verdict.HELD)
    assert ledger.click(click("i1")) == Step(Verdict.DUPLICATE)
    assert ledger.state("i1") == ImpressionState("", clicked=True)
    assert ledger.impression(impression("i1", "cA")) == Step(
        Verdict.COUNTED, Outcome("cA", impressions=1, clicks=1)
    )
    assert ledger.click(click("i1")) == Step(Verdict.DUPLICATE)
    assert ledger.impression(impression("i1", "cA")) == Step(Verdict.DUPLICATE)


def test_state_and_outcomes_survive_their_byte_encoding() -> None:
    for state in [ImpressionState(), ImpressionState("c", clicked=True)]:
        assert ImpressionState.decode(state.encode()) == state
    assert ImpressionState.decode(None) is None
    outcome = Outcome("c", impressions=1, clicks=1)
    assert Outcome.decode(outcome.encode()) == outcome
    counts = CreativeCounts(7, 2, last_offset=41)
    assert CreativeCounts.decode(counts.encode()) == counts
    assert CreativeCounts.decode(None) == CreativeCounts()


def test_counter_adds_outcomes_and_ignores_replayed_offsets() -> None:
    table: dict[str, bytes] = {}
    counter = CreativeCounter(table)
    assert counter.apply(Outcome("cA", impressions=1), offset=0)
    assert counter.apply(Outcome("cA", impressions=1, clicks=1), offset=1)
    # Read again after a restart whose offsets were not committed yet: already counted.
    assert not counter.apply(Outcome("cA", impressions=1), offset=1)
    assert not counter.apply(Outcome("cA", impressions=1), offset=0)
    assert counter.get("cA") == CreativeCounts(2, 1, last_offset=1)
    assert counter.get("unknown") == CreativeCounts()


def test_snapshots_cover_changed_creatives_once() -> None:
    table: dict[str, bytes] = {}
    counter = CreativeCounter(table)
    at = Timestamp(seconds=1_800_000_000)
    counter.apply(Outcome("cB", impressions=1), 0)
    counter.apply(Outcome("cA", impressions=1, clicks=1), 1)
    counter.apply(Outcome("cA", impressions=1), 2)
    snapshots = counter.take_snapshots(at)
    assert [(s.creative_id, s.impressions, s.clicks) for s in snapshots] == [("cA", 2, 1), ("cB", 1, 0)]
    assert snapshots[0].updated_at == at
    assert counter.take_snapshots(at) == []
    counter.mark_all_changed()
    assert [s.creative_id for s in counter.take_snapshots(at)] == ["cA", "cB"]


def test_snapshots_skip_creatives_no_longer_held_here() -> None:
    table: dict[str, bytes] = {}
    counter = CreativeCounter(table)
    counter.apply(Outcome("cA", impressions=1), 0)
    del table["cA"]  # its partition went to another worker in a rebalance
    assert counter.take_snapshots(Timestamp()) == []


@pytest.mark.parametrize("seed", range(5))
def test_any_order_with_duplicates_gives_exact_counts(seed: int) -> None:
    """Both stages end to end: shuffled, duplicated input counts every impression and click once."""
    rng = random.Random(seed)
    shown = {f"i{n}": f"c{n % 3}" for n in range(60)}
    clicked = {iid for iid in shown if rng.random() < 0.3}
    records: list[events_pb2.Impression | events_pb2.Click] = [impression(i, c) for i, c in shown.items()]
    records += [click(i) for i in clicked]
    records += rng.sample(records, 25)  # at-least-once delivery: some records twice
    rng.shuffle(records)

    ledger, counter = ImpressionLedger({}), CreativeCounter({})
    outcomes: list[Outcome] = []
    for record in records:
        if isinstance(record, events_pb2.Impression):
            step = ledger.impression(record)
        else:
            step = ledger.click(record)
        if step.outcome is not None:
            outcomes.append(step.outcome)
    for offset, outcome in enumerate(outcomes):
        counter.apply(outcome, offset)

    for cid in {"c0", "c1", "c2"}:
        mine = {i for i, c in shown.items() if c == cid}
        assert counter.get(cid).impressions == len(mine)
        assert counter.get(cid).clicks == len(mine & clicked)
