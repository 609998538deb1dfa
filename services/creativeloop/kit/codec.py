"""Protobuf (de)serialisation with validation: a record either decodes into a valid event or
raises `InvalidEvent` with a reason that the consumer writes to the topic's dead-letter queue."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.validation import (
    MAX_RECORD_BYTES,
    Invalid,
    check_finite,
    check_id,
    check_map,
    check_price,
    check_probabilities,
    check_probability,
    check_timestamps,
)
from creativeloop.v1 import common_pb2, events_pb2, streams_pb2

M = TypeVar("M", bound=Message)

_CREATIVE_FORMATS = frozenset(common_pb2.CreativeFormat.values())


class InvalidEvent(Invalid):
    """A record that must not be processed; `reason` says why, for the DLQ and the logs."""


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidEvent(reason)


def _media(field: str, media: Any) -> None:
    _require("\x00" not in media.uri, f"{field}.uri contains a NUL character")
    check_id(f"{field}.sha256", media.sha256)
    check_id(f"{field}.mime_type", media.mime_type)


def _validate_product_changed(event: Any) -> None:
    _require(event.HasField("product"), "missing product")
    product = event.product
    check_id("product.product_id", product.product_id, required=True)
    _require(product.version >= 0, "negative product.version")
    if not event.deleted:
        _require(bool(product.title.strip()), "empty product.title")
    if product.HasField("price"):
        check_price("product.price", product.price)
    check_map("product.attributes", product.attributes)
    for media in product.images:
        _media("product.images", media)
    if product.HasField("video"):
        _media("product.video", product.video)


def _validate_tags(field: str, tags: Any) -> None:
    for tag in tags:
        check_probability(f"{field}.confidence", tag.confidence)
        check_probabilities(f"{field}.evidence.confidence", (e.confidence for e in tag.evidence))


def _validate_profile(event: Any) -> None:
    _require(event.HasField("profile"), "missing profile")
    profile = event.profile
    check_id("profile.product_id", profile.product_id, required=True)
    _require(profile.product_version >= 0, "negative profile.product_version")
    if profile.HasField("price"):
        check_price("profile.price", profile.price)
    _validate_tags("profile.tags", profile.tags)
    check_probabilities("profile.signal_confidences", profile.signal_confidences.values())
    for media in (*profile.images, *profile.videos):
        _media("profile.media", media)
    for analysis in profile.image_analyses:
        for name in ("scene_confidence", "product_confidence", "text_area_ratio"):
            check_probability(f"profile.image_analyses.{name}", getattr(analysis, name))
        check_finite("profile.image_analyses.aesthetic_score", analysis.aesthetic_score, minimum=None)
        check_probabilities(
            "profile.image_analyses.ocr.confidence", (line.confidence for line in analysis.ocr)
        )
        _validate_tags("profile.image_analyses.tags", analysis.tags)
        for name, value in analysis.measurements.items():
            check_finite(f"profile.image_analyses.measurements[{name!r}]", value, minimum=None)
        box = analysis.product_box
        for name in ("x", "y", "width", "height"):
            check_finite(f"profile.image_analyses.product_box.{name}", getattr(box, name), minimum=None)


def _validate_creative(event: Any) -> None:
    _require(event.HasField("creative"), "missing creative")
    creative = event.creative
    check_id("creative.creative_id", creative.creative_id, required=True)
    check_id("creative.product_id", creative.product_id, required=True)
    check_id("creative.copy_id", creative.copy_id)
    check_id("creative.template_id", creative.template_id)
    _require(creative.format in _CREATIVE_FORMATS, f"unknown creative.format {creative.format}")
    _require(creative.width >= 0 and creative.height >= 0, "negative creative size")
    _require("\x00" not in creative.asset_uri, "creative.asset_uri contains a NUL character")
    check_map("creative.attributes", creative.attributes)


def _validate_impression(event: Any) -> None:
    check_id("impression_id", event.impression_id, required=True)
    check_id("creative_id", event.creative_id, required=True)
    check_id("user_id", event.user_id)
    check_id("product_id", event.product_id)
    check_id("policy_version", event.policy_version)
    _require(0.0 < event.propensity <= 1.0, f"propensity {event.propensity} outside (0, 1]")
    check_map("context", event.context)
    if event.HasField("apprentice"):
        apprentice = event.apprentice
        check_id("apprentice.policy", apprentice.policy, required=True)
        check_id("apprentice.policy_version", apprentice.policy_version)
        check_id("apprentice.creative_id", apprentice.creative_id)
        check_probability("apprentice.propensity", apprentice.propensity)
        check_probability("apprentice.served_propensity", apprentice.served_propensity)


def _validate_click(event: Any) -> None:
    check_id("impression_id", event.impression_id, required=True)
    check_id("user_id", event.user_id)
    check_id("creative_id", event.creative_id)


def _validate_stats(event: Any) -> None:
    check_id("creative_id", event.creative_id, required=True)
    check_id("context_bucket", event.context_bucket)
    check_finite("impressions", event.impressions)
    check_finite("clicks", event.clicks)
    _require(event.clicks <= event.impressions, "more clicks than impressions")


def _validate_behaviour(event: Any) -> None:
    check_id("user_id", event.user_id, required=True)
    for tally in event.creatives:
        check_id("creatives.creative_id", tally.creative_id, required=True)
        _require(tally.clicks <= tally.impressions, "more clicks than impressions")


def _validate_progress(event: Any) -> None:
    _require(bool(event.stage), "missing stage")
    check_id("product_id", event.product_id, required=True)
    _require(event.version >= 0, "negative version")


def _validate_control(event: Any) -> None:
    _require(bool(event.creative_id), "missing creative_id")
    _require(bool(event.product_id), "missing product_id")
    _require(event.action != events_pb2.CONTROL_ACTION_UNSPECIFIED, "missing action")


def _validate_assignment(event: Any) -> None:
    check_id("serving", event.serving, required=True)
    check_id("replaces_version", event.replaces_version)


_VALIDATORS: dict[type[Message], Callable[[Any], None]] = {
    events_pb2.ProductChanged: _validate_product_changed,
    events_pb2.ContentProfileUpdated: _validate_profile,
    events_pb2.CreativeUpdated: _validate_creative,
    events_pb2.Impression: _validate_impression,
    events_pb2.Click: _validate_click,
    events_pb2.BanditStats: _validate_stats,
    streams_pb2.UserBehaviour: _validate_behaviour,
    events_pb2.StageProgress: _validate_progress,
    events_pb2.CreativeControl: _validate_control,
    events_pb2.PolicyAssignment: _validate_assignment,
}


def validate(event: Message) -> None:
    """Raise `InvalidEvent` unless `event` satisfies its topic contract (`kit.validation` checks)."""
    check = _VALIDATORS.get(type(event))
    try:
        check_timestamps(event)
        if check is not None:
            check(event)
    except InvalidEvent:
        raise
    except Invalid as exc:
        raise InvalidEvent(exc.reason) from None


def decode(message_type: type[M], value: bytes | None) -> M:
    """Parse and validate one record value (at most `MAX_RECORD_BYTES`)."""
    if not value:
        raise InvalidEvent("empty record value")
    if len(value) > MAX_RECORD_BYTES:
        raise InvalidEvent(f"record value of {len(value)} bytes over the {MAX_RECORD_BYTES}-byte cap")
    event = message_type()
    try:
        event.ParseFromString(value)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise InvalidEvent(f"undecodable {message_type.DESCRIPTOR.full_name}: {exc}") from exc
    validate(event)
    return event


def record_key(key: bytes | None) -> str:
    """A record's key as text (None: ""); `InvalidEvent` unless it is short, valid UTF-8."""
    if not key:
        return ""
    if len(key) > DLQ_MAX_KEY_BYTES:
        raise InvalidEvent(f"record key of {len(key)} bytes, over {DLQ_MAX_KEY_BYTES}")
    try:
        return key.decode()
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"record key is not valid UTF-8: {exc.reason} at byte {exc.start}") from None


