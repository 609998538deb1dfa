"""Synthetic product videos with known shot boundaries, for tests, quality figures and benchmarks.

A video is a list of shots (textured scenes, a product that moves through some of them, camera
pans, white flashes, captions) joined by hard cuts, fades through black or dissolves. Because the
project draws every frame, it knows every boundary's exact frame span, where the product is in
each frame and which bursts are flashes (not cuts).

>>> video = make_video([ShotSpec(1.0, seed=1), ShotSpec(1.0, seed=2)], ["cut"], size=(96, 64))
>>> len(video.frames), [(b.kind, b.start, b.end) for b in video.boundaries]
(50, [('cut', 25, 25)])
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from creativeloop.videogen.encode import Mp4Writer
from creativeloop.videogen.media import Frame

TransitionKind = Literal["cut", "fade", "dissolve"]
#: The product's colour (BGR): a saturated orange that no background uses.
PRODUCT_BGR = (20, 110, 245)


@dataclass(frozen=True)
class ShotSpec:
    """One shot: its length, its scene (seed), and what happens in it."""

    seconds: float
    seed: int
    #: Camera pan speed, in frame widths per second.
    pan: float = 0.0
    product: bool = True
    #: Where the product's centre moves, as fractions of the width: (start, end).
    product_path: tuple[float, float] = (0.35, 0.65)
    #: Seconds into the shot at which a two-frame white flash happens.
    flashes: tuple[float, ...] = ()
    #: A caption block over the lower third.
    caption: bool = False


@dataclass(frozen=True)
class Boundary:
    """A true shot boundary: `start`..`end` are the first and last frame of the change
    (equal for a hard cut: the first frame of the new shot)."""

    kind: TransitionKind
    start: int
    end: int


@dataclass
class SyntheticVideo:
    frames: list[Frame]
    fps: Fraction
    boundaries: list[Boundary]
    #: Per frame, the product's centre x as a fraction of the width (NaN when absent).
    product_x: list[float] = field(default_factory=list)
    #: First frames of the flashes.
    flashes: list[int] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def duration_s(self) -> float:
        return len(self.frames) / float(self.fps)


def _scene(seed: int, width: int, height: int) -> Frame:
    """A textured background twice as wide as the frame (room for pans), distinct per seed."""
    rng = np.random.default_rng(seed)
    hue = int(rng.integers(0, 180))
    hsv = np.zeros((height, width * 2, 3), np.uint8)
    hsv[..., 0] = (hue + np.linspace(0, 25, width * 2)[None, :]).astype(np.uint8) % 180
    hsv[..., 1] = int(rng.integers(60, 200))
    hsv[..., 2] = np.linspace(int(rng.integers(90, 160)), int(rng.integers(120, 230)), height)[
        :, None
    ].astype(np.uint8)
    canvas = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    for _ in range(14):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width * 2)), int(rng.integers(0, height))
        size = int(rng.integers(height // 10, height // 3))
        if rng.random() < 0.5:
            cv2.rectangle(canvas, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(canvas, (x, y), size // 2, colour, -1)
    noise = rng.normal(0, 6, canvas.shape)
    return np.asarray(np.clip(canvas + noise, 0, 255), dtype=np.uint8)


def draw_product(frame: Frame, cx: float, cy: float, scale: float) -> None:
    """The product: an orange bottle-like ellipse with a white label (in place)."""
    height = frame.shape[0]
    axes = (max(2, int(height * 0.16 * scale)), max(3, int(height * 0.3 * scale)))
    centre = (int(cx), int(cy))
    cv2.ellipse(frame, centre, axes, 0, 0, 360, PRODUCT_BGR, -1, cv2.LINE_AA)
    label = (max(1, axes[0] * 3 // 4), max(1, axes[1] // 4))
    cv2.rectangle(
        frame,
        (centre[0] - label[0], centre[1] - label[1]),
        (centre[0] + label[0], centre[1] + label[1]),
        (250, 250, 250),
        -1,
    )


def _shot_frames(spec: ShotSpec, width: int, height: int, fps: float) -> tuple[list[Frame], list[float]]:
    scene = _scene(spec.seed, width, height)
    count = max(1, round(spec.seconds * fps))
    flash_frames = {round(t * fps) + k for t in spec.flashes for k in (0, 1)}
    frames, xs = [], []
    for i in range(count):
        t = i / max(1, count - 1)
        offset = int(min(width, spec.pan * width * i / fps)) if spec.pan else 0
        frame = np.ascontiguousarray(scene[:, offset : offset + width])
        x = math.nan
        if spec.product:
            start, end = spec.product_path
            x = start + (end - start) * t
            draw_product(frame, x * width, height * 0.5, 1.0)
        if spec.caption:
            cv2.rectangle(frame, (0, int(height * 0.72)), (width, int(height * 0.95)), (20, 20, 20), -1)
            cv2.putText(
                frame,
                "SALE -50% TODAY",
                (int(width * 0.05), int(height * 0.88)),
                cv2.FONT_HERSHEY_SIMPLEX,
                height / 300,
                (255, 255, 255),
                max(1, height // 120),
                cv2.LINE_AA,
            )
        if i in flash_frames:
            frame = cv2.addWeighted(frame, 0.15, np.full_like(frame, 255), 0.85, 0)
        frames.append(frame)
        xs.append(x)
    return frames, xs


def make_video(
    shots: Sequence[ShotSpec],
    transitions: Sequence[TransitionKind],
    *,
    size: tuple[int, int] = (192, 108),
    fps: int = 25,
    transition_frames: int = 12,
) -> SyntheticVideo:
    """Join `shots` with `transitions` (one fewer); record every boundary's frame span."""
    if len(transitions) != len(shots) - 1:
        raise ValueError("need exactly one transition between consecutive shots")
    width, height = size
    frames: list[Frame] = []
    xs: list[float] = []
    boundaries: list[Boundary] = []
    flashes: list[int] = []
    for index, spec in enumerate(shots):
        shot, shot_x = _shot_frames(spec, width, height, fps)
        offset = len(frames)
        if index > 0:
            kind = transitions[index - 1]
            span = min(transition_frames, len(shot) // 2, len(frames) // 2)
            if kind == "cut" or span < 2:
                boundaries.append(Boundary("cut", len(frames), len(frames)))
            elif kind == "dissolve":  # the last `span` frames of A blend into the first of B
                start = len(frames) - span
                for k in range(span):
                    alpha = (k + 1) / (span + 1)
                    frames[start + k] = cv2.addWeighted(frames[start + k], 1 - alpha, shot[k], alpha, 0)
                    xs[start + k] = shot_x[k] if alpha >= 0.5 else xs[start + k]
                shot, shot_x = shot[span:], shot_x[span:]
                offset = start
                boundaries.append(Boundary("dissolve", start, start + span - 1))
            else:  # fade: A darkens to black over half the span, B brightens from black
                half = span // 2
                start = len(frames) - half
                for k in range(half):
                    frames[start + k] = (frames[start + k] * (1 - (k + 1) / half)).astype(np.uint8)
                for k in range(half):
                    shot[k] = (shot[k] * (k / half)).astype(np.uint8)
                boundaries.append(Boundary("fade", start, len(frames) + half - 1))
        flashes += [offset + round(t * fps) for t in spec.flashes]
        frames += shot
        xs += shot_x
    return SyntheticVideo(frames, Fraction(fps), boundaries, xs, flashes)


def default_script(seconds_per_shot: float = 2.0) -> tuple[list[ShotSpec], list[TransitionKind]]:
    """Eight shots exercising every case: cuts, a fade, dissolves, flashes, a fast pan, a caption,
    shots with and without the product."""
    s = seconds_per_shot
    shots = [
        ShotSpec(s, seed=11),
        ShotSpec(s, seed=12, product=False, flashes=(s / 2,)),
        ShotSpec(s, seed=13, pan=0.25, product_path=(0.2, 0.8)),
        ShotSpec(s, seed=14, caption=True),
        ShotSpec(s, seed=15, product=False, pan=0.15),
        ShotSpec(s, seed=16, flashes=(s / 4, s / 2)),
        ShotSpec(s, seed=17, product_path=(0.7, 0.3)),
        ShotSpec(s, seed=18, product=False),
    ]
    transitions: list[TransitionKind] = ["cut", "dissolve", "cut", "fade", "cut", "dissolve", "cut"]
    return shots, transitions


def tone(seconds: float, rate: int = 48_000, frequency: float = 440.0) -> np.ndarray:
    """A stereo sine [2, n] in float32 (a test soundtrack)."""
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.2 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.stack([wave, wave])


def to_mp4(video: SyntheticVideo, *, audio: bool = False, preset: str = "ultrafast") -> bytes:
    """Encode as H.264 MP4 (with a 440 Hz stereo tone when `audio`)."""
    writer = Mp4Writer(
        video.width, video.height, video.fps, preset=preset, crf=18, audio_rate=48_000 if audio else None
    )
    if audio:
        writer.write_audio(tone(video.duration_s))
    for frame in video.frames:
        writer.write(frame)
    return writer.close()


def product_png(size: tuple[int, int] = (240, 320)) -> bytes:
    """The product alone on white, as a product image would show it (PNG)."""
    width, height = size
    canvas = np.full((height, width, 3), 250, np.uint8)
    draw_product(canvas, width / 2, height / 2, 1.1)
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)).save(buffer, format="PNG")
    return buffer.getvalue()


def random_script(
    seed: int, shots: int = 10, seconds: tuple[float, float] = (1.0, 3.0)
) -> tuple[list[ShotSpec], list[TransitionKind]]:
    """A reproducible random script: shot lengths, pans, flashes, product presence, transitions."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(shots):
        length = float(rng.uniform(*seconds))
        flashes = (
            tuple(float(t) for t in rng.uniform(0.6, length - 0.6, int(rng.integers(0, 3))))
            if length > 1.4
            else ()
        )
        start, end = (float(v) for v in rng.uniform(0.2, 0.8, 2))
        specs.append(
            ShotSpec(
                length,
                seed=seed * 100 + i,
                pan=float(rng.choice([0.0, 0.0, 0.1, 0.3])),
                product=bool(rng.random() < 0.6),
                product_path=(start, end),
                flashes=flashes,
                caption=bool(rng.random() < 0.2),
            )
        )
    kinds: list[TransitionKind] = ["cut", "cut", "fade", "dissolve"]
    transitions = [kinds[int(k)] for k in rng.integers(0, len(kinds), shots - 1)]
    return specs, transitions
