"""The independent scene test set: every class at full size, deterministic, matching labels/."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from creativeloop.datasets.test_sets import scenes
from creativeloop.datasets.test_sets._media import MediaMissing
from creativeloop.datasets.test_sets._registry import committed

# Two per class, none of them decoded from a video (fast).
SUBSET = (0, 10, 24, 40, 56, 62, 72, 94, 96, 119, 120, 140)


@pytest.fixture(scope="module")
def cases() -> list[scenes.SceneCase]:
    try:
        return scenes.build(SUBSET)
    except MediaMissing as exc:
        pytest.skip(str(exc))


def test_classes_match_the_contract() -> None:
    from creativeloop.understanding.scene import SceneClass

    assert set(scenes.CLASSES) == {c.value for c in SceneClass}
    counts = Counter(label["label"] for label in committed("scenes"))
    assert set(counts) == set(scenes.CLASSES)
    assert min(counts.values()) >= 20
    assert sum(counts.values()) == scenes.COUNT


def test_deterministic_and_consistent(cases: list[scenes.SceneCase]) -> None:
    again = scenes.build(SUBSET)
    expected = committed("scenes")
    for case, twin in zip(cases, again, strict=True):
        assert np.array_equal(case.image, twin.image)
        assert case.label == scenes.CLASSES[int(case.case_id[2:]) // scenes.PER_CLASS]
        h, w = case.image.shape[:2]
        assert case.image.dtype == np.uint8 and min(h, w) >= 150 and max(h, w) <= 640
        assert float(case.image.std()) > 5  # not a blank picture
        want = expected[int(case.case_id[2:])]
        assert {k: v for k, v in want.items() if k != "sha1"} == case.to_label()
