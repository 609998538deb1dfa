"""Selection under a duration budget: exact length, story order, score and diversity."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from creativeloop.videogen import selection
from creativeloop.videogen.segment import Shot
from creativeloop.videogen.selection import Candidate, select


def candidates(
    lengths: list[int], scores: list[float], descriptors: list[list[float]] | None = None
) -> list[Candidate]:
    out, start = [], 0
    for i, (length, score) in enumerate(zip(lengths, scores, strict=True)):
        samples = [(f, score + 0.01 * ((f - start) % 7)) for f in range(start + 3, start + length, 6)]
        vector = None if descriptors is None else np.array(descriptors[i], np.float32)
        out.append(Candidate(Shot(i, start, start + length), score, samples, vector))
        start += length
    return out


def test_doctests() -> None:
    assert doctest.testmod(selection).failed == 0


@pytest.mark.parametrize("budget", [1, 24, 150, 151, 375, 620])
@pytest.mark.parametrize("crossfade", [0, 5])
def test_the_summary_is_exactly_the_budget_and_in_story_order(budget: int, crossfade: int) -> None:
    rng = np.random.default_rng(budget + crossfade)
    lengths = [int(n) for n in rng.integers(10, 120, 14)]
    shots = candidates(lengths, [float(s) for s in rng.random(14)])
    plan = select(shots, budget, min_clip=25, max_clip=100, crossfade=crossfade, diversity=0.3)
    assert plan.frames == budget
    for i, clip in enumerate(plan.clips):  # long enough for the crossfades at its ends
        assert clip.frames > ((i > 0) + (i < len(plan.clips) - 1)) * plan.crossfade
    starts = [c.start for c in plan.clips]
    assert starts == sorted(starts)
    for clip in plan.clips:
        shot = shots[clip.shot].shot
        assert shot.start <= clip.start < clip.end <= shot.end  # pieces never cross a cut


def test_a_video_shorter_than_the_budget_is_kept_whole() -> None:
    plan = select(candidates([40, 50], [0.5, 0.9]), 150, min_clip=25, max_clip=100, crossfade=5)
    assert [(c.start, c.end) for c in plan.clips] == [(0, 90)] and plan.crossfade == 0


def test_crossfades_are_dropped_when_only_hard_cuts_fit_the_budget() -> None:
    plan = select(candidates([40, 40, 40], [0.5, 0.9, 0.7]), 118, min_clip=25, max_clip=100, crossfade=5)
    assert plan.crossfade == 0 and plan.frames == 118


def test_the_best_shots_win_when_diversity_is_off() -> None:
    plan = select(candidates([60] * 6, [0.1, 0.9, 0.2, 0.8, 0.3, 0.7]), 120, min_clip=25, max_clip=40,
                  crossfade=0, diversity=0.0)  # fmt: skip
    assert {c.shot for c in plan.clips} == {1, 3, 5}


def test_diversity_skips_a_near_duplicate_of_a_chosen_shot() -> None:
    same, other = [1.0, 0.0], [0.0, 1.0]
    shots = candidates([60, 60, 60], [0.9, 0.85, 0.5], [same, same, other])
    greedy = select(shots, 80, min_clip=25, max_clip=40, crossfade=0, diversity=0.0)
    varied = select(shots, 80, min_clip=25, max_clip=40, crossfade=0, diversity=0.6)
    assert {c.shot for c in greedy.clips} == {0, 1}
    assert {c.shot for c in varied.clips} == {0, 2}


def test_a_trimmed_shot_keeps_its_best_stretch() -> None:
    shot = Candidate(Shot(0, 0, 200), 0.5, [(f, 1.0 if 150 <= f < 190 else 0.0) for f in range(5, 200, 10)])
    start, end = selection.best_window(shot, 40)
    assert start >= 140 and end <= 200
