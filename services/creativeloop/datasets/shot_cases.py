"""Hard shot-boundary cases drawn from real photos and film, for tuning the shot detectors.

`synthetic_video` draws flat textured scenes; this module builds clips that look more like
product videos and that hold the cases issue 16 lists, each with exact labels:

- boundaries: hard cuts; fades through black *or white*, with and without solid hold frames;
  dissolves (linear or eased), also two in a row around a short moving shot; fades and dissolves
  between two framings of the same photo;
- events that are *not* boundaries: white flashes (one frame, or decaying over several frames,
  also on bright shots), whip pans, captions popping in and out, a foreground object sweeping
  across the frame, lighting changes (sudden and gradual) and fast camera motion.

Shots are slow pans and zooms over photos that install with packages (`datasets.photos`:
opencv-doc samples, scikit-image and scikit-learn images) or stretches of real film (opencv-doc's
`vtest.avi`, `tree.avi`, `Megamind.avi`, and the wheel clips in var/data/videos, between their
labelled cuts). Labels follow the scoring rules of `evaluation.video.score_test_clip`: a
boundary has a `kind`, a `frame` (the first frame of the new shot, or the middle of a gradual
transition) and the `start`..`end` span of the change; events have a kind and a span.

>>> clip = build_case(0)
>>> clip.fps, clip.frames[0].shape[2], len(clip.boundaries) > 0
(25, 3, True)

These clips are tuning data: the independent test set (`datasets.test_sets.shots`) is written
apart and never used here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.clips import CLIPS, DEFAULT_DATA_DIR
from creativeloop.datasets.photos import OPENCV_DOC, existing_file, load_image_file, photo_path
from creativeloop.datasets.synthetic_video import draw_product
from creativeloop.videogen.encode import Mp4Writer

Frame = npt.NDArray[np.uint8]
FPS = 25
SIZES = ((192, 108), (320, 180))

#: Photos for shots (missing ones are skipped).
PHOTOS = (
    "opencv-doc:data/fruits.jpg",
    "opencv-doc:data/baboon.jpg",
    "opencv-doc:data/building.jpg",
    "opencv-doc:data/home.jpg",
    "opencv-doc:data/HappyFish.jpg",
    "opencv-doc:data/aero1.jpg",
    "opencv-doc:data/butterfly.jpg",
    "opencv-doc:data/orange.jpg",
    "opencv-doc:data/starry_night.jpg",
    "opencv-doc:data/smarties.png",
    "opencv-doc:data/stuff.jpg",
    "opencv-doc:data/squirrel_cls.jpg",
    "opencv-doc:data/leuvenA.jpg",
    "opencv-doc:data/graf1.png",
    "opencv-doc:data/apple.jpg",
    "opencv-doc:data/messi5.jpg",
    "skimage:astronaut.png",
    "skimage:coffee.png",
    "skimage:chelsea.png",
    "skimage:rocket.jpg",
    "skimage:motorcycle_left.png",
    "skimage:color.png",
    "sklearn:china.jpg",
    "sklearn:flower.jpg",
)
#: Film stretches without cuts: (path, first frame, last frame).
_FILMS = (
    (OPENCV_DOC / "data/vtest.avi", 0, 790),
    (OPENCV_DOC / "data/tree.avi", 0, 150),
    (OPENCV_DOC / "data/Megamind.avi", 2, 96),
    (OPENCV_DOC / "data/Megamind.avi", 100, 152),
    (OPENCV_DOC / "data/Megamind.avi", 156, 198),
    (OPENCV_DOC / "data/Megamind.avi", 202, 268),
)


@dataclass(frozen=True)
class CaseBoundary:
    kind: str  # cut, fade, dissolve
    frame: int
    start: int
    end: int
    detail: str = ""


@dataclass(frozen=True)
class CaseEvent:
    kind: str  # flash, caption, whip_pan, occlusion, lighting, fast_motion
    start: int
    end: int
    detail: str = ""


@dataclass
class ShotClip:
    name: str
    frames: list[Frame]
    fps: int
    boundaries: list[CaseBoundary] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    ignore: list[tuple[int, int]] = field(default_factory=list)


# ------------------------------------------------------------------------------ sources


@lru_cache(maxsize=32)
def _photo(ref: str) -> Frame | None:
    if existing_file(photo_path(ref)) is None:
        return None
    image = np.asarray(load_image_file(photo_path(ref)), np.uint8)
    longest = max(image.shape[:2])
    if longest > 1200:
        scale = 1200 / longest
        return np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
    return image


def available_photos() -> list[str]:
    return [ref for ref in PHOTOS if _photo(ref) is not None]


@lru_cache(maxsize=8)
def _film(path: Path, first: int, last: int) -> tuple[Frame, ...]:
    """Frames first..last of a film at most 640 px wide (empty when not installed)."""
    if not path.is_file():
        return ()
    capture = cv2.VideoCapture(str(path))
    frames: list[Frame] = []
    index = 0
    while index <= last:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= first:
            if frame.shape[1] > 640:
                frame = cv2.resize(frame, (640, round(640 * frame.shape[0] / frame.shape[1])))
            frames.append(np.asarray(frame, np.uint8))
        index += 1
    capture.release()
    return tuple(frames)


def available_films() -> list[tuple[Path, int, int]]:
    films = [f for f in _FILMS if _film(*f)]
    for clip in CLIPS:  # the wheel clips, between their labelled cuts
        if clip.wheel_member is None:
            continue
        path = DEFAULT_DATA_DIR / clip.name
        if not path.is_file():
            continue
        edges = [0, *clip.cuts, clip.frames]
        films += [(path, a + 1, b - 2) for a, b in itertools.pairwise(edges) if b - a > 20]
    return [f for f in films if _film(*f)]


# --------------------------------------------------------------------------------- shots

View = tuple[float, float, float]  # centre x, centre y (fractions of the photo), zoom (>= 1)


def render_view(photo: Frame, view: View, size: tuple[int, int]) -> Frame:
    """The part of `photo` a camera at `view` sees, at `size` (width, height)."""
    width, height = size
    ph, pw = photo.shape[:2]
    cx, cy, zoom = view
    # The widest window of the output's aspect that fits in the photo, shrunk by `zoom`.
    window_w = min(pw, ph * width / height) / max(1.0, zoom)
    window_h = window_w * height / width
    x0 = min(max(0.0, cx * pw - window_w / 2), pw - window_w)
    y0 = min(max(0.0, cy * ph - window_h / 2), ph - window_h)
    scale = window_w / width
    matrix = np.array([[scale, 0, x0], [0, scale, y0]], np.float64)
    flags = cv2.INTER_AREA if scale > 1.5 else cv2.INTER_LINEAR
    if scale > 1.5:  # pre-shrink so INTER_AREA-like quality holds under the affine warp
        small = cv2.resize(photo, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
        matrix = np.array([[1.0, 0, x0 / scale], [0, 1.0, y0 / scale]], np.float64)
        return np.asarray(
            cv2.warpAffine(
                small,
                matrix,
                size,
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            ),
            np.uint8,
        )
    return np.asarray(
        cv2.warpAffine(
            photo, matrix, size, flags=flags | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        ),
        np.uint8,
    )


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


@dataclass
class Shot:
    """A shot's frames before transitions and events are applied."""

    frames: list[Frame]
    source: str


