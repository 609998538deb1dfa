"""Ranking's views of the creatives and bandit.stats topics."""

from __future__ import annotations

from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.v1 import common_pb2, events_pb2

IMAGE, TEXT = common_pb2.CREATIVE_FORMAT_IMAGE, common_pb2.CREATIVE_FORMAT_TEXT


def creative(cid: str, product: str = "p1", fmt: int = IMAGE) -> events_pb2.CreativeUpdated:
    return events_pb2.CreativeUpdated(
        creative=common_pb2.Creative(creative_id=cid, product_id=product, format=fmt)  # type: ignore[arg-type]
    )


def test_catalogue_groups_by_product_and_format_in_stable_order() -> None:
    catalogue = CreativeCatalogue()
    for event in [creative("c2"), creative("c1"), creative("t1", fmt=TEXT), creative("x", "p2")]:
        catalogue.apply("", event)
    assert [c.creative_id for c in catalogue.candidates("p1", IMAGE)] == ["c1", "c2"]
    assert [c.creative_id for c in catalogue.candidates("p1", TEXT)] == ["t1"]
    assert catalogue.candidates("unknown", IMAGE) == []
    assert len(catalogue) == 4


def test_replayed_creative_is_idempotent_and_retirement_removes() -> None:
    catalogue = CreativeCatalogue()
    catalogue.apply("", creative("c1"))
    catalogue.apply("", creative("c1"))
    assert len(catalogue) == 1
    retired = creative("c1")
    retired.retired = True
    catalogue.apply("", retired)
    assert catalogue.candidates("p1", IMAGE) == []


def test_stats_keep_the_latest_snapshot() -> None:
    board = StatsBoard()
    board.apply("", events_pb2.BanditStats(creative_id="c1", impressions=10, clicks=1))
    board.apply("", events_pb2.BanditStats(creative_id="c1", impressions=12, clicks=2))
    assert (board.get("c1").impressions, board.get("c1").clicks) == (12, 2)
    assert board.get("never").impressions == 0
