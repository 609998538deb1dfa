"""The attribution job's join, without a broker: the window, duplicates, late and early clicks,
lifecycle state records, unknown creatives and the bound on held impressions."""

from __future__ import annotations

from creativeloop.attribution.job import AttributionJob, lift_key
from creativeloop.attribution.settings import AttributionSettings
from creativeloop.kit.codec import encode
from creativeloop.kit.settings import CommonSettings
from creativeloop.v1 import common_pb2, events_pb2

T0 = 1_800_000_000.0
WINDOW = 60.0


def job(**overrides: float) -> AttributionJob:
    settings = AttributionSettings(
        attribution_window_s=WINDOW,
        settle_grace_s=1.0,
        common=CommonSettings(bootstrap_servers="127.0.0.1:1"),
        **overrides,  # type: ignore[arg-type]
    )
    j = AttributionJob(settings)
    for cid, colour in (("c-red", "red"), ("c-blue", "blue")):
        creative = common_pb2.Creative(creative_id=cid, product_id="p", elements={"colour": colour})
        j.read_creative(cid, encode(events_pb2.CreativeUpdated(creative=creative)))
    return j


def impression(iid: str, creative_id: str, at: float, propensity: float = 0.5) -> bytes:
    event = events_pb2.Impression(
        impression_id=iid, user_id="u", product_id="p", creative_id=creative_id, propensity=propensity
    )
    event.shown_at.FromNanoseconds(int(at * 1e9))
    event.context["placement"] = "feed"
    return encode(event)


def click(iid: str, at: float) -> bytes:
    event = events_pb2.Click(impression_id=iid, user_id="u", creative_id="c")
    event.clicked_at.FromNanoseconds(int(at * 1e9))
    return encode(event)


async def test_a_click_counts_within_the_window_only_and_once() -> None:
    j = job()
    j.read_click(click("i1", T0 + 5), T0)  # read before its impression
    j.read_impression(impression("i1", "c-red", T0), T0)
    j.read_impression(impression("i1", "c-red", T0), T0)  # a duplicate
    j.read_impression(impression("i2", "c-blue", T0), T0)
    j.read_click(click("i2", T0 + WINDOW + 5), T0)  # after the window
    j.settle(T0 + WINDOW)
    assert len(j.pending) == 2  # not yet: window + grace
    j.settle(T0 + WINDOW + 1)
    assert not j.pending and j.counts["settled"] == 2 and j.counts["duplicate"] == 1
    red = j.estimator.estimate("colour", "red")
    assert (red.ctr_with, red.ctr_without, red.lift) == (1.0, 0.0, 1.0)
    assert red.impressions_with == 1 and red.products == 1
    j.read_impression(impression("i1", "c-red", T0), T0 + WINDOW + 2)  # still remembered
    j.read_click(click("i2", T0 + 10), T0 + WINDOW + 2)  # its impression is settled: late
    assert j.counts["duplicate"] == 2 and j.counts["late_click"] == 1 and not j.pending
    published = dict(j.changed_estimates())
    assert set(published) == {
        lift_key("colour", v, b) for v in ("red", "blue") for b in ("", "placement=feed")
    }
    assert published[lift_key("colour", "red", "")].lift == 1.0
    assert j.changed_estimates() == []  # nothing changed since


async def test_an_impression_read_late_waits_its_grace_after_it_was_read() -> None:
    j = job()
    j.read_impression(impression("i1", "c-red", T0), T0 + 3600)  # replayed an hour later
    j.settle(T0 + 3600.5)
    assert "i1" in j.pending
    j.read_click(click("i1", T0 + 1), T0 + 3600.6)
    j.settle(T0 + 3601)
    assert j.estimator.estimate("colour", "red", "placement=feed").impressions_with == 1
    assert j.estimator.cells[("", "colour")]["p"]["red"].clicks == 1


async def test_state_records_keep_the_elements_and_unknown_creatives_are_counted_apart() -> None:
    j = job()
    retired = events_pb2.CreativeUpdated(
        creative=common_pb2.Creative(creative_id="c-red", product_id="p"), retired=True
    )
    j.read_creative("c-red", encode(retired))
    j.read_creative("c-blue", None)  # a tombstone: gone
    j.read_impression(impression("i1", "c-red", T0), T0)
    j.read_impression(impression("i2", "c-blue", T0), T0)
    j.settle(T0 + WINDOW + 1)
    assert j.counts["settled"] == 1 and j.counts["unknown_creative"] == 1
    assert j.estimator.naive[("", "colour", "red")] == (1, 0)


async def test_held_impressions_are_bounded() -> None:
    j = job(max_pending=3)
    for i in range(5):
        j.read_impression(impression(f"i{i}", "c-red", T0 + i), T0 + i)
    assert list(j.pending) == ["i2", "i3", "i4"]
    assert j.counts["settled_early"] == 2 and j.counts["settled"] == 2
    for i in range(5, 12):
        j.read_impression(impression(f"i{i}", "c-red", T0 + i), T0 + i)
        j.read_click(click(f"x{i}", T0 + i), T0 + i)  # clicks of impressions never seen
    assert len(j.settled) == 6 and len(j.clicks) == 3 and len(j.pending) == 3