def photo_shot(
    ref: str,
    frames: int,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    start: View | None = None,
    end: View | None = None,
    product: bool = False,
    noise: float = 2.0,
) -> Shot:
    photo = _photo(ref)
    assert photo is not None, ref
    if start is None:
        start = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)), float(rng.uniform(1.0, 1.6)))
    if end is None:
        drift = float(rng.choice([0.0, 0.05, 0.12]))
        end = (
            start[0] + float(rng.uniform(-drift, drift)),
            start[1] + float(rng.uniform(-drift, drift)) / 2,
            start[2] * float(rng.choice([1.0, 1.0, 1.15, 0.9])),
        )
    out = []
    for i in range(frames):
        t = _ease(i / max(1, frames - 1))
        view = tuple(a + (b - a) * t for a, b in zip(start, end, strict=True))
        frame = render_view(photo, (view[0], view[1], view[2]), size)
        if product:
            draw_product(frame, size[0] * (0.3 + 0.4 * t), size[1] * 0.55, 0.8)
        out.append(_noisy(frame, noise, rng))
    return Shot(out, f"photo {ref}")


def film_shot(
    film: tuple[Path, int, int], frames: int, size: tuple[int, int], rng: np.random.Generator
) -> Shot:
    source = _film(*film)
    first = int(rng.integers(0, max(1, len(source) - frames)))
    # A stretch longer than the film plays back and forth (no frozen frames).
    period = max(1, 2 * (len(source) - 1))
    positions = [(first + i) % period for i in range(frames)]
    picked = [source[p if p < len(source) else period - p] for p in positions]
    return Shot([_cover(f, size) for f in picked], f"film {film[0].name}@{film[1] + first}")


