"""Product cut-outs with exact masks, the backgrounds they are pasted on, and studio product shots.

No product photos with masks ship offline, so pictures whose true product mask is known are
made from cut-outs composited onto backgrounds, in four placements (centred, off-centre, tall,
wide). Cut-outs:

- procedural garments from `creativeloop.datasets.garments` (mask re-drawn from the same outlines);
- a real photo with its alpha matte (Debian opencv-doc: the alphamat plant);
- MPEG-7 silhouettes (opencv-doc shape samples) filled with real photo texture, and the
  scikit-image horse silhouette;
- the OpenCV logo (real alpha).

Backgrounds: ``plain`` (studio white / light grey / pastel with a faint vignette, sensor noise
and a soft shadow), ``gradient`` (a studio sweep), ``texture`` (brick, gravel, grass, wood-like
photo crops) and ``photo`` (real scenes). `build_cases` is the set the product-box report
(`creativeloop eval product-box`) measures on; `product_shot` is the studio picture of one
cut-out that the aesthetics model trains on (``product:<cut-out>:<backdrop>`` references).
Everything is deterministic for its seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets import garments as g
from creativeloop.datasets.photos import OPENCV_DOC, load_image_file, missing_photos, photo_path
from creativeloop.understanding.product_box import Image

Alpha = npt.NDArray[np.float32]
BACKGROUND_KINDS = ("plain", "gradient", "texture", "photo")
PLACEMENTS = ("centre", "off_centre", "tall", "wide")


@dataclass(frozen=True)
class Cutout:
    """An object's pixels (BGR) and its alpha (0..1), cropped to the object."""

    name: str
    bgr: Image
    alpha: Alpha


def _crop_to_alpha(name: str, bgr: Image, alpha: Alpha) -> Cutout:
    points = cv2.findNonZero((alpha > 0.02).astype(np.uint8))
    if points is None:
        raise ValueError(f"cut-out {name} is empty")
    x, y, w, h = cv2.boundingRect(points)
    return Cutout(name, bgr[y : y + h, x : x + w].copy(), alpha[y : y + h, x : x + w].copy())


def garment_cutout(silhouette: str, colour: str, material: str = "", look: str = "", seed: int = 0) -> Cutout:
    """A demo garment and its exact mask.

    `render_garment` returns only the PNG; the mask is redrawn here from the same outlines with
    the same random draws (the outline is the first thing drawn from the seeded generator).
    """
    png = g.render_garment(silhouette, colour, material, look, seed)
    bgr = np.asarray(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    pieces, _ = g.SILHOUETTES.get(silhouette, g._tee)(rng)
    if look in g._CUT:
        y0, flare, shorten = g._CUT[look]
        pieces[-1] = g._shorten(g._flare(pieces[-1], y0, flare), y0, shorten)
    sx = g._STRETCH.get(silhouette, 1.28)
    big = np.zeros((g._W * g._SS, g._W * g._SS), dtype=np.uint8)
    for piece in pieces:
        cv2.fillPoly(big, [g._px(g._chaikin(g._stretch(piece, sx)), g._SS)], 255)
    alpha = cv2.resize(big, (g._W, g._W), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return _crop_to_alpha(f"garment-{silhouette}-{colour.lower()}", bgr, alpha)


def _texture_fill(mask: Image, texture: Image, name: str) -> Cutout:
    h, w = mask.shape
    tex = cv2.resize(
        texture, (w, h), interpolation=cv2.INTER_AREA if texture.shape[1] > w else cv2.INTER_CUBIC
    )
    # A little shading from the outline inwards, as a lit solid object would have.
    dist = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 5)
    shade = 0.78 + 0.22 * (1.0 - np.exp(-dist / (0.06 * max(h, w))))
    bgr = np.clip(tex.astype(np.float32) * shade[..., None], 0, 255).astype(np.uint8)
    alpha = np.asarray(cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.7), dtype=np.float32)
    return _crop_to_alpha(name, bgr, alpha)


