"""Decoding, validation and the topic registry."""

from __future__ import annotations

import pytest

from creativeloop.kit.codec import InvalidEvent, decode, encode
from creativeloop.kit.topics import AD_IMPRESSIONS, ALL_TOPICS, PRODUCT_CHANGES, by_name
from creativeloop.v1 import common_pb2, events_pb2


def test_round_trip() -> None:
    event = events_pb2.ProductChanged(product=common_pb2.Product(product_id="p1", title="Knit top"))
    assert decode(events_pb2.ProductChanged, encode(event)) == event


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty record value"),
        (b"", "empty record value"),
        (b"\xff\xfe\x00garbage", "undecodable creativeloop.v1.ProductChanged"),
        (
            events_pb2.ProductChanged().SerializeToString() + b"\x0a\x00",
            "missing product.product_id",
        ),
        (
            events_pb2.ProductChanged(product=common_pb2.Product(product_id="p1")).SerializeToString(),
            "empty product.title",
        ),
    ],
)
def test_bad_records_raise_with_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(events_pb2.ProductChanged, value)


def test_deleted_product_needs_no_title() -> None:
    event = events_pb2.ProductChanged(product=common_pb2.Product(product_id="p1"), deleted=True)
    assert decode(events_pb2.ProductChanged, event.SerializeToString()).deleted


@pytest.mark.parametrize("propensity", [0.0, -0.1, 1.5])
def test_impression_propensity_must_be_a_probability(propensity: float) -> None:
    bad = events_pb2.Impression(impression_id="i", creative_id="c", propensity=propensity)
    with pytest.raises(InvalidEvent, match="propensity"):
        encode(bad)


def test_stats_cannot_have_more_clicks_than_impressions() -> None:
    with pytest.raises(InvalidEvent, match="more clicks"):
        encode(events_pb2.BanditStats(creative_id="c", impressions=1, clicks=2))


def test_registry_is_unique_and_every_source_has_a_dlq() -> None:
    names = [t.name for t in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert by_name("product.changes.dlq").message is events_pb2.DeadLetter
    assert PRODUCT_CHANGES.dlq.name == "product.changes.dlq"
    assert AD_IMPRESSIONS.message is events_pb2.Impression
    with pytest.raises(KeyError):
        by_name("nope")