def _cover(frame: Frame, size: tuple[int, int]) -> Frame:
    width, height = size
    fh, fw = frame.shape[:2]
    scale = max(width / fw, height / fh)
    resized = cv2.resize(frame, (math.ceil(fw * scale), math.ceil(fh * scale)), interpolation=cv2.INTER_AREA)
    y0 = (resized.shape[0] - height) // 2
    x0 = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def _noisy(frame: Frame, sigma: float, rng: np.random.Generator) -> Frame:
    if sigma <= 0:
        return frame
    return np.asarray(np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255), np.uint8)


# ------------------------------------------------------------------------- transitions


def _blend(a: Frame, b: Frame, alpha: float) -> Frame:
    return np.asarray(cv2.addWeighted(a, 1 - alpha, b, alpha, 0), np.uint8)


def _solid(like: Frame, level: int) -> Frame:
    return np.full_like(like, level)


class Builder:
    """Appends shots joined by transitions, recording boundaries and events."""

    def __init__(self, name: str, size: tuple[int, int]) -> None:
        self.clip = ShotClip(name, [], FPS)
        self.size = size
        #: Where the last shot added came from (`Shot.source`).
        self.last_source = ""

    @property
    def at(self) -> int:
        return len(self.clip.frames)

    def first(self, shot: Shot) -> None:
        self.last_source = shot.source
        self.clip.frames += shot.frames

    def cut(self, shot: Shot, detail: str = "") -> None:
        self.last_source = shot.source
        self.clip.boundaries.append(CaseBoundary("cut", self.at, self.at, self.at, detail))
        self.clip.frames += shot.frames

    def dissolve(self, shot: Shot, length: int, eased: bool = False, detail: str = "") -> None:
        """The last `length` frames of the clip blend into the first `length` of `shot`."""
        self.last_source = shot.source
        frames = self.clip.frames
        length = min(length, len(shot.frames) // 2, len(frames) // 2)
        start = len(frames) - length
        for k in range(length):
            t = (k + 1) / (length + 1)
            frames[start + k] = _blend(frames[start + k], shot.frames[k], _ease(t) if eased else t)
        frames += shot.frames[length:]
        self.clip.boundaries.append(
            CaseBoundary("dissolve", start + length // 2, start, start + length - 1, detail)
        )

    def fade(
        self,
        shot: Shot,
        out: int,
        hold: int,
        into: int,
        level: int = 0,
        eased: bool = False,
        detail: str = "",
    ) -> None:
        """Fade the clip's tail to a solid `level`, hold it, fade `shot` in from it."""
        self.last_source = shot.source
        frames = self.clip.frames
        out = min(out, len(frames) // 2)
        start = len(frames) - out
        for k in range(out):
            t = (k + 1) / (out + 1)
            frames[start + k] = _blend(
                frames[start + k], _solid(frames[start + k], level), _ease(t) if eased else t
            )
        frames += [_solid(frames[-1], level) for _ in range(hold)]
        for k in range(min(into, len(shot.frames))):
            t = 1 - (k + 1) / (into + 1)
            shot.frames[k] = _blend(shot.frames[k], _solid(shot.frames[k], level), _ease(t) if eased else t)
        end = len(frames) + into - 1
        frames += shot.frames
        kind = "fade"
        self.clip.boundaries.append(CaseBoundary(kind, (start + end + 1) // 2, start, end, detail))

    def event(self, kind: str, start: int, end: int, detail: str = "") -> None:
        self.clip.events.append(CaseEvent(kind, start, end, detail))


# ------------------------------------------------------------------------------ events


def flash(frames: list[Frame], at: int, peak: float, decay: int, level: int = 255) -> tuple[int, int]:
    """A flash at `at`: blend towards `level` by `peak`, then decay over `decay` frames."""
    end = min(len(frames) - 1, at + decay)
    for k in range(at, end + 1):
        weight = peak * (1 - (k - at) / (decay + 1)) ** 1.5 if decay else peak
        frames[k] = _blend(frames[k], _solid(frames[k], level), weight)
    return at, end


def caption(frames: list[Frame], first: int, last: int, text: str) -> None:
    for k in range(first, min(last + 1, len(frames))):
        frame = frames[k].copy()
        height, width = frame.shape[:2]
        cv2.rectangle(frame, (0, int(height * 0.7)), (width, int(height * 0.92)), (30, 30, 30), -1)
        cv2.putText(
            frame,
            text,
            (int(width * 0.05), int(height * 0.86)),
            cv2.FONT_HERSHEY_SIMPLEX,
            height / 260,
            (255, 255, 255),
            max(1, height // 100),
            cv2.LINE_AA,
        )
        frames[k] = frame


def occlusion(
    frames: list[Frame], first: int, length: int, colour: tuple[int, int, int], cover: float
) -> None:
    """A dark object crossing the frame from left to right, covering at most `cover` of the width."""
    for k in range(length):
        index = first + k
        if index >= len(frames):
            break
        frame = frames[index].copy()
        height, width = frame.shape[:2]
        t = k / max(1, length - 1)
        body = int(width * cover)
        x = int(-body + (width + body) * t)
        cv2.ellipse(
            frame, (x + body // 2, height // 2), (body // 2, int(height * 0.7)), 0, 0, 360, colour, -1
        )
        frames[index] = frame


def lighting(frames: list[Frame], first: int, ramp: int, gain: float) -> None:
    """From `first`, brightness goes to `gain` over `ramp` frames (0: at once) and stays."""
    for index in range(first, len(frames)):
        t = 1.0 if ramp == 0 else min(1.0, (index - first + 1) / ramp)
        g = 1 + (gain - 1) * t
        frames[index] = np.asarray(np.clip(frames[index].astype(np.float32) * g, 0, 255), np.uint8)


def whip_pan(
    ref: str, frames: int, size: tuple[int, int], at: int, length: int, rng: np.random.Generator
) -> Shot:
    """A photo shot that whips sideways across the photo, motion-blurred, at `at` for `length` frames."""
    photo = _photo(ref)
    assert photo is not None
    cy, zoom = float(rng.uniform(0.4, 0.6)), float(rng.uniform(1.6, 2.2))
    x0, x1 = (0.25, 0.75) if rng.random() < 0.5 else (0.75, 0.25)
    out = []
    for i in range(frames):
        if i < at:
            xs = [x0]
        elif i >= at + length:
            xs = [x1]
        else:
            t0, t1 = (i - at) / length, (i - at + 1) / length
            xs = [x0 + (x1 - x0) * _ease(t0 + (t1 - t0) * s / 7) for s in range(8)]
        pictures = [render_view(photo, (x, cy, zoom), size).astype(np.float32) for x in xs]
        out.append(_noisy(np.asarray(np.mean(pictures, axis=0), np.uint8), 2.0, rng))
    return Shot(out, f"whip {ref}")


def shake(frames: list[Frame], first: int, length: int, amplitude: float, rng: np.random.Generator) -> None:
    """Fast camera shake: random shifts of up to `amplitude` of the width, with motion blur."""
    for k in range(length):
        index = first + k
        if index >= len(frames):
            break
        height, width = frames[index].shape[:2]
        dx, dy = rng.uniform(-amplitude, amplitude, 2) * width
        matrix = np.array([[1.08, 0, dx - 0.04 * width], [0, 1.08, dy * 0.5 - 0.04 * height]], np.float64)
        moved = cv2.warpAffine(frames[index], matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
        blur = max(1, int(abs(dx) / 2)) * 2 + 1
        frames[index] = np.asarray(cv2.blur(moved, (blur, 1)), np.uint8)


# ------------------------------------------------------------------------------ scripts

CaseScript = Callable[[Builder, np.random.Generator, list[str], list[tuple[Path, int, int]]], None]


def _length(rng: np.random.Generator, low: float = 1.6, high: float = 3.2) -> int:
    return round(float(rng.uniform(low, high)) * FPS)


def _any_shot(
    builder: Builder,
    rng: np.random.Generator,
    photos: list[str],
    films: list[tuple[Path, int, int]],
    frames: int,
) -> Shot:
    """A photo or film shot from a different source than the clip's last shot (two shots of one
    static camera or one photo in a row are a jump cut, which `script_same_photo` covers)."""
    for _ in range(20):
        if films and rng.random() < 0.35:
            film = films[int(rng.integers(len(films)))]
            if film[0].name in builder.last_source:
                continue
            return film_shot(film, frames, builder.size, rng)
        ref = photos[int(rng.integers(len(photos)))]
        if ref in builder.last_source:
            continue
        return photo_shot(ref, frames, builder.size, rng, product=rng.random() < 0.3)
    raise RuntimeError("no second source")


def script_fade_holds(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Fades through black with hold frames of several lengths, and a cut to black and back."""
    b.first(_any_shot(b, rng, photos, films, _length(rng)))
    for hold in (int(rng.integers(3, 8)), int(rng.integers(8, 20)), 0):
        out, into = int(rng.integers(6, 16)), int(rng.integers(6, 16))
        b.fade(
            _any_shot(b, rng, photos, films, _length(rng)),
            out,
            hold,
            into,
            level=int(rng.integers(0, 12)),
            eased=rng.random() < 0.5,
            detail=f"black hold {hold}",
        )
    b.fade(
        _any_shot(b, rng, photos, films, _length(rng)), 0, int(rng.integers(4, 12)), 0, detail="cut to black"
    )


def script_white_fades(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Fades through white (with and without holds) between shots, and a flash for contrast."""
    b.first(_any_shot(b, rng, photos, films, _length(rng)))
    for hold in (0, int(rng.integers(2, 10)), int(rng.integers(0, 4))):
        out, into = int(rng.integers(5, 14)), int(rng.integers(5, 14))
        shot = _any_shot(b, rng, photos, films, _length(rng, 2.0, 3.2))
        b.fade(
            shot,
            out,
            hold,
            into,
            level=int(rng.integers(240, 256)),
            eased=rng.random() < 0.5,
            detail=f"white hold {hold}",
        )
        if rng.random() < 0.6:  # a flash in the middle of the new shot
            at = b.at - len(shot.frames) // 2 - 2
            s, e = flash(b.clip.frames, at, float(rng.uniform(0.6, 0.95)), int(rng.integers(0, 6)))
            b.event("flash", s, e)


def script_chained_dissolves(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Two dissolves around a short shot, under in-shot motion (pans, film)."""
    b.first(_any_shot(b, rng, photos, films, _length(rng)))
    for _ in range(2):
        first = int(rng.integers(8, 18))
        middle = int(rng.integers(4, 14))
        second = int(rng.integers(8, 18))
        frames = first + middle + second
        if films and rng.random() < 0.5:
            short = film_shot(films[int(rng.integers(len(films)))], frames, b.size, rng)
        else:
            short = photo_shot(photos[int(rng.integers(len(photos)))], frames, b.size, rng, product=True)
        b.dissolve(short, first, eased=rng.random() < 0.5, detail="chained 1")
        b.dissolve(
            _any_shot(b, rng, photos, films, _length(rng)),
            second,
            eased=rng.random() < 0.5,
            detail="chained 2",
        )


def script_same_photo(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Fades and dissolves between two framings of one photo (wide and close, or two crops)."""
    ref = photos[int(rng.integers(len(photos)))]
    b.first(photo_shot(ref, _length(rng), b.size, rng, start=(0.5, 0.5, 1.0), end=(0.5, 0.5, 1.05)))
    for step in range(3):
        ref2 = ref if step != 1 else photos[int(rng.integers(len(photos)))]
        zoom = float(rng.uniform(1.6, 2.6))
        view = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.35, 0.65)), zoom)
        shot = photo_shot(ref2, _length(rng), b.size, rng, start=view, end=(view[0] + 0.03, view[1], view[2]))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            b.dissolve(shot, int(rng.integers(8, 20)), eased=True, detail="same photo reframed")
        elif kind == 1:
            b.fade(
                shot,
                int(rng.integers(6, 12)),
                int(rng.integers(0, 6)),
                int(rng.integers(6, 12)),
                detail="same photo, through black",
            )
        else:
            b.fade(
                shot,
                int(rng.integers(5, 10)),
                int(rng.integers(0, 3)),
                int(rng.integers(5, 10)),
                level=250,
                detail="same photo, through white",
            )
        # back to the wide framing by a cut
        b.cut(
            photo_shot(ref, _length(rng, 1.2, 2.0), b.size, rng, start=(0.5, 0.5, 1.0), end=(0.52, 0.5, 1.0)),
            detail="same photo, cut",
        )


def script_flashes(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Flashes (instant and decaying, on bright and dark shots) between cuts and dissolves."""
    for index in range(4):
        frames = _length(rng, 3.0, 4.4)
        shot = _any_shot(b, rng, photos, films, frames)
        if index % 2 == 0:  # a bright shot
            shot.frames = [
                np.asarray(np.clip(f.astype(np.int16) + 70, 0, 255), np.uint8) for f in shot.frames
            ]
        before = b.at
        if index == 0:
            b.first(shot)
        elif rng.random() < 0.5:
            b.cut(shot)
        else:
            b.dissolve(shot, int(rng.integers(8, 16)))
        for _ in range(int(rng.integers(1, 3))):
            if b.at - 45 <= before + 16:
                break
            at = int(rng.integers(before + 16, b.at - 45))  # clear of the next transition
            if any(abs(at - e.start) < 12 for e in b.clip.events):
                continue
            decay = int(rng.choice([0, 1, 3, 6, 10]))
            s, e = flash(b.clip.frames, at, float(rng.uniform(0.5, 0.95)), decay)
            b.event("flash", s, e, f"decay {decay}")


def script_motion_events(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Whip pans, captions, occlusion, lighting and shake inside shots, with cuts between them."""
    ref = photos[int(rng.integers(len(photos)))]
    frames, at, length = _length(rng, 2.4, 3.6), int(rng.integers(20, 30)), int(rng.integers(4, 9))
    b.first(whip_pan(ref, frames, b.size, at, length, rng))
    b.event("whip_pan", at, at + length - 1)
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.4, 3.6))
    start = b.at
    b.cut(shot)
    first, last = start + int(rng.integers(10, 25)), start + int(rng.integers(40, 55))
    caption(b.clip.frames, first, last, "NEW  -30%")
    b.event("caption", first, first)
    b.event("caption", last + 1, last + 1)
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.4, 3.6))
    start = b.at
    b.cut(shot)
    first, length = start + int(rng.integers(10, 20)), int(rng.integers(8, 18))
    occlusion(b.clip.frames, first, length, (int(rng.integers(0, 60)),) * 3, float(rng.uniform(0.5, 0.95)))
    b.event("occlusion", first, first + length - 1)
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.4, 3.6))
    start = b.at
    b.dissolve(shot, int(rng.integers(8, 16)))
    first, ramp = b.at - int(rng.integers(25, 40)), int(rng.choice([0, 0, 6, 12]))
    lighting(b.clip.frames, first, ramp, float(rng.choice([0.55, 0.7, 1.4, 1.7])))
    b.event("lighting", first, first + ramp)
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.4, 3.6))
    start = b.at
    b.cut(shot)
    first, length = start + int(rng.integers(10, 20)), int(rng.integers(6, 14))
    shake(b.clip.frames, first, length, float(rng.uniform(0.03, 0.08)), rng)
    b.event("fast_motion", first, first + length - 1)


