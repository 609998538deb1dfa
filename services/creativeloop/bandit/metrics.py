"""Prometheus metrics of the bandit stream, next to the kit's per-RPC metrics.

Records are counted in the kit's `creativeloop_events_total` (the same series every consumer
reports) when they are read, with outcome `ok`, `held` (a click before its impression),
`duplicate` or `dead_lettered` (invalid, or a click outside the attribution window). Valid clicks
that end in `ad.clicks.dlq` are also counted by reason in `creativeloop_bandit_clicks_unattributed_total`
(`no_impression`: held until the window passed; `outside_window`: a late click).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from creativeloop.kit.consumer import EVENTS

__all__ = [
    "CHECKPOINT_BYTES",
    "CLICKS_HELD",
    "CLICKS_UNATTRIBUTED",
    "EVENTS",
    "FLUSH_SECONDS",
    "OUTCOMES_REPLAYED",
    "RECOVERY_SECONDS",
    "SNAPSHOTS_PUBLISHED",
    "STATE_SIZE",
]

OUTCOMES_REPLAYED = Counter(
    "creativeloop_bandit_outcomes_replayed_total",
    "Outcome batches received again (sent again by a recovered partition) and ignored: already applied.",
)
CHECKPOINT_BYTES = Counter(
    "creativeloop_bandit_checkpoint_bytes_total",
    "Bytes of state changes written to the checkpoint topic.",
)
FLUSH_SECONDS = Histogram(
    "creativeloop_bandit_flush_seconds",
    "Time to flush one partition: dead letters, checkpoint, outcome batches, publications.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RECOVERY_SECONDS = Histogram(
    "creativeloop_bandit_recovery_seconds",
    "Time to fence, read back and seek the partitions of one assignment.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
STATE_SIZE = Gauge(
    "creativeloop_bandit_state_size",
    "State held by this worker, by kind (impressions, held_clicks, creatives, users, user_impressions).",
    ["kind"],
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
