"""Poison records: oversized values, bad keys, out-of-range and implausible times, absurd values.

Every consumed topic's record goes through `kit.codec.decode` (and `record_key`) in the stream
worker, the latest-state feeds and the bandit; what these reject is dead-lettered (or, in a
feed, skipped and counted), never raised out of the consumer loop. The property tests feed
random and garbled bytes to the same pure functions the consumers call.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creativeloop.bandit.partition import PartitionState, Rules
from creativeloop.bandit.stats import LetterKind, Verdict
from creativeloop.kit.codec import (
    DLQ_MAX_VALUE_BYTES,
    TRUNCATED_HEADER,
    VALUE_BYTES_HEADER,
    VALUE_SHA256_HEADER,
    InvalidEvent,
    dead_letter,
    dead_letter_headers,
    decode,
    encode,
    record_key,
)
from creativeloop.kit.feed import SKIPPED, TopicFeed
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import (
    AD_CLICKS,
    AD_IMPRESSIONS,
    BANDIT_STATS,
    CONTENT_PROFILES,
    CREATIVES,
    PRODUCT_CHANGES,
    SOURCE_TOPICS,
    USER_BEHAVIOUR,
    Topic,
)
from creativeloop.kit.validation import MAX_RECORD_BYTES, TIMESTAMP_MAX_S
from creativeloop.v1 import common_pb2, events_pb2, streams_pb2

NS = 1_000_000_000
NOW_S = 1_800_000_000  # the records' Kafka timestamp in the bandit tests (2027-01-15T08:00:00Z)
FAST = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def stamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


#: One valid event per consumed topic: the seeds the garbling tests start from.
VALID: dict[str, Message] = {
    PRODUCT_CHANGES.name: events_pb2.ProductChanged(
        product=common_pb2.Product(
            product_id="p1",
            version=3,
            title="Knit top",
            price=common_pb2.Price(currency="EUR", amount_micros=19_990_000),
            images=[common_pb2.Media(uri="file://p1.png")],
            attributes={"colour": "red"},
        ),
        changed_at=stamp(NOW_S),
    ),
    CONTENT_PROFILES.name: events_pb2.ContentProfileUpdated(
        profile=common_pb2.ContentProfile(
            product_id="p1",
            product_version=3,
            tags=[common_pb2.Tag(text="knit", confidence=0.8)],
            signal_confidences={"ocr": 0.5},
        ),
        updated_at=stamp(NOW_S),
    ),
    CREATIVES.name: events_pb2.CreativeUpdated(
        creative=common_pb2.Creative(
            creative_id="c1", product_id="p1", format=common_pb2.CREATIVE_FORMAT_IMAGE, width=600, height=600
        ),
        updated_at=stamp(NOW_S),
    ),
    AD_IMPRESSIONS.name: events_pb2.Impression(
        impression_id="i1", user_id="u1", creative_id="c1", propensity=0.5, shown_at=stamp(NOW_S)
    ),
    AD_CLICKS.name: events_pb2.Click(impression_id="i1", creative_id="c1", clicked_at=stamp(NOW_S + 5)),
    BANDIT_STATS.name: events_pb2.BanditStats(creative_id="c1", impressions=10.5, clicks=1.25),
    USER_BEHAVIOUR.name: streams_pb2.UserBehaviour(
        user_id="u1", creatives=[streams_pb2.CreativeTally(creative_id="c1", impressions=3, clicks=1)]
    ),
}
TOPICS = {topic.name: topic for topic in SOURCE_TOPICS}


def test_every_consumed_topic_has_a_valid_seed() -> None:
    assert set(VALID) == set(TOPICS)
    for name, event in VALID.items():
        assert decode(TOPICS[name].message, encode(event)) == event


# -- oversized records ------------------------------------------------------------------------------


def test_an_oversized_record_is_rejected_and_its_dead_letter_fits_the_producer_cap() -> None:
    huge = events_pb2.ProductChanged.FromString(VALID[PRODUCT_CHANGES.name].SerializeToString())
    huge.product.title = "x" * (MAX_RECORD_BYTES + 10)
    value = huge.SerializeToString()
    with pytest.raises(InvalidEvent, match=f"record value of {len(value)} bytes over the {MAX_RECORD_BYTES}"):
        decode(events_pb2.ProductChanged, value)
    key = b"k" * 5000
    letter = dead_letter(
        topic="product.changes",
        partition=0,
        offset=7,
        key=key,
        value=value,
        reason="r" * 10_000,
        consumer="t",
    )
    assert letter.value == value[:DLQ_MAX_VALUE_BYTES]
    assert len(letter.key) == 1024 and len(letter.reason) < 2100
    assert len(letter.SerializeToString()) < 100_000
    headers = dict(dead_letter_headers(key, value, [("creativeloop-replay-of", b"x.dlq/0/1")]))
    assert headers[VALUE_SHA256_HEADER] == hashlib.sha256(value).hexdigest().encode()
    assert headers[VALUE_BYTES_HEADER] == str(len(value)).encode()
    assert headers[TRUNCATED_HEADER] == b"key,value"
    assert headers["creativeloop-replay-of"] == b"x.dlq/0/1"


def test_a_small_record_is_dead_lettered_whole() -> None:
    headers = dict(dead_letter_headers(b"k", b"abc"))
    assert TRUNCATED_HEADER not in headers
    assert headers[VALUE_BYTES_HEADER] == b"3"
    assert (
        dead_letter(topic="t", partition=0, offset=0, key=b"k", value=b"abc", reason="r", consumer="c").value
        == b"abc"
    )


# -- keys -------------------------------------------------------------------------------------------


def test_keys_must_be_utf8() -> None:
    assert record_key(None) == "" and record_key("é".encode()) == "é"
    with pytest.raises(InvalidEvent, match="not valid UTF-8"):
        record_key(b"\xff\xfeabc")
    with pytest.raises(InvalidEvent, match="record key of 2000 bytes"):
        record_key(b"k" * 2000)


def test_a_feed_skips_and_counts_bad_records_and_failing_applies_and_keeps_going() -> None:
    applied: list[str] = []

    def apply(key: str, event: events_pb2.CreativeUpdated) -> None:
        if event.creative.creative_id == "boom":
            raise KeyError("a bug in apply")
        applied.append(key)

    feed: TopicFeed[events_pb2.CreativeUpdated] = TopicFeed(CommonSettings(), CREATIVES, apply)
    good = encode(VALID[CREATIVES.name])
    boom = events_pb2.CreativeUpdated.FromString(good)
    boom.creative.creative_id = "boom"
    invalid_before = SKIPPED.labels(CREATIVES.name, "invalid")._value.get()
    failed_before = SKIPPED.labels(CREATIVES.name, "apply_failed")._value.get()
    records = [
        (b"\xff\xfe", good),  # a valid creative under a key that is not UTF-8
        (b"c1", b"\x00" * (MAX_RECORD_BYTES + 1)),  # oversized
        (b"boom", encode(boom)),  # apply raises
        (b"c1", good),
    ]
    taken = [
        feed.take(consumer_record(CREATIVES.name, n, key, value, 0)) for n, (key, value) in enumerate(records)
    ]
    assert taken == [False, False, False, True]
    assert applied == ["c1"]
    assert SKIPPED.labels(CREATIVES.name, "invalid")._value.get() == invalid_before + 2
    assert SKIPPED.labels(CREATIVES.name, "apply_failed")._value.get() == failed_before + 1


# -- times ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [AD_IMPRESSIONS.name, AD_CLICKS.name, CREATIVES.name, BANDIT_STATS.name])
@pytest.mark.parametrize(
    ("seconds", "nanos", "reason"),
    [
        (TIMESTAMP_MAX_S + 1, 0, "outside Timestamp's range"),
        (2**62, 0, "outside Timestamp's range"),
        (-62_135_596_800, 0, "before 1970"),  # year 1
        (NOW_S, 1_000_000_000, "nanos"),
        (NOW_S, -1, "nanos"),
    ],
)
def test_timestamps_outside_the_range_are_invalid(name: str, seconds: int, nanos: int, reason: str) -> None:
    event = type(VALID[name])()
    event.CopyFrom(VALID[name])
    field = next(f.name for f in event.DESCRIPTOR.fields if f.message_type is Timestamp.DESCRIPTOR)
    getattr(event, field).seconds = seconds
    getattr(event, field).nanos = nanos
    with pytest.raises(InvalidEvent, match=reason):
        decode(TOPICS[name].message, event.SerializeToString())


# -- domain values ----------------------------------------------------------------------------------


def _changed(name: str, change: Any) -> bytes:
    event = type(VALID[name])()
    event.CopyFrom(VALID[name])
    change(event)
    return event.SerializeToString()


@pytest.mark.parametrize(
    ("name", "change", "reason"),
    [
        (
            PRODUCT_CHANGES.name,
            lambda e: setattr(e.product.price, "amount_micros", -1),
            "negative product.price",
        ),
        (PRODUCT_CHANGES.name, lambda e: setattr(e.product, "product_id", "p" * 300), "over 256"),
        (PRODUCT_CHANGES.name, lambda e: setattr(e.product.images[0], "uri", "file://a\x00b"), "NUL"),
        (CONTENT_PROFILES.name, lambda e: setattr(e.profile.tags[0], "confidence", math.nan), r"\[0, 1\]"),
        (CONTENT_PROFILES.name, lambda e: setattr(e.profile.tags[0], "confidence", 1.5), r"\[0, 1\]"),
        (CONTENT_PROFILES.name, lambda e: e.profile.signal_confidences.update({"x": math.inf}), r"\[0, 1\]"),
        (CREATIVES.name, lambda e: setattr(e.creative, "format", 77), "unknown creative.format 77"),
        (CREATIVES.name, lambda e: setattr(e.creative, "asset_uri", "\x00"), "NUL"),
        (AD_IMPRESSIONS.name, lambda e: setattr(e, "user_id", "u" * 600_000), "user_id is 600000 bytes"),
        (AD_IMPRESSIONS.name, lambda e: setattr(e, "propensity", math.nan), "propensity"),
        (AD_IMPRESSIONS.name, lambda e: e.context.update({f"k{n}": "v" for n in range(100)}), "entries"),
        (AD_CLICKS.name, lambda e: setattr(e, "impression_id", "i" * 257), "over 256"),
        (BANDIT_STATS.name, lambda e: setattr(e, "impressions", math.inf), "finite"),
        (BANDIT_STATS.name, lambda e: setattr(e, "clicks", math.nan), "finite"),
        (BANDIT_STATS.name, lambda e: setattr(e, "impressions", -1.0), "finite"),
        (USER_BEHAVIOUR.name, lambda e: setattr(e, "user_id", ""), "missing user_id"),
    ],
)
def test_absurd_values_are_invalid(name: str, change: Any, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(TOPICS[name].message, _changed(name, change))


# -- the bandit: out-of-range and implausible event times ------------------------------------------


def consumer_record(topic: str, offset: int, key: bytes | None, value: bytes | None, at_s: float) -> Any:
    return ConsumerRecord(topic, 0, offset, int(at_s * 1000), 0, key, value, None, 0, 0, ())


def bandit_partition() -> PartitionState:
    rules = Rules(
        partitions=1,
        window_s=60.0,
        horizon_s=120.0,
        max_clock_lead_s=5.0,
        half_life_s=None,
        user_history=20,
        max_users=1000,
        flush_interval_s=0.1,
        refresh_s=1.0,
        max_event_lead_s=86400.0,
        max_event_age_s=7 * 86400.0,
    )
    return PartitionState(0, rules)


def test_the_bandit_dead_letters_bad_times_and_counts_the_next_valid_impression() -> None:
    state = bandit_partition()

    def impression(iid: str, seconds: int) -> bytes:
        return events_pb2.Impression(
            impression_id=iid, creative_id="c1", propensity=0.5, shown_at=stamp(seconds)
        ).SerializeToString()

    records = [
        consumer_record(AD_IMPRESSIONS.name, 0, b"i0", impression("i0", TIMESTAMP_MAX_S + 10), NOW_S),
        consumer_record(
            AD_IMPRESSIONS.name, 1, b"i1", impression("i1", TIMESTAMP_MAX_S), NOW_S
        ),  # 9999-12-31
        consumer_record(AD_IMPRESSIONS.name, 2, b"i2", impression("i2", NOW_S - 30 * 86400), NOW_S),
        consumer_record(AD_IMPRESSIONS.name, 3, b"\xff", impression("i3", NOW_S), NOW_S),
        consumer_record(AD_IMPRESSIONS.name, 4, b"i4", b"\x00" * (MAX_RECORD_BYTES + 1), NOW_S),
        consumer_record(AD_IMPRESSIONS.name, 5, b"i5", impression("i5", NOW_S), NOW_S),
    ]
    state.read_impressions(records)
    click = events_pb2.Click(impression_id="i5", clicked_at=stamp(TIMESTAMP_MAX_S)).SerializeToString()
    state.read_clicks([consumer_record(AD_CLICKS.name, 0, b"i5", click, NOW_S)])
    letters = state.take_letters()
    assert [(letter.record.offset, letter.kind) for letter in letters] == [
        (0, LetterKind.INVALID),
        (1, LetterKind.IMPLAUSIBLE_TIME),
        (2, LetterKind.IMPLAUSIBLE_TIME),
        (3, LetterKind.INVALID),
        (4, LetterKind.INVALID),
        (0, LetterKind.IMPLAUSIBLE_TIME),
    ]
    assert "outside Timestamp's range" in letters[0].reason
    assert "9999-12-31T23:59:59Z is more than 86400s after" in letters[1].reason
    assert "more than 604800s before" in letters[2].reason
    assert "not the impression_id" in letters[3].reason
    assert "over the 1048576-byte cap" in letters[4].reason
    assert state.verdicts[AD_IMPRESSIONS.name, Verdict.COUNTED.value] == 1
    assert state.verdicts[AD_IMPRESSIONS.name, Verdict.DEAD_LETTERED.value] == 5
    # The valid impression was counted, at its own time: nothing from 9999 reached the counts.
    outcomes = state.ledger.take_changes()
    assert [(iid, change.shown_at_ns) for iid, change, _ in outcomes] == [("i5", NOW_S * NS)]


# -- properties: random and garbled bytes -----------------------------------------------------------


def _garbled(name: str) -> st.SearchStrategy[bytes]:
    seed = VALID[name].SerializeToString()

    def mutate(edits: list[tuple[int, int]]) -> bytes:
        data = bytearray(seed)
        for position, byte in edits:
            if data:
                data[position % len(data)] = byte
        return bytes(data)

    return st.one_of(
        st.binary(max_size=512),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8).map(mutate),
        st.binary(max_size=64).map(lambda tail: seed + tail),
    )


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_random_and_garbled_bytes_decode_or_give_a_reason(name: str) -> None:
    topic: Topic = TOPICS[name]
    outcomes = {"valid": 0, "invalid": 0}

    @FAST
    @given(value=_garbled(name), key=st.binary(max_size=8))
    def check(value: bytes, key: bytes) -> None:
        try:
            record_key(key)
            event = decode(topic.message, value)
        except InvalidEvent as exc:
            assert exc.reason
            outcomes["invalid"] += 1
        else:
            assert isinstance(event, topic.message)
            outcomes["valid"] += 1

    check()
    print(f"\nrecords {name}: {outcomes}")
    assert outcomes["invalid"] > 0


@FAST
@given(
    values=st.lists(
        st.one_of(_garbled(AD_IMPRESSIONS.name), _garbled(AD_CLICKS.name)), min_size=1, max_size=20
    ),
    clicks=st.booleans(),
)
def test_the_bandit_reads_any_bytes_without_raising(values: list[bytes], clicks: bool) -> None:
    state = bandit_partition()
    topic = AD_CLICKS.name if clicks else AD_IMPRESSIONS.name
    records = [consumer_record(topic, n, b"i1", value, NOW_S) for n, value in enumerate(values)]
    (state.read_clicks if clicks else state.read_impressions)(records)
    assert sum(state.verdicts.values()) == len(values)
    assert all(letter.reason for letter in state.take_letters())


@FAST
@given(value=st.one_of(st.binary(max_size=256), st.integers(0, 2**62).map(lambda s: _letter_at(s))))
def test_a_dlq_record_is_a_letter_or_a_value_error(value: bytes) -> None:
    from creativeloop.kit.dlq import letter_from_record

    record = consumer_record("product.changes.dlq", 0, b"k", value, NOW_S)
    try:
        letter = letter_from_record(record)
    except ValueError as exc:
        assert "product.changes.dlq@0" in str(exc)
    else:
        assert letter.dlq_topic == "product.changes.dlq"


def _letter_at(seconds: int) -> bytes:
    letter = events_pb2.DeadLetter(source_topic="product.changes", reason="r")
    letter.failed_at.seconds = seconds
    return letter.SerializeToString()