def script_mixed(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """A product-video-like sequence: every transition kind once or twice, a flash, a caption."""
    b.first(_any_shot(b, rng, photos, films, _length(rng)))
    kinds = ["cut", "cut", "dissolve", "fade_black", "fade_white", "cut", "dissolve"]
    rng.shuffle(kinds)
    for kind in kinds:
        shot = _any_shot(b, rng, photos, films, _length(rng))
        if kind == "cut":
            b.cut(shot)
        elif kind == "dissolve":
            b.dissolve(shot, int(rng.integers(6, 24)), eased=rng.random() < 0.5)
        else:
            level = 0 if kind == "fade_black" else 255
            b.fade(
                shot,
                int(rng.integers(4, 14)),
                int(rng.integers(0, 10)),
                int(rng.integers(4, 14)),
                level=level,
            )
    at = int(rng.integers(30, b.at - 30))
    if not any(bd.start - 12 <= at <= bd.end + 12 for bd in b.clip.boundaries):
        s, e = flash(b.clip.frames, at, float(rng.uniform(0.6, 0.9)), int(rng.integers(0, 5)))
        b.event("flash", s, e)


def text_over(
    frames: list[Frame], first: int, last: int, text: str, where: float, colour: tuple[int, int, int]
) -> None:
    """Large text straight over the picture (no box), as ad captions often are."""
    for k in range(first, min(last + 1, len(frames))):
        frame = frames[k].copy()
        height, width = frame.shape[:2]
        scale = height / 110
        origin = (int(width * 0.06), int(height * where))
        cv2.putText(
            frame, text, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (0, 0, 0), max(2, height // 40), cv2.LINE_AA
        )
        cv2.putText(
            frame, text, origin, cv2.FONT_HERSHEY_DUPLEX, scale, colour, max(1, height // 60), cv2.LINE_AA
        )
        frames[k] = frame


def zoom(frames: list[Frame], first: int, length: int, factor: float) -> None:
    """A fast zoom into the centre by `factor` over `length` frames (held after)."""
    for index in range(first, len(frames)):
        height, width = frames[index].shape[:2]
        t = min(1.0, (index - first + 1) / length)
        scale = 1 + (factor - 1) * _ease(t)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0, scale)
        frames[index] = np.asarray(cv2.warpAffine(frames[index], matrix, (width, height)), np.uint8)


def tint(frames: list[Frame], first: int, ramp: int, bgr: tuple[float, float, float]) -> None:
    """Coloured light: each channel scaled towards `bgr` gains from `first` over `ramp` frames."""
    for index in range(first, len(frames)):
        t = 1.0 if ramp == 0 else min(1.0, (index - first + 1) / ramp)
        gains = np.array([1 + (g - 1) * t for g in bgr], np.float32)
        frames[index] = np.asarray(np.clip(frames[index].astype(np.float32) * gains, 0, 255), np.uint8)


def script_hard_events(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """Harder non-boundaries: long whip pans, big text over the picture, a full-frame occlusion,
    sudden and coloured lighting, fast zooms, a flash on a dark shot; cuts and dissolves between."""
    ref = photos[int(rng.integers(len(photos)))]
    frames, at, length = _length(rng, 2.6, 3.6), int(rng.integers(18, 26)), int(rng.integers(3, 13))
    b.first(whip_pan(ref, frames, b.size, at, length, rng))
    b.event("whip_pan", at, at + length - 1)
    # big text popping in and out over the picture
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.6, 3.6))
    start = b.at
    b.cut(shot)
    first, last = start + int(rng.integers(10, 20)), start + int(rng.integers(45, 60))
    colour = (int(rng.integers(0, 256)), int(rng.integers(0, 256)), 255)
    text_over(
        b.clip.frames,
        first,
        last,
        str(rng.choice(["SALE", "NEW!", "-50%", "HOT"])),
        float(rng.uniform(0.45, 0.8)),
        colour,
    )
    b.event("caption", first, first)
    b.event("caption", last + 1, last + 1)
    # a dark foreground object covering the whole frame for a moment
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.6, 3.6))
    start = b.at
    b.dissolve(shot, int(rng.integers(6, 14)))
    first, length = start + int(rng.integers(14, 22)), int(rng.integers(10, 16))
    occlusion(b.clip.frames, first, length, (int(rng.integers(0, 40)),) * 3, float(rng.uniform(1.2, 1.6)))
    b.event("occlusion", first, first + length - 1)
    # sudden or coloured lighting
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.6, 3.6))
    start = b.at
    b.cut(shot)
    first = start + int(rng.integers(20, 40))
    if rng.random() < 0.5:
        lighting(b.clip.frames, first, int(rng.choice([0, 0, 3])), float(rng.choice([0.45, 0.6, 1.6, 1.9])))
    else:
        gains = [(1.3, 0.9, 0.7), (0.7, 0.95, 1.3), (0.8, 1.25, 0.8)][int(rng.integers(3))]
        tint(b.clip.frames, first, int(rng.choice([0, 4, 10])), gains)
    b.event("lighting", first, first + 10)
    # a fast zoom
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.6, 3.6))
    start = b.at
    b.cut(shot)
    first, length = start + int(rng.integers(15, 30)), int(rng.integers(5, 12))
    zoom(b.clip.frames, first, length, float(rng.uniform(1.4, 2.0)))
    b.event("fast_motion", first, first + length - 1)
    # a flash on a dark shot
    shot = _any_shot(b, rng, photos, films, _length(rng, 2.6, 3.6))
    shot.frames = [np.asarray(f * 0.45, np.uint8) for f in shot.frames]
    start = b.at
    b.dissolve(shot, int(rng.integers(10, 20)))
    at = start + int(rng.integers(20, 35))
    s_, e_ = flash(b.clip.frames, at, float(rng.uniform(0.6, 0.95)), int(rng.choice([0, 2, 5, 9])))
    b.event("flash", s_, e_)
    b.cut(_any_shot(b, rng, photos, films, _length(rng, 1.6, 2.4)))


