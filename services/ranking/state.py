"""Ranking's live views of the `creatives` and `bandit.stats` topics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from creativeloop.v1 import common_pb2, events_pb2


class CreativeCatalogue:
    """Live creatives per (product, format), from the `creatives` topic."""

    def __init__(self) -> None:
        self._by_product: dict[str, dict[str, common_pb2.Creative]] = defaultdict(dict)

    def apply(self, _key: str, event: events_pb2.CreativeUpdated) -> None:
        creative = event.creative
        live = self._by_product[creative.product_id]
        if event.retired:
            live.pop(creative.creative_id, None)
        else:
            live[creative.creative_id] = creative

    def candidates(self, product_id: str, creative_format: int) -> list[common_pb2.Creative]:
        """Live creatives of `product_id` in `creative_format`, in a stable order."""
        live = self._by_product.get(product_id, {})
        return [live[cid] for cid in sorted(live) if live[cid].format == creative_format]

    def __len__(self) -> int:
        return sum(len(live) for live in self._by_product.values())


@dataclass
class ArmStats:
    impressions: float = 0.0
    clicks: float = 0.0


class StatsBoard:
    """Latest impression and click counts per creative, from `bandit.stats`."""

    def __init__(self) -> None:
        self._stats: dict[str, ArmStats] = {}

    def apply(self, _key: str, event: events_pb2.BanditStats) -> None:
        self._stats[event.creative_id] = ArmStats(event.impressions, event.clicks)

    def get(self, creative_id: str) -> ArmStats:
        return self._stats.get(creative_id, ArmStats())

    def __len__(self) -> int:
        return len(self._stats)