def encode(event: Message) -> bytes:
    """Validate and serialise: producers never publish what consumers would reject."""
    validate(event)
    return event.SerializeToString(deterministic=True)


#: Dead letters keep at most this much of the rejected value and key (the rest is described by
#: the headers below), so a letter always fits the producer's 1 MiB cap whatever it rejects.
DLQ_MAX_VALUE_BYTES = 64 * 1024
DLQ_MAX_KEY_BYTES = 1024
DLQ_MAX_REASON_CHARS = 2000
#: Most bytes of the rejected record's own headers carried along (more: none are).
DLQ_MAX_HEADER_BYTES = 16 * 1024
#: Headers of every dead letter: the sha256 (hex) and size in bytes of the rejected value, and,
#: when the letter holds only the first `DLQ_MAX_VALUE_BYTES` of it (or a truncated key),
#: ``creativeloop-truncated`` naming what was cut (``value``, ``key`` or ``key,value``).
VALUE_SHA256_HEADER = "creativeloop-value-sha256"
VALUE_BYTES_HEADER = "creativeloop-value-bytes"
TRUNCATED_HEADER = "creativeloop-truncated"


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
    """The DLQ record for one rejected input record: where it came from, its bytes (truncated to
    `DLQ_MAX_VALUE_BYTES`, the key to `DLQ_MAX_KEY_BYTES`) and why."""
    if len(reason) > DLQ_MAX_REASON_CHARS:
        reason = reason[:DLQ_MAX_REASON_CHARS] + "..."
    return events_pb2.DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=(key or b"")[:DLQ_MAX_KEY_BYTES],
        value=(value or b"")[:DLQ_MAX_VALUE_BYTES],
        reason=reason,
        consumer=consumer,
        failed_at=now_timestamp(),
    )


def dead_letter_headers(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
) -> list[tuple[str, bytes]]:
    """The headers of a dead letter: the record's own (when small), the value's hash and size,
    and what `dead_letter` truncated."""
    value = value or b""
    kept = list(headers) if sum(len(n) + len(v) for n, v in headers) <= DLQ_MAX_HEADER_BYTES else []
    kept = [(n, v) for n, v in kept if n not in (VALUE_SHA256_HEADER, VALUE_BYTES_HEADER, TRUNCATED_HEADER)]
    kept += [
        (VALUE_SHA256_HEADER, hashlib.sha256(value).hexdigest().encode()),
        (VALUE_BYTES_HEADER, str(len(value)).encode()),
    ]
    cut = [
        name
        for name, data, cap in (("key", key or b"", DLQ_MAX_KEY_BYTES), ("value", value, DLQ_MAX_VALUE_BYTES))
        if len(data) > cap
    ]
    if cut:
        kept.append((TRUNCATED_HEADER, ",".join(cut).encode()))
    return kept