def script_edges(
    b: Builder, rng: np.random.Generator, photos: list[str], films: list[tuple[Path, int, int]]
) -> None:
    """A fade in from black at the start and out at the end (no boundaries), very short and very
    long dissolves, quick dips to black, film-to-film dissolves under motion."""
    first = _any_shot(b, rng, photos, films, _length(rng, 2.0, 3.0))
    for k in range(12):
        first.frames[k] = _blend(first.frames[k], _solid(first.frames[k], 0), 1 - (k + 1) / 13)
    b.first(first)
    b.dissolve(
        _any_shot(b, rng, photos, films, _length(rng, 2.4, 3.2)), int(rng.integers(4, 6)), detail="short"
    )
    b.dissolve(
        _any_shot(b, rng, photos, films, _length(rng, 3.2, 4.0)),
        int(rng.integers(30, 45)),
        eased=True,
        detail="long",
    )
    b.fade(
        _any_shot(b, rng, photos, films, _length(rng, 2.0, 3.0)),
        2,
        int(rng.integers(0, 3)),
        3,
        detail="quick dip",
    )
    if films:
        a = film_shot(films[int(rng.integers(len(films)))], _length(rng, 2.0, 3.0), b.size, rng)
        b.cut(a)
        c = film_shot(films[int(rng.integers(len(films)))], _length(rng, 2.0, 3.0), b.size, rng)
        b.dissolve(c, int(rng.integers(10, 20)), detail="film to film")
    last = _any_shot(b, rng, photos, films, _length(rng, 2.0, 3.0))
    b.cut(last)
    frames = b.clip.frames
    for k in range(10):
        index = len(frames) - 10 + k
        frames[index] = _blend(frames[index], _solid(frames[index], 0), (k + 1) / 10)


