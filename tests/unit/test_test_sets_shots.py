"""The independent shot-boundary set: deterministic, boundaries and events inside their clips."""

from __future__ import annotations

import io

import numpy as np
import pytest

from creativeloop.datasets.test_sets import shots
from creativeloop.datasets.test_sets._media import MediaMissing
from creativeloop.datasets.test_sets._registry import committed

SUBSET = (12, 18)  # photo-only clips: no video decoding, fast


@pytest.fixture(scope="module")
def clips() -> list[shots.ShotCase]:
    try:
        return shots.build(SUBSET)
    except MediaMissing as exc:
        pytest.skip(str(exc))


def test_committed_labels_consistent() -> None:
    labels = committed("shots")
    assert len(labels) == shots.COUNT >= 15
    kinds = [b["kind"] for label in labels for b in label["boundaries"]]
    assert set(kinds) == set(shots.BOUNDARY_KINDS)
    assert sum(1 for k in kinds if k != "cut") >= 15
    assert sum(1 for label in labels for e in label["events"] if e["kind"] == "flash") >= 20
    for label in labels:
        n = label["frames"]
        assert 3 * label["fps"] <= n <= 8 * label["fps"]
        previous_end = -1
        for b in label["boundaries"]:
            assert 0 <= b["start"] <= b["frame"] <= b["end"] < n
            assert b["start"] > previous_end  # transitions never overlap
            previous_end = b["end"]
            if b["kind"] == "cut":
                assert b["start"] == b["frame"] == b["end"]
        for e in label["events"]:
            assert e["kind"] in shots.EVENT_KINDS and 0 <= e["start"] <= e["end"] < n
            if e["kind"] == "flash":
                # A flash is never within 2 frames of a boundary's span.
                for b in label["boundaries"]:
                    assert e["end"] + 2 < b["start"] - 2 or e["start"] - 2 > b["end"] + 2


def test_deterministic_and_matches_committed(clips: list[shots.ShotCase]) -> None:
    expected = committed("shots")
    for clip, twin in zip(clips, shots.build(SUBSET), strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(clip.frames, twin.frames, strict=True))
        want = expected[int(clip.case_id[4:])]
        assert {k: v for k, v in want.items() if k != "sha1"} == clip.to_label()
        assert all(f.shape == (shots.HEIGHT, shots.WIDTH, 3) and f.dtype == np.uint8 for f in clip.frames)


def test_fade_and_dissolve_frames(clips: list[shots.ShotCase]) -> None:
    clip = clips[1]  # shot18: fades through black and white, a long and a short dissolve
    black, white = clip.boundaries[0], clip.boundaries[1]
    assert black.detail == "fade_black_no_hold" and white.detail == "fade_white_no_hold"
    assert float(clip.frames[black.frame - 1].mean()) < 5  # the fade-out reached black
    assert float(clip.frames[white.frame - 1].mean()) > 250  # and white
    long = clip.boundaries[2]
    assert long.kind == "dissolve" and long.end - long.start + 1 == 40


def test_encodes_to_mp4(clips: list[shots.ShotCase]) -> None:
    import av

    clip = clips[0]
    with av.open(io.BytesIO(clip.encode()), mode="r") as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(decoded) == clip.frame_count
    assert decoded[0].shape == clip.frames[0].shape
    error = np.abs(decoded[20].astype(np.float32) - clip.frames[20].astype(np.float32)).mean()
    assert error < 8
