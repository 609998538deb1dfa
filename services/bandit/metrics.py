"""Prometheus metrics of the bandit stream, next to the kit's per-RPC metrics.

Records are counted in the kit's `creativeloop_events_total` (the same series every consumer
reports), with outcome `ok`, `held` (click before its impression), `duplicate` or `dead_lettered`.
"""

from __future__ import annotations

from creativeloop.kit.consumer import EVENTS
from prometheus_client import Counter

__all__ = ["EVENTS", "OUTCOMES_REPLAYED", "SNAPSHOTS_PUBLISHED"]

OUTCOMES_REPLAYED = Counter(
    "creativeloop_bandit_outcomes_replayed_total",
    "Per-creative outcomes read again after a restart and ignored (already counted).",
)
SNAPSHOTS_PUBLISHED = Counter(
    "creativeloop_bandit_snapshots_published_total",
    "BanditStats snapshots published to bandit.stats.",
)
