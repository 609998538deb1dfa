"""Pick and trim shots to fill a duration budget exactly, best and most varied first, in story order.

Greedy maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998): each step takes the shot
that maximises ``(1 - diversity) * score - diversity * max similarity to the shots already
taken``, trimmed to its best-scoring stretch of at most `max_clip` frames. The pieces are then
lengthened or shortened until the summary, crossfades included, is exactly `budget` frames
(so its duration is within one frame of the budget), and put back in their original order.

>>> from creativeloop.videogen.segment import Shot
>>> shots = [Candidate(Shot(i, i * 50, i * 50 + 50), score=s) for i, s in enumerate([0.2, 0.9, 0.5, 0.8])]
>>> plan = select(shots, budget=60, min_clip=20, max_clip=40, crossfade=5, diversity=0.0)
>>> [(c.shot, c.start, c.end) for c in plan.clips], plan.frames
([(1, 55, 95), (3, 162, 187)], 60)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from creativeloop.videogen.segment import Shot

Floats = npt.NDArray[np.float32]


@dataclass
class Candidate:
    """A shot as the selector sees it: score, per-sample scores, descriptor."""

    shot: Shot
    score: float
    samples: list[tuple[int, float]] = field(default_factory=list)
    descriptor: Floats | None = None


@dataclass(frozen=True)
class Clip:
    """Source frames `start`..`end` (exclusive) of shot `shot`."""

    shot: int
    start: int
    end: int
    score: float

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Plan:
    """Pieces in story order and the crossfade (frames) between neighbours."""

    clips: list[Clip]
    crossfade: int

    @property
    def frames(self) -> int:
        return summary_frames(self.clips, self.crossfade)


def summary_frames(clips: Sequence[Clip], crossfade: int) -> int:
    """Output length: the pieces minus one crossfade overlap between each neighbouring pair."""
    return sum(c.frames for c in clips) - crossfade * max(0, len(clips) - 1)


def best_window(candidate: Candidate, length: int) -> tuple[int, int]:
    """The stretch of `length` frames inside the shot whose samples score best (centred if none)."""
    shot = candidate.shot
    length = min(length, shot.frames)
    latest = shot.end - length
    if not candidate.samples or latest <= shot.start:
        start = shot.start + (shot.frames - length) // 2
        return start, start + length
    best_start, best_value = shot.start, -np.inf
    for frame, _ in candidate.samples:
        start = min(latest, max(shot.start, frame - length // 2))
        inside = [s for f, s in candidate.samples if start <= f < start + length]
        value = float(np.mean(inside)) if inside else -np.inf
        if value > best_value:
            best_start, best_value = start, value
    return best_start, best_start + length


def _similarity(a: Candidate, chosen: Sequence[Candidate]) -> float:
    if a.descriptor is None or not chosen:
        return 0.0
    return max(float(a.descriptor @ c.descriptor) for c in chosen if c.descriptor is not None)


def _mmr_order(candidates: Sequence[Candidate], diversity: float) -> list[Candidate]:
    """All candidates in greedy MMR order."""
    scores = np.array([c.score for c in candidates], dtype=np.float64)
    span = float(scores.max() - scores.min()) if len(scores) else 0.0
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    remaining = list(range(len(candidates)))
    order: list[Candidate] = []
    while remaining:
        best = max(
            remaining,
            key=lambda i: (1 - diversity) * relevance[i] - diversity * _similarity(candidates[i], order),
        )
        remaining.remove(best)
        order.append(candidates[best])
    return order


def select(
    candidates: Sequence[Candidate],
    budget: int,
    *,
    min_clip: int,
    max_clip: int,
    crossfade: int = 0,
    diversity: float = 0.35,
) -> Plan:
    """A plan whose `frames` equal `budget`; the whole video when it is not longer than that.

    Crossfades are dropped (hard cuts) when the shots would be too short with them."""
    if budget <= 0 or not candidates:
        return Plan([], 0)
    crossfade = max(0, min(crossfade, min_clip // 2))
    max_clip = max(max_clip, min_clip)
    total = sum(c.shot.frames for c in candidates)
    if total <= budget:  # nothing to leave out: the whole video, cut-free
        first, last = candidates[0].shot, candidates[-1].shot
        return Plan(
            [Clip(first.index, first.start, last.end, float(np.mean([c.score for c in candidates])))], 0
        )
    if total - crossfade * (len(candidates) - 1) < budget:
        crossfade = 0
    usable = [c for c in candidates if c.shot.frames >= min_clip] or list(candidates)
    chosen: dict[int, Clip] = {}
    order = _mmr_order(usable, diversity)
    for candidate in order:
        need = budget - summary_frames(list(chosen.values()), crossfade)
        if need <= 0:
            break
        room = need + (crossfade if chosen else 0)
        length = min(candidate.shot.frames, max_clip, room)
        if length < min(min_clip, candidate.shot.frames) and chosen:
            continue  # too little room for this one: later candidates or lengthening will fill it
        start, end = best_window(candidate, length)
        chosen[candidate.shot.index] = Clip(candidate.shot.index, start, end, candidate.score)
    clips = sorted(
        _fill(chosen, {c.shot.index: c for c in candidates}, order, budget, crossfade), key=lambda c: c.start
    )
    if crossfade and not _fits_crossfades(clips, crossfade):  # a short last-resort piece: hard cuts
        return select(
            candidates, budget, min_clip=min_clip, max_clip=max_clip, crossfade=0, diversity=diversity
        )
    return Plan(clips, crossfade if len(clips) > 1 else 0)


def _fits_crossfades(clips: Sequence[Clip], crossfade: int) -> bool:
    """Every piece is long enough to fade in and out: crossfade frames at each joined end."""
    for i, clip in enumerate(clips):
        joins = (i > 0) + (i < len(clips) - 1)
        if clip.frames < joins * crossfade + 1:
            return False
    return True


def _fill(
    chosen: dict[int, Clip],
    by_index: dict[int, Candidate],
    order: Sequence[Candidate],
    budget: int,
    crossfade: int,
) -> list[Clip]:
    """Lengthen chosen clips inside their shots (best first), then add more shots, until exact."""
    for _ in range(2):
        need = budget - summary_frames(list(chosen.values()), crossfade)
        for index in sorted(chosen, key=lambda i: -chosen[i].score):
            if need <= 0:
                break
            clip, shot = chosen[index], by_index[index].shot
            after = min(need, shot.end - clip.end)
            before = min(need - after, clip.start - shot.start)
            chosen[index] = Clip(index, clip.start - before, clip.end + after, clip.score)
            need -= after + before
        if need <= 0:
            break
        for candidate in [*order, *by_index.values()]:  # short shots too, as a last resort
            if need <= 0:
                break
            if candidate.shot.index in chosen or candidate.shot.frames <= crossfade:
                continue
            length = min(candidate.shot.frames, need + crossfade)
            start, end = best_window(candidate, length)
            chosen[candidate.shot.index] = Clip(candidate.shot.index, start, end, candidate.score)
            need = budget - summary_frames(list(chosen.values()), crossfade)
    excess = summary_frames(list(chosen.values()), crossfade) - budget
    if excess > 0:  # only after adding a last short shot: trim the longest piece
        longest = max(chosen.values(), key=lambda c: c.frames)
        chosen[longest.shot] = Clip(longest.shot, longest.start, longest.end - excess, longest.score)
    return list(chosen.values())
