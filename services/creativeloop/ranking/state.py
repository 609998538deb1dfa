"""Ranking's live views of the `creatives` and `bandit.stats` topics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from creativeloop.kit.context import ALL_CONTEXTS
from creativeloop.kit.lifecycle import LIVE, REJECTED, creative_state
from creativeloop.v1 import common_pb2, events_pb2


class CreativeCatalogue:
    """Creatives per product from the `creatives` topic: the live ones to serve, and the state of
    the others (paused, retired, rejected; see `creativeloop.kit.lifecycle`).

    A state record carries only the creative's identity, so a creative that leaves LIVE is
    dropped from the candidates and only its state is kept; one that comes back LIVE is
    published again in full by its generator.

    People's decisions come from `creative.controls` (`apply_control`, `release`): a rejected
    creative is never a candidate (and reads as REJECTED), a pinned one is listed by `pinned`.
    """

    def __init__(self) -> None:
        self._by_product: dict[str, dict[str, common_pb2.Creative]] = defaultdict(dict)
        self._inactive: dict[str, dict[str, int]] = defaultdict(dict)
        self._controls: dict[str, int] = {}

    def apply(self, _key: str, event: events_pb2.CreativeUpdated) -> None:
        creative = event.creative
        state = creative_state(event)
        live = self._by_product[creative.product_id]
        inactive = self._inactive[creative.product_id]
        if state == LIVE:
            live[creative.creative_id] = creative
            inactive.pop(creative.creative_id, None)
        else:
            live.pop(creative.creative_id, None)
            inactive[creative.creative_id] = state

    def apply_control(self, _key: str, event: events_pb2.CreativeControl) -> None:
        """A person's decision about a creative (the latest one counts)."""
        self._controls[event.creative_id] = event.action

    def release(self, key: str) -> None:
        """A `creative.controls` tombstone: the creative is back to the lifecycle and the bandit."""
        self._controls.pop(key, None)

    def _rejected(self, creative_id: str) -> bool:
        return self._controls.get(creative_id) == events_pb2.CONTROL_ACTION_REJECT

    def candidates(self, product_id: str, creative_format: int) -> list[common_pb2.Creative]:
        """Live, not rejected creatives of `product_id` in `creative_format`, in a stable order."""
        live = self._by_product.get(product_id, {})
        return [
            live[cid]
            for cid in sorted(live)
            if live[cid].format == creative_format and not self._rejected(cid)
        ]

    def pinned(self, candidates: Sequence[common_pb2.Creative]) -> list[common_pb2.Creative]:
        """The pinned ones among `candidates`."""
        return [c for c in candidates if self._controls.get(c.creative_id) == events_pb2.CONTROL_ACTION_PIN]

    def published_live(self, creative_id: str, product_id: str) -> bool:
        """Whether the creative is LIVE on `creatives` (whatever people decided about it)."""
        return creative_id in self._by_product.get(product_id, {})

    def inactive(self, product_id: str) -> dict[str, int]:
        """The product's creatives that are not served (any format), with their states."""
        states = dict(self._inactive.get(product_id, {}))
        for cid in self._by_product.get(product_id, {}):
            if self._rejected(cid):
                states[cid] = REJECTED
        return states

    def state(self, creative_id: str, product_id: str) -> int | None:
        """LIVE, another state, or None for a creative the catalogue never saw for the product."""
        if creative_id in self._by_product.get(product_id, {}):
            return REJECTED if self._rejected(creative_id) else LIVE
        return self._inactive.get(product_id, {}).get(creative_id)

    def __len__(self) -> int:
        """Live creatives (rejected ones included)."""
        return sum(len(live) for live in self._by_product.values())


@dataclass(frozen=True)
class ArmStats:
    impressions: float = 0.0
    clicks: float = 0.0


@dataclass(frozen=True)
class ArmCounts:
    """Counts of several creatives for one request, and which bucket each came from."""

    impressions: npt.NDArray[np.float64]
    clicks: npt.NDArray[np.float64]
    #: Per creative: the context bucket its counts are for ("" = all contexts).
    buckets: list[str]


class StatsBoard:
    """Latest impression and click counts per (creative, context bucket), from `bandit.stats`.

    The bandit publishes one record per creative over all contexts (`context_bucket` "") and one
    per (creative, bucket). `counts` uses a creative's counts in the request's bucket once they
    reach `min_bucket_impressions`, else its counts over all contexts; each creative decides
    for itself, so a new creative does not push the others back to the aggregate.
    """

    def __init__(self) -> None:
        self._stats: dict[str, dict[str, ArmStats]] = {}

    def apply(self, _key: str, event: events_pb2.BanditStats) -> None:
        self._stats.setdefault(event.creative_id, {})[event.context_bucket] = ArmStats(
            event.impressions, event.clicks
        )

    def record(self, creative_id: str, bucket: str, clicked: bool) -> None:
        """Count one more impression of `creative_id` (and its click) in `bucket` and over all contexts.

        What the bandit would publish for one joined outcome, without its time decay. Offline
        only (the in-process simulator, off-policy evaluation on logs, through a policy's
        `update`): in serving the bandit stream job owns the impression-click join and the counts,
        and the board follows `bandit.stats`.
        """
        per_bucket = self._stats.setdefault(creative_id, {})
        for b in {ALL_CONTEXTS, bucket}:
            arm = per_bucket.get(b, _EMPTY)
            per_bucket[b] = ArmStats(arm.impressions + 1.0, arm.clicks + float(clicked))

    def get(self, creative_id: str, bucket: str = ALL_CONTEXTS) -> ArmStats:
        return self._stats.get(creative_id, {}).get(bucket, _EMPTY)

    def counts(
        self, creative_ids: Sequence[str], bucket: str = ALL_CONTEXTS, min_bucket_impressions: float = 0.0
    ) -> ArmCounts:
        n = len(creative_ids)
        impressions = np.zeros(n)
        clicks = np.zeros(n)
        used = [ALL_CONTEXTS] * n
        for i, creative_id in enumerate(creative_ids):
            per_bucket = self._stats.get(creative_id)
            if not per_bucket:
                continue
            arm = per_bucket.get(bucket) if bucket else None
            if arm is not None and arm.impressions >= min_bucket_impressions:
                used[i] = bucket
            else:
                arm = per_bucket.get(ALL_CONTEXTS, _EMPTY)
            impressions[i] = arm.impressions
            clicks[i] = arm.clicks
        return ArmCounts(impressions, clicks, used)

    def __len__(self) -> int:
        """Creatives with any statistics."""
        return len(self._stats)


_EMPTY = ArmStats()
