"""Ranking's context schema: the request features a caller may send, and their types.

A Rank request carries the slot context as strings (`RankRequest.context`: ``placement``,
``device``; the keys bandit.stats buckets are kept per) and typed features
(`RankRequest.features`, a `RequestFeatures`: ``categorical`` strings and ``numeric`` doubles).
`CONTEXT_SCHEMA` lists the keys ranking knows; docs/context-schema.md is the same list for
people. A policy may still learn from a key outside the schema (as a new categorical or numeric
feature): the schema documents, it does not filter. Every key is optional; an absent key means
unknown, e.g. no ``age_band`` or ``gender`` for a visitor without a stable user id.

`request_features` merges the two into one view, typed features first, so a caller that only
fills the old string map still gives a policy its placement and device.

>>> from creativeloop.v1 import common_pb2
>>> typed = common_pb2.RequestFeatures(categorical={"age_band": "25-34"}, numeric={"session_depth": 3.0})
>>> categorical, numeric = request_features({"device": "mobile"}, typed)
>>> sorted(categorical.items()), dict(numeric)
([('age_band', '25-34'), ('device', 'mobile')], {'session_depth': 3.0})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from creativeloop.v1 import common_pb2


@dataclass(frozen=True)
class ContextKey:
    """One request feature a caller may send."""

    name: str
    kind: Literal["categorical", "numeric"]
    description: str
    #: The values ranking expects for a categorical key (others are learned all the same).
    values: tuple[str, ...] = ()


CONTEXT_SCHEMA: dict[str, ContextKey] = {
    key.name: key
    for key in (
        ContextKey("placement", "categorical", "kind of ad slot", ("feed", "search", "detail", "banner")),
        ContextKey("device", "categorical", "device class", ("mobile", "desktop", "tablet")),
        ContextKey("os", "categorical", "operating system", ("android", "ios", "windows", "macos", "other")),
        ContextKey(
            "age_band",
            "categorical",
            "the user's age band (logged-in users)",
            ("18-24", "25-34", "35-44", "45-54", "55+"),
        ),
        ContextKey("gender", "categorical", "the user's declared gender (logged-in users)", ("f", "m", "x")),
        ContextKey(
            "region", "categorical", "coarse region (IP-based)", ("north", "south", "east", "west", "central")
        ),
        ContextKey(
            "daypart", "categorical", "local time of day", ("night", "morning", "afternoon", "evening")
        ),
        ContextKey("session_depth", "numeric", "pages viewed in this session so far (>= 0)"),
        ContextKey("session_minutes", "numeric", "minutes since the session started (>= 0)"),
        ContextKey("recent_clicks", "numeric", "the user's ad clicks in the last 7 days (>= 0)"),
        ContextKey("price_sensitivity", "numeric", "the caller's price-sensitivity score (about -3..3)"),
        ContextKey("hour", "numeric", "local hour of the day, 0..24"),
    )
}


def request_features(
    context: Mapping[str, str] | None, features: common_pb2.RequestFeatures | None
) -> tuple[dict[str, str], dict[str, float]]:
    """(categorical, numeric) features of one request: `features` plus `context`'s string entries.

    A key in both keeps the typed value. Empty strings and non-finite numbers count as absent.
    """
    categorical: dict[str, str] = {k: v for k, v in (context or {}).items() if v}
    numeric: dict[str, float] = {}
    if features is not None:
        categorical.update((k, v) for k, v in features.categorical.items() if v)
        numeric.update((k, v) for k, v in features.numeric.items() if v == v and abs(v) != float("inf"))
    return categorical, numeric