def shape_cutout(shape: int, texture_ref: str) -> Cutout:
    """MPEG-7 silhouette ``shape`` (opencv-doc sample) filled with a real photo's texture."""
    shape_file = load_image_file(OPENCV_DOC / f"shape/data/shape_sample/{shape}.png")
    mask = np.asarray(cv2.cvtColor(shape_file, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    texture = load_image_file(photo_path(texture_ref))
    return _texture_fill(mask, texture, f"shape{shape}-{texture_ref.rsplit('/', 1)[-1].split('.')[0]}")


def horse_cutout(texture_ref: str) -> Cutout:
    horse = load_image_file(photo_path("skimage:horse.png"))
    mask = np.where(cv2.cvtColor(horse, cv2.COLOR_BGR2GRAY) < 128, 255, 0).astype(np.uint8)
    return _texture_fill(mask, load_image_file(photo_path(texture_ref)), "horse")


def plant_cutout() -> Cutout:
    """A real photo with its alpha matte (opencv-doc alphamat sample)."""
    photo = load_image_file(OPENCV_DOC / "alphamat/input_images/plant.jpg")
    matte = load_image_file(OPENCV_DOC / "alphamat/output_mattes/plant_result.png")
    alpha = cv2.cvtColor(matte, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    return _crop_to_alpha("plant-photo", photo, alpha)


def logo_cutout() -> Cutout:
    raw = cv2.imread(str(OPENCV_DOC / "data/opencv-logo.png"), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise FileNotFoundError(OPENCV_DOC / "data/opencv-logo.png")
    return _crop_to_alpha(
        "opencv-logo", np.ascontiguousarray(raw[..., :3]), raw[..., 3].astype(np.float32) / 255.0
    )


#: Every cut-out of the evaluation set, by name; the first five need only PyPI packages.
CUTOUTS: dict[str, Callable[[], Cutout]] = {
    "dress": lambda: garment_cutout("dress", "Red", seed=1),
    "jeans": lambda: garment_cutout("jeans", "Blue", "Denim", seed=2),
    "tee": lambda: garment_cutout("tee", "White", seed=3),
    "coat": lambda: garment_cutout("coat", "Camel", "Wool", seed=4),
    "skirt": lambda: garment_cutout("skirt", "Navy", look="Floral", seed=5),
    "sweater": lambda: garment_cutout("sweater", "Grey", "Knit", seed=6),
    "plant": plant_cutout,
    "logo": logo_cutout,
    "apple-shape": lambda: shape_cutout(1, "opencv-doc:data/orange.jpg"),
    "bird-shape": lambda: shape_cutout(5, "skimage:chelsea.png"),
    "car-shape": lambda: shape_cutout(7, "opencv-doc:data/board.jpg"),
    "key-shape": lambda: shape_cutout(15, "skimage:coffee.png"),
    "horse": lambda: horse_cutout("opencv-doc:data/baboon.jpg"),
}
PYPI_ONLY = ("dress", "jeans", "tee", "coat", "skirt", "sweater")

TEXTURES = ("skimage:brick.png", "skimage:gravel.png", "skimage:grass.png", "opencv-doc:data/graf1.png")
PHOTOS = (
    "opencv-doc:data/building.jpg",
    "opencv-doc:data/leuvenA.jpg",
    "opencv-doc:hfs/data/001.jpg",
    "sklearn:china.jpg",
    "opencv-doc:data/aero1.jpg",
    "skimage:motorcycle_left.png",
)
PYPI_TEXTURES = ("skimage:brick.png", "skimage:gravel.png", "skimage:grass.png")
PYPI_PHOTOS = ("sklearn:china.jpg", "skimage:motorcycle_left.png", "skimage:astronaut.png")


def _cover(image: Image, width: int, height: int) -> Image:
    """Scale ``image`` to cover width x height and centre-crop."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    y0, x0 = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def background(
    kind: str, width: int, height: int, rng: np.random.Generator, pypi_only: bool = False
) -> Image:
    """A ``kind`` background (see `BACKGROUND_KINDS`), deterministic for a given generator."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ny, nx = yy / height - 0.5, xx / width - 0.5
    if kind == "plain":
        colours = [(255, 255, 255), (244, 243, 239), (226, 228, 230), (214, 236, 246), (230, 222, 240)]
        colour = np.array(colours[int(rng.integers(len(colours)))], dtype=np.float32)
        canvas = np.broadcast_to(colour, (height, width, 3)).astype(np.float32)
        canvas *= (1.0 - 0.04 * (nx**2 + ny**2))[..., None]
        canvas += rng.normal(0, 1.5, canvas.shape).astype(np.float32)
        return np.clip(canvas, 0, 255).astype(np.uint8)
    if kind == "gradient":
        top = rng.uniform(150, 250, 3).astype(np.float32)
        bottom = top * rng.uniform(0.55, 0.85)
        t = np.clip(yy / height, 0, 1)[..., None]
        canvas = top * (1 - t) + bottom * t
        canvas *= (1.0 - 0.25 * (nx**2 + ny**2))[..., None]
        return np.asarray(np.clip(canvas + rng.normal(0, 1.5, canvas.shape), 0, 255), dtype=np.uint8)
    if kind == "texture":
        refs: tuple[str, ...] = PYPI_TEXTURES if pypi_only else TEXTURES
        texture = load_image_file(photo_path(refs[int(rng.integers(len(refs)))]))
        tinted = texture.astype(np.float32) * rng.uniform(0.7, 1.1, 3).astype(np.float32)
        tile = np.clip(tinted, 0, 255).astype(np.uint8)
        reps = (height // tile.shape[0] + 1, width // tile.shape[1] + 1, 1)
        return np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    if kind == "photo":
        refs = PYPI_PHOTOS if pypi_only else PHOTOS
        return _cover(load_image_file(photo_path(refs[int(rng.integers(len(refs)))])), width, height)
    raise ValueError(f"unknown background kind {kind!r}; known: {BACKGROUND_KINDS}")


def compose(
    cut: Cutout, canvas: Image, placement: str, rng: np.random.Generator, shadow: bool = True
) -> tuple[Image, Image]:
    """Paste ``cut`` onto ``canvas`` in ``placement``; returns the picture and the true mask."""
    height, width = canvas.shape[:2]
    ch, cw = cut.alpha.shape
    if placement == "centre":
        scale = min(0.7 * height / ch, 0.7 * width / cw)
        size = (round(cw * scale), round(ch * scale))
        cx, cy = 0.5, 0.5
    elif placement == "off_centre":
        scale = min(0.45 * height / ch, 0.45 * width / cw)
        size = (round(cw * scale), round(ch * scale))
        cx, cy = (0.28, 0.3) if rng.random() < 0.5 else (0.72, 0.68)
    elif placement == "tall":
        size = (max(8, round(0.85 * height * 0.35)), round(0.85 * height))
        cx, cy = rng.uniform(0.3, 0.7), 0.5
    elif placement == "wide":
        size = (round(0.85 * width), max(8, round(0.85 * width / 2.8)))
        cx, cy = 0.5, rng.uniform(0.35, 0.65)
    else:
        raise ValueError(f"unknown placement {placement!r}; known: {PLACEMENTS}")
    w, h = min(size[0], width), min(size[1], height)
    obj = cv2.resize(cut.bgr, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(cut.alpha, (w, h), interpolation=cv2.INTER_AREA)
    x0 = int(np.clip(round(cx * width - w / 2), 0, width - w))
    y0 = int(np.clip(round(cy * height - h / 2), 0, height - h))
    full_alpha = np.zeros((height, width), np.float32)
    full_alpha[y0 : y0 + h, x0 : x0 + w] = alpha
    full_obj = np.zeros((height, width, 3), np.float32)
    full_obj[y0 : y0 + h, x0 : x0 + w] = obj
    base = canvas.astype(np.float32)
    if shadow:
        offset = np.array([[1, 0, 0.012 * width], [0, 1, 0.02 * height]], dtype=np.float32)
        soft = cv2.GaussianBlur(cv2.warpAffine(full_alpha, offset, (width, height)), (0, 0), 0.015 * width)
        base *= (1.0 - 0.25 * soft)[..., None]
    out = full_obj * full_alpha[..., None] + base * (1.0 - full_alpha[..., None])
    mask = np.where(full_alpha >= 0.5, 255, 0).astype(np.uint8)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask


@dataclass(frozen=True)
class Case:
    cutout: str
    background: str
    placement: str
    image: Image
    mask: Image


def build_cases(
    cutouts: Sequence[str] | None = None,
    backgrounds: Sequence[str] = BACKGROUND_KINDS,
    placements: Sequence[str] = PLACEMENTS,
    seed: int = 7,
    pypi_only: bool = False,
) -> Iterator[Case]:
    """Every cut-out x background x placement, deterministic for ``seed``."""
    names = list(CUTOUTS) if cutouts is None else list(cutouts)
    for ci, name in enumerate(names):
        cut = CUTOUTS[name]()
        for bi, kind in enumerate(backgrounds):
            for pi, placement in enumerate(placements):
                rng = np.random.default_rng([seed, ci, bi, pi])
                width, height = [(640, 640), (800, 600), (600, 800)][int(rng.integers(3))]
                if placement == "tall":
                    width, height = 600, 800
                elif placement == "wide":
                    width, height = 800, 600
                canvas = background(kind, width, height, rng, pypi_only=pypi_only)
                image, mask = compose(cut, canvas, placement, rng, shadow=kind in ("plain", "gradient"))
                yield Case(name, kind, placement, image, mask)


# -- studio product shots -----------------------------------------------------------------------

#: The reference source of a studio product shot: ``product:<cut-out>:<backdrop>``, where the
#: cut-out is a `CUTOUTS` name or ``garment/<silhouette>/<Colour>[/<Material>[/<Look>]]``.
PRODUCT = "product"
#: Files the product cut-outs are made from (garments are drawn, they need nothing).
CUTOUT_NEEDS: dict[str, tuple[str, ...]] = {
    "plant": (
        "opencv-doc:alphamat/input_images/plant.jpg",
        "opencv-doc:alphamat/output_mattes/plant_result.png",
    ),
    "logo": ("opencv-doc:data/opencv-logo.png",),
    "apple-shape": ("opencv-doc:shape/data/shape_sample/1.png", "opencv-doc:data/orange.jpg"),
    "bird-shape": ("opencv-doc:shape/data/shape_sample/5.png", "skimage:chelsea.png"),
    "car-shape": ("opencv-doc:shape/data/shape_sample/7.png", "opencv-doc:data/board.jpg"),
    "key-shape": ("opencv-doc:shape/data/shape_sample/15.png", "skimage:coffee.png"),
    "horse": ("skimage:horse.png", "opencv-doc:data/baboon.jpg"),
}


def stable_seed(*parts: object) -> int:
    """A seed from names (CRC-32 of the parts joined by ``|``): the same on every machine."""
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def product_shot(name: str, backdrop: str) -> Image:
    """A studio-style product picture: a cut-out (see `CUTOUTS`) centred on white or light grey
    with a soft shadow, 512 x 512."""
    colour = {"white": 255, "grey": 232}[backdrop]
    canvas = np.full((512, 512, 3), colour, dtype=np.uint8)
    if name.startswith("garment/"):  # garment/<silhouette>/<Colour>[/<Material>[/<Look>]]
        parts = [*name.split("/")[1:], "", ""]
        cut = garment_cutout(parts[0], parts[1], parts[2], parts[3], seed=stable_seed(name) % 1000)
    else:
        cut = CUTOUTS[name]()
    image, _ = compose(cut, canvas, "centre", np.random.default_rng(stable_seed(name, backdrop)))
    return image


def load_picture(ref: str) -> Image:
    """A photo reference (see `creativeloop.datasets.photos`) or a ``product:`` shot, full size."""
    source, _, rel = ref.partition(":")
    if source == PRODUCT:
        name, _, backdrop = rel.rpartition(":")
        return product_shot(name, backdrop)
    return load_image_file(photo_path(ref))


def missing_pictures(refs: Sequence[str]) -> list[str]:
    """`missing_photos` for photo and ``product:`` references (a shot needs its cut-out's files)."""
    missing = []
    for ref in refs:
        source, _, rel = ref.partition(":")
        if source == PRODUCT:
            missing += missing_photos(CUTOUT_NEEDS.get(rel.rpartition(":")[0], ()))
        else:
            missing += missing_photos([ref])
    return missing
