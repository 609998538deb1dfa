"""Protobuf (de)serialisation with validation: a record either decodes into a valid event or
raises `InvalidEvent` with a reason that the consumer writes to the topic's dead-letter queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from creativeloop.kit.timeutil import now_timestamp
from creativeloop.v1 import events_pb2, streams_pb2

M = TypeVar("M", bound=Message)


class InvalidEvent(ValueError):
    """A record that must not be processed; `reason` says why, for the DLQ and the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidEvent(reason)


def _validate_product_changed(event: Any) -> None:
    _require(event.HasField("product"), "missing product")
    _require(bool(event.product.product_id), "missing product.product_id")
    _require(event.product.version >= 0, "negative product.version")
    if not event.deleted:
        _require(bool(event.product.title.strip()), "empty product.title")


def _validate_profile(event: Any) -> None:
    _require(event.HasField("profile"), "missing profile")
    _require(bool(event.profile.product_id), "missing profile.product_id")


def _validate_creative(event: Any) -> None:
    _require(event.HasField("creative"), "missing creative")
    _require(bool(event.creative.creative_id), "missing creative.creative_id")
    _require(bool(event.creative.product_id), "missing creative.product_id")


def _validate_impression(event: Any) -> None:
    _require(bool(event.impression_id), "missing impression_id")
    _require(bool(event.creative_id), "missing creative_id")
    _require(0.0 < event.propensity <= 1.0, f"propensity {event.propensity} outside (0, 1]")


def _validate_click(event: Any) -> None:
    _require(bool(event.impression_id), "missing impression_id")


def _validate_stats(event: Any) -> None:
    _require(bool(event.creative_id), "missing creative_id")
    _require(event.impressions >= 0 and event.clicks >= 0, "negative counts")
    _require(event.clicks <= event.impressions, "more clicks than impressions")


def _validate_behaviour(event: Any) -> None:
    _require(bool(event.user_id), "missing user_id")
    for tally in event.creatives:
        _require(bool(tally.creative_id), "missing creatives.creative_id")
        _require(tally.clicks <= tally.impressions, "more clicks than impressions")


def _validate_progress(event: Any) -> None:
    _require(bool(event.stage), "missing stage")
    _require(bool(event.product_id), "missing product_id")
    _require(event.version >= 0, "negative version")


_VALIDATORS: dict[type[Message], Callable[[Any], None]] = {
    events_pb2.ProductChanged: _validate_product_changed,
    events_pb2.ContentProfileUpdated: _validate_profile,
    events_pb2.CreativeUpdated: _validate_creative,
    events_pb2.Impression: _validate_impression,
    events_pb2.Click: _validate_click,
    events_pb2.BanditStats: _validate_stats,
    streams_pb2.UserBehaviour: _validate_behaviour,
    events_pb2.StageProgress: _validate_progress,
}


def validate(event: Message) -> None:
    """Raise `InvalidEvent` unless `event` satisfies its topic contract."""
    check = _VALIDATORS.get(type(event))
    if check is not None:
        check(event)


def decode(message_type: type[M], value: bytes | None) -> M:
    """Parse and validate one record value."""
    if not value:
        raise InvalidEvent("empty record value")
    event = message_type()
    try:
        event.ParseFromString(value)
    except DecodeError as exc:
        raise InvalidEvent(f"undecodable {message_type.DESCRIPTOR.full_name}: {exc}") from exc
    validate(event)
    return event


def encode(event: Message) -> bytes:
    """Validate and serialise: producers never publish what consumers would reject."""
    validate(event)
    return event.SerializeToString(deterministic=True)


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    consumer: str,
) -> events_pb2.DeadLetter:
    """The DLQ record for one rejected input record: where it came from, its bytes and why."""
    return events_pb2.DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key or b"",
        value=value or b"",
        reason=reason,
        consumer=consumer,
        failed_at=now_timestamp(),
    )
