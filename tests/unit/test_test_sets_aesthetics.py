"""The independent aesthetics set: 20 x 8 x 5, deterministic, degradations ordered by level."""

from __future__ import annotations

import numpy as np
import pytest

from creativeloop.datasets.test_sets import aesthetics
from creativeloop.datasets.test_sets._media import MediaMissing
from creativeloop.datasets.test_sets._registry import committed

PHOTOS = (2, 13)


def _built(index: int, kind: str, level: int) -> aesthetics.AestheticsCase:
    try:
        return aesthetics.degrade(index, kind, level)
    except MediaMissing as exc:
        pytest.skip(str(exc))


def test_size() -> None:
    assert len(aesthetics.PHOTOS) >= 20 and len(aesthetics.KINDS) >= 8 and len(aesthetics.LEVELS) == 5
    assert aesthetics.COUNT == 800
    labels = committed("aesthetics")
    assert sum(1 for label in labels if label["kind"] != "original") == aesthetics.COUNT
    assert {label["kind"] for label in labels} == {*aesthetics.KINDS, "original"}


def test_deterministic_and_matches_committed() -> None:
    expected = {label["id"]: label for label in committed("aesthetics")}
    for index in PHOTOS:
        for kind in aesthetics.KINDS:
            a = _built(index, kind, 3)
            b = aesthetics.degrade(index, kind, 3)
            assert np.array_equal(a.image, b.image)
            want = expected[a.case_id]
            assert {k: v for k, v in want.items() if k != "sha1"} == a.to_label()


def test_levels_grow_more_severe() -> None:
    for index in PHOTOS:
        original = aesthetics.original(index).image.astype(np.float32)
        for kind in ("blur", "noise", "jpeg", "low_contrast", "overexposure", "underexposure"):
            errors = [
                float(np.abs(_built(index, kind, level).image.astype(np.float32) - original).mean())
                for level in aesthetics.LEVELS
            ]
            assert errors[0] > 0 and errors == sorted(errors), (index, kind, errors)
        cuts = [_built(index, "bad_crop", level).params["cut"] for level in aesthetics.LEVELS]
        assert cuts == sorted(cuts) and cuts[0] >= 0.08 and cuts[-1] <= 0.72
        clipped = [
            _built(index, "clipped_highlights", level).params["clipped"] for level in aesthetics.LEVELS
        ]
        assert clipped == sorted(clipped)
        crop = _built(index, "bad_crop", 5)
        _, _, w, h = crop.params["window"]
        assert crop.image.shape[:2] == (h, w)
