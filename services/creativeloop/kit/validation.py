"""Domain checks shared by every event and request: the one place that says what a sane value is.

Each check raises `Invalid` (a `ValueError`) with a reason naming the field. Stream code turns it
into a dead letter (`creativeloop.kit.codec.InvalidEvent` is a subclass, raised by the topic
validators in `codec`); gRPC servicers answer INVALID_ARGUMENT with the reason.

>>> check_id("user_id", "u" * 300)
Traceback (most recent call last):
...
creativeloop.kit.validation.Invalid: user_id is 300 bytes, over 256
>>> check_probability("confidence", float("nan"))
Traceback (most recent call last):
...
creativeloop.kit.validation.Invalid: confidence nan is not a finite number in [0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

#: Longest id (product, creative, impression, user, copy...) accepted, in UTF-8 bytes.
MAX_ID_BYTES = 256
#: Most entries of a free-form string map (impression context, attributes) and their longest key/value.
MAX_MAP_ENTRIES = 64
MAX_MAP_VALUE_BYTES = 1024
#: Largest record value a consumer takes (the producers' default cap, `max.request.size`, 1 MiB):
#: a bigger one is dead-lettered unread, with a truncated copy (`kit.codec.dead_letter_record`).
MAX_RECORD_BYTES = 1024 * 1024
#: protobuf Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
TIMESTAMP_MIN_S = -62_135_596_800
TIMESTAMP_MAX_S = 253_402_300_799


class Invalid(ValueError):
    """A value that must not be processed; `reason` says which field and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise Invalid(reason)


def check_id(field: str, value: str, *, required: bool = False) -> None:
    """At most `MAX_ID_BYTES` bytes, no NUL; non-empty when `required`."""
    if required:
        require(bool(value), f"missing {field}")
    size = len(value.encode())
    require(size <= MAX_ID_BYTES, f"{field} is {size} bytes, over {MAX_ID_BYTES}")
    require("\x00" not in value, f"{field} contains a NUL character")


def check_finite(field: str, value: float, *, minimum: float | None = 0.0) -> None:
    """A finite number, at least `minimum` (None: any)."""
    ok = math.isfinite(value) and (minimum is None or value >= minimum)
    bound = "" if minimum is None else f" >= {minimum:g}"
    require(ok, f"{field} {value!r} is not a finite number{bound}")


def check_probability(field: str, value: float) -> None:
    """A finite number in [0, 1] (confidences, scores, ratios)."""
    require(
        math.isfinite(value) and 0.0 <= value <= 1.0, f"{field} {value!r} is not a finite number in [0, 1]"
    )


def check_probabilities(field: str, values: Iterable[float]) -> None:
    for value in values:
        check_probability(field, value)


def check_map(field: str, entries: Mapping[str, str]) -> None:
    """A free-form string map: bounded entry count and key/value sizes."""
    require(len(entries) <= MAX_MAP_ENTRIES, f"{field} has {len(entries)} entries, over {MAX_MAP_ENTRIES}")
    for key, value in entries.items():
        check_id(f"{field} key", key)
        size = len(value.encode())
        require(size <= MAX_MAP_VALUE_BYTES, f"{field}[{key!r}] is {size} bytes, over {MAX_MAP_VALUE_BYTES}")


def check_price(field: str, price: Message) -> None:
    """A `common.Price`: non-negative amount, a short currency code."""
    amount = price.amount_micros  # type: ignore[attr-defined]
    currency = price.currency  # type: ignore[attr-defined]
    require(amount >= 0, f"negative {field}.amount_micros {amount}")
    require(
        len(currency) <= 8 and currency.isascii(),
        f"{field}.currency {currency[:16]!r} is not a currency code",
    )


def check_timestamp(field: str, stamp: Timestamp) -> None:
    """Inside protobuf's Timestamp range (years 1-9999), nanos normalised, and not before 1970.

    Out-of-range values parse (the wire format is two integers) but break every conversion
    (``ToDatetime``, ``FromNanoseconds``); no event of this system predates the Unix epoch.
    """
    seconds, nanos = stamp.seconds, stamp.nanos
    require(0 <= nanos < 1_000_000_000, f"{field}.nanos {nanos} outside [0, 1e9)")
    require(TIMESTAMP_MIN_S <= seconds <= TIMESTAMP_MAX_S, f"{field} {seconds}s outside Timestamp's range")
    require(seconds >= 0, f"{field} {seconds}s is before 1970")


def check_timestamps(message: Message) -> None:
    """`check_timestamp` on every Timestamp field set on `message` itself (not nested messages)."""
    for descriptor, value in message.ListFields():
        if isinstance(value, Timestamp):
            check_timestamp(descriptor.name, value)