SCRIPTS: tuple[CaseScript, ...] = (
    script_fade_holds,
    script_white_fades,
    script_chained_dissolves,
    script_same_photo,
    script_flashes,
    script_motion_events,
    script_mixed,
    script_hard_events,
    script_edges,
)


def build_case(index: int, seed: int = 1601) -> ShotClip:
    """Tuning clip `index`: script `index % len(SCRIPTS)`, size and content from the seed."""
    rng = np.random.default_rng(seed * 1000 + index)
    script = SCRIPTS[index % len(SCRIPTS)]
    size = SIZES[(index // len(SCRIPTS)) % len(SIZES)]
    photos = available_photos()
    if not photos:
        raise FileNotFoundError("no photos installed (opencv-doc, scikit-image or scikit-learn)")
    builder = Builder(f"{script.__name__.removeprefix('script_')}-{index}", size)
    script(builder, rng, photos, available_films())
    _drop_flash_overlaps(builder.clip)
    return builder.clip


def _drop_flash_overlaps(clip: ShotClip) -> None:
    """A flash placed on a transition would make its label ambiguous: ignore that stretch."""
    for event in clip.events:
        if event.kind != "flash":
            continue
        for boundary in clip.boundaries:
            if boundary.start - 6 <= event.end and event.start <= boundary.end + 6:
                clip.ignore.append((event.start - 2, event.end + 2))


def build_cases(count: int = 21, seed: int = 1601) -> list[ShotClip]:
    return [build_case(i, seed) for i in range(count)]


def encode(clip: ShotClip, crf: int = 18) -> bytes:
    """H.264 MP4 of the clip (libx264 `veryfast`, CRF `crf`)."""
    height, width = clip.frames[0].shape[:2]
    writer = Mp4Writer(width, height, Fraction(clip.fps), preset="veryfast", crf=crf)
    for frame in clip.frames:
        writer.write(frame)
    return writer.close()


def labels(clip: ShotClip) -> tuple[list[tuple[str, int, int, int]], list[tuple[str, int, int]]]:
    """Boundaries as (kind, frame, start, end) and events as (kind, start, end), for the scorer."""
    return (
        [(b.kind, b.frame, b.start, b.end) for b in clip.boundaries],
        [(e.kind, e.start, e.end) for e in clip.events],
    )


def kinds(clips: Sequence[ShotClip]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for clip in clips:
        for b in clip.boundaries:
            counts[b.kind] = counts.get(b.kind, 0) + 1
        for e in clip.events:
            counts[e.kind] = counts.get(e.kind, 0) + 1
    return counts
