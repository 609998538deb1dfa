"""Caches keyed by what requests choose stay bounded however varied the requests."""

from __future__ import annotations

from creativeloop.imagegen.render import FONT_CACHE_SIZE, FontBook
from creativeloop.ranking.features import MAX_CONTEXT_ROWS, FeatureStore


def test_the_font_cache_keeps_at_most_its_bound() -> None:
    book = FontBook.default()
    first = book.get(12)
    for size in range(13, 13 + 3 * FONT_CACHE_SIZE):  # every canvas size asks for other font sizes
        book.get(size, bold=size % 2 == 0)
    assert book.cached() == FONT_CACHE_SIZE
    assert book.get(size) is book.get(size)  # still a cache
    assert book.get(12) is not first  # the least recent went


def test_context_rows_stay_bounded() -> None:
    store = FeatureStore()
    for n in range(MAX_CONTEXT_ROWS + 500):
        store.matrix("u", ["c1"], {"placement": f"feed-{n}", "device": "mobile"})
    assert 0 < store.context_rows <= MAX_CONTEXT_ROWS
    row = store.matrix("u", ["c1"], {"placement": "feed-1", "device": "mobile"})
    assert row.shape[0] == 1
