"""Shot segmentation on drawn clips whose boundaries, flashes and pans are known exactly."""

from __future__ import annotations

import doctest
import itertools
from fractions import Fraction

import numpy as np
import pytest

from creativeloop.datasets.synthetic_video import ShotSpec, SyntheticVideo, default_script, make_video
from creativeloop.evaluation.video import match
from creativeloop.videogen import segment
from creativeloop.videogen.segment import SegmentConfig, ShotDetector

TOLERANCE = 2


def detect(video: SyntheticVideo, config: SegmentConfig | None = None) -> list[segment.DetectedBoundary]:
    detector = ShotDetector(config or SegmentConfig(), video.fps)
    for index, frame in enumerate(video.frames):
        detector.push(index, frame)
    return detector.finish()


def test_doctests() -> None:
    assert doctest.testmod(segment).failed == 0


@pytest.mark.parametrize("detector", ["adaptive", "content"])
def test_cuts_fades_and_dissolves_are_found_and_flashes_are_not(detector: str) -> None:
    shots, transitions = default_script(1.6)
    video = make_video(shots, transitions, size=(192, 108))
    found = detect(video, SegmentConfig(hard_cut_detector=detector))  # type: ignore[arg-type]
    truth = [(b.start, b.end) for b in video.boundaries]
    counts, _, unmatched = match([b.frame for b in found], truth, TOLERANCE)
    assert (counts.tp, counts.fp, counts.fn) == (len(truth), 0, 0), (found, truth)
    assert not unmatched
    kinds = {b.kind for b in found}
    assert "dissolve" in kinds and {"cut"} <= kinds
    for flash in video.flashes:
        assert all(abs(b.frame - flash) > TOLERANCE + 2 for b in found), f"flash at {flash} read as a cut"


def test_a_single_shot_with_flashes_and_a_fast_pan_has_no_boundary() -> None:
    video = make_video([ShotSpec(3.0, seed=5, pan=0.3, flashes=(0.7, 1.5, 2.3))], [], size=(192, 108))
    assert detect(video) == []


def test_without_the_flash_filter_flashes_become_cuts() -> None:
    video = make_video([ShotSpec(3.0, seed=5, flashes=(1.5,))], [], size=(192, 108))
    unfiltered = detect(video, SegmentConfig(flash_filter=False, min_shot_s=0.04))
    assert unfiltered, "the flash should trip the plain detector"
    assert detect(video) == []


def test_a_fade_through_black_is_one_boundary_of_kind_fade() -> None:
    video = make_video([ShotSpec(1.5, seed=1), ShotSpec(1.5, seed=2)], ["fade"], size=(192, 108))
    found = detect(video)
    assert len(found) == 1 and found[0].kind == "fade"
    boundary = video.boundaries[0]
    assert boundary.start - TOLERANCE <= found[0].frame <= boundary.end + TOLERANCE


def test_shots_cover_every_frame_and_respect_the_minimum_length() -> None:
    shots, transitions = default_script(1.2)
    video = make_video(shots, transitions, size=(128, 72))
    detector = ShotDetector(SegmentConfig(min_shot_s=0.5), video.fps)
    for index, frame in enumerate(video.frames):
        detector.push(index, frame)
    pieces = detector.shots(detector.finish())
    assert pieces[0].start == 0 and pieces[-1].end == len(video.frames)
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    assert all(p.frames >= round(0.5 * 25) for p in pieces)


def test_frames_must_come_in_order() -> None:
    detector = ShotDetector(SegmentConfig(), Fraction(25))
    detector.push(0, np.zeros((18, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="in order"):
        detector.push(2, np.zeros((18, 32, 3), np.uint8))
