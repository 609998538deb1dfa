"""Prometheus metrics of the bandit stream, next to the kit's per-RPC metrics.

Records are counted in the kit's `creativeloop_events_total` (the same series every consumer
reports) when they are read, with outcome `ok`, `held` (a click before its impression),
`duplicate` or `dead_lettered` (invalid, or a click outside the attribution window). Valid clicks
that end in `ad.clicks.dlq` are also counted by reason in `creativeloop_bandit_clicks_unattributed_total`
(`no_impression`: held until the window passed; `outside_window`: a late click).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from creativeloop.kit.consumer import EVENTS

__all__ = ["CLICKS_HELD", "CLICKS_UNATTRIBUTED", "EVENTS", "OUTCOMES_REPLAYED", "SNAPSHOTS_PUBLISHED"]

OUTCOMES_REPLAYED = Counter(
    "creativeloop_bandit_outcomes_replayed_total",
    "Per-creative outcomes read again after a restart and ignored (already counted).",
)
SNAPSHOTS_PUBLISHED = Counter(
    "creativeloop_bandit_snapshots_published_total",
    "BanditStats snapshots published to bandit.stats (per creative and bucket, and per creative).",
)
CLICKS_UNATTRIBUTED = Counter(
    "creativeloop_bandit_clicks_unattributed_total",
    "Valid clicks dead-lettered to ad.clicks.dlq instead of counted, by reason "
    "(no_impression: none arrived within the attribution window; outside_window: a late click).",
    ["reason"],
)
CLICKS_HELD = Gauge(
    "creativeloop_bandit_clicks_held",
    "Clicks held in this worker's partitions, waiting for their impression.",
)
