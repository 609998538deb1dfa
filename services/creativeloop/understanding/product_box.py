"""Where the main product is: a bounding box and a binary mask, good enough to cut it out.

No pretrained detector or segmenter ships offline (docs/models/README.md lists what does), so this
is classical vision:

1. a *background colour model* from the image border (product shots are usually framed with
   background all round): k-means of the border's Lab colours, each pixel scored by its distance
   to the nearest background colour;
2. *saliency* (spectral residual + fine-grained), which carries the textured-background case where
   the colour model cannot;
3. the two mixed by how plain the border is, then **GrabCut** initialised from that map (sure and
   probable foreground / background), which snaps the mask to the product's edges;
4. clean-up: opening/closing, the largest connected component (plus any nearly as large), holes
   filled, mask upsampled with smooth edges.

Work happens on a copy at most ``work_size`` pixels on its long side; the mask comes back at full
resolution. ``confidence`` says how separable product and background were (low on busy
backgrounds or when nothing stands out), so callers can fall back to the whole image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from creativeloop.kit.images import decode_image as decode_picture

Image = npt.NDArray[np.uint8]
FloatMap = npt.NDArray[np.float32]

_BORDER = 0.05  # share of the short side used as the border band
#: The smallest side a product can be located in; smaller images are rejected when loaded.
MIN_SIDE = 16
_MIN_SIDE = MIN_SIDE
_TEXTURE_WEIGHT = 10.0
_DIST_SCALE = 3.0
_TRUST_BASE = 0.6
_SUPERPIXELS = 250
_CLIP = 4.0
_RBD_WEIGHT = 0.75
_SHADOW_CHROMA = 6.0  # Lab a/b units from the backdrop's hue
_SHADOW_GRADIENT = 14.0  # L units per pixel at work size: softer than a product's edge


@dataclass(frozen=True)
class ProductBox:
    """The main product: box in pixels of the input image, its mask (0/255, HxW) and confidence."""

    x: int
    y: int
    w: int
    h: int
    image_width: int
    image_height: int
    mask: Image
    confidence: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def box_normalised(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) as fractions of the image: what survives a resize of the picture."""
        iw, ih = float(self.image_width), float(self.image_height)
        return (self.x / iw, self.y / ih, self.w / iw, self.h / ih)

    @property
    def fill_ratio(self) -> float:
        """Share of the image the product's mask covers."""
        return float(np.count_nonzero(self.mask)) / float(self.mask.size)

    @property
    def found(self) -> bool:
        return self.confidence > 0.0 and bool(self.mask.any())

    def mask_png(self) -> bytes:
        """The mask as a single-channel PNG (0 background, 255 product), for asset storage."""
        return encode_mask_png(self.mask)

    def cutout_rgba(self, image: Image) -> Image:
        """The product cut out of ``image`` (BGR, same size) as BGRA, cropped to the box."""
        if image.shape[:2] != self.mask.shape:
            raise ValueError(f"image is {image.shape[:2]}, mask is {self.mask.shape}")
        rgba = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
        rgba[..., 3] = self.mask
        return np.ascontiguousarray(rgba[self.y : self.y + self.h, self.x : self.x + self.w], dtype=np.uint8)


def encode_mask_png(mask: Image) -> bytes:
    ok, data = cv2.imencode(".png", np.where(mask > 0, 255, 0).astype(np.uint8))
    if not ok:
        raise ValueError("PNG encoding of the mask failed")
    return bytes(data.tobytes())


def decode_image(data: bytes) -> Image:
    """Encoded bytes (PNG, JPEG, WebP...) to a BGR uint8 array, a transparent picture composited
    on white; `ImageRejected` (a ValueError) when they are not a picture."""
    picture = decode_picture(data, formats=None, keep_alpha=True)
    if picture.alpha is None:
        return picture.pixels
    return as_bgr(np.dstack([picture.pixels, picture.alpha]))


def as_bgr(image: npt.NDArray[np.generic]) -> Image:
    """Grey, BGR or BGRA (any of uint8/uint16/float in 0..1) to BGR uint8; alpha composited on white."""
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {array.shape}")
    if array.dtype == np.uint16:
        array = (array // 257).astype(np.uint8)
    elif array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"unsupported image dtype {array.dtype}")
        array = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        return np.asarray(cv2.cvtColor(array, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    channels = array.shape[2]
    if channels == 1:
        return np.asarray(cv2.cvtColor(array[..., 0], cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if channels == 3:
        return np.ascontiguousarray(array, dtype=np.uint8)
    if channels == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        flat = array[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.asarray(np.clip(flat + 0.5, 0, 255), dtype=np.uint8)
    raise ValueError(f"unsupported channel count {channels}")


def _resize_long(image: Image, long_side: int) -> Image:
    h, w = image.shape[:2]
    scale = long_side / float(max(h, w))
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _normalise(values: FloatMap) -> FloatMap:
    """Scale to 0..1 by the 1st/99th percentiles: robust to a few extreme pixels."""
    lo, hi = np.percentile(values, [1.0, 99.0])
    if hi - lo < 1e-6:
        return np.zeros_like(values)
    return np.asarray(np.clip((values - lo) / (hi - lo), 0.0, 1.0), dtype=np.float32)


def saliency_map(image: Image) -> FloatMap:
    """Spectral residual (global rarity) averaged with fine-grained (centre-surround), 0..1."""
    residual = cv2.saliency.StaticSaliencySpectralResidual_create()  # type: ignore[attr-defined]
    ok1, sr = residual.computeSaliency(image)
    fine = cv2.saliency.StaticSaliencyFineGrained_create()  # type: ignore[attr-defined]
    ok2, fg = fine.computeSaliency(image)
    if not (ok1 and ok2):
        raise ValueError("saliency computation failed")
    sigma = 0.02 * max(image.shape[:2])
    sr_map = _normalise(np.asarray(cv2.GaussianBlur(sr.astype(np.float32), (0, 0), sigma), np.float32))
    fg_map = _normalise(np.asarray(cv2.GaussianBlur(fg.astype(np.float32), (0, 0), sigma), np.float32))
    return np.asarray(0.5 * sr_map + 0.5 * fg_map, dtype=np.float32)


def _border_band(shape: tuple[int, int], width: int) -> npt.NDArray[np.bool_]:
    band = np.zeros(shape, dtype=bool)
    band[:width, :] = True
    band[-width:, :] = True
    band[:, :width] = True
    band[:, -width:] = True
    return band


def pixel_features(small: Image) -> FloatMap:
    """Per-pixel appearance: Lab colour plus local texture (log local std of lightness at two
    scales), so a smooth product separates from a busy background of the same colour."""
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    light = lab[..., 0]
    planes = [lab[..., 0], lab[..., 1], lab[..., 2]]
    for sigma in (1.5, 4.0):
        mean = cv2.GaussianBlur(light, (0, 0), sigma)
        var = cv2.GaussianBlur(light * light, (0, 0), sigma) - mean * mean
        planes.append(np.asarray(_TEXTURE_WEIGHT * np.log1p(np.sqrt(np.maximum(var, 0.0))), np.float32))
    return np.stack(planes, axis=-1).astype(np.float32)


def background_distance(
    feats: FloatMap, band: npt.NDArray[np.bool_], clusters: int = 5
) -> tuple[FloatMap, float]:
    """Per-pixel distance to the nearest border appearance cluster, in units of its spread.

    Returns the distance map and the border's *plainness* in 0..1 (1 = one flat colour all round),
    which decides how far the border model is trusted against saliency.
    """
    dims = feats.shape[-1]
    samples = feats[band].reshape(-1, dims).astype(np.float32)
    k = min(clusters, len(samples))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(12345)  # kmeans is seeded from OpenCV's global RNG: fix it for determinism
    _, labels, centres = cv2.kmeans(samples, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    labels = labels.ravel()
    flat = feats.reshape(-1, dims)
    stats = []  # (centre, per-dimension spread, Lab spread, share) of each background cluster
    for c in range(k):
        members = samples[labels == c]
        share = len(members) / float(len(samples))
        if share < 0.04:  # a product touching the border, not background
            continue
        std = np.sqrt(((members - centres[c]) ** 2).mean(axis=0)) + 2.5
        lab_spread = float(np.sqrt(((members[:, :3] - centres[c][:3]) ** 2).sum(axis=1).mean()))
        stats.append((centres[c], std, lab_spread, share))
    # Plainness: few, tight background colours. A 4-Lab-unit spread is a studio sweep; 25+ is a scene.
    mean_spread = float(np.average([s[2] for s in stats], weights=[s[3] for s in stats])) if stats else 40.0
    kept = [s[0][:3] for s in stats]
    gaps = [float(np.linalg.norm(a - b)) for i, a in enumerate(kept) for b in kept[i + 1 :]]
    centre_gap = max(gaps) if gaps else 0.0
    plainness = float(np.clip(1.0 - (mean_spread + 0.3 * centre_gap - 4.0) / 22.0, 0.0, 1.0))
    # Texture only matters against a busy border; on a plain one it blurs a halo round the product.
    weights = np.array([1.0, 1.0, 1.0] + [1.0 - plainness] * (dims - 3), dtype=np.float32)
    weights /= weights.sum()
    best = np.full(flat.shape[0], np.inf, dtype=np.float32)
    for centre, std, _, _ in stats:
        dist = np.sqrt(((((flat - centre) / std) ** 2) * weights).sum(axis=1))
        best = np.minimum(best, dist.astype(np.float32))
    return best.reshape(feats.shape[:2]), plainness


def _superpixels(lab: FloatMap) -> tuple[npt.NDArray[np.int32], int]:
    h, w = lab.shape[:2]
    size = max(6, round(math.sqrt(h * w / _SUPERPIXELS)))
    lab8 = np.clip(lab, 0, 255).astype(np.uint8)
    slic = cv2.ximgproc.createSuperpixelSLIC(lab8, algorithm=cv2.ximgproc.SLICO, region_size=size)
    slic.iterate(5)
    labels = np.asarray(slic.getLabels(), dtype=np.int32)
    # Renumber to 0..n-1 without gaps (SLIC may leave empty labels).
    _, dense = np.unique(labels, return_inverse=True)
    dense = dense.reshape(h, w).astype(np.int32)
    return np.asarray(dense, dtype=np.int32), int(dense.max()) + 1


def boundary_connectivity(feats: FloatMap) -> FloatMap:
    """Background-robust saliency on superpixels (Zhu et al., CVPR 2014, "Saliency optimization
    from robust background detection"): a region is background when it is connected to the image
    border by paths of similar appearance, whatever the background's texture or colours."""
    labels, n = _superpixels(feats[..., :3])
    flat_labels = labels.ravel()
    counts = np.bincount(flat_labels, minlength=n).astype(np.float64)
    dims = feats.shape[-1]
    means = (
        np.stack(
            [np.bincount(flat_labels, weights=feats[..., d].ravel(), minlength=n) for d in range(dims)],
            axis=1,
        )
        / np.maximum(counts, 1)[:, None]
    )
    means[:, 0] *= 100.0 / 255.0  # OpenCV's 8-bit L is 0..255; the sigmas below are in CIE units
    # Adjacent superpixel pairs (4-connectivity) and border superpixels.
    pairs = np.concatenate(
        [
            np.stack([labels[:, 1:].ravel(), labels[:, :-1].ravel()], 1),
            np.stack([labels[1:, :].ravel(), labels[:-1, :].ravel()], 1),
        ]
    )
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    first, second = np.triu_indices(len(border), k=1)
    # Border superpixels are linked to each other (Zhu et al.): the background is one region.
    edges = np.concatenate([pairs, np.stack([border[first], border[second]], 1)]).astype(np.int64)
    appearance = np.sqrt(((means[edges[:, 0]] - means[edges[:, 1]]) ** 2).sum(axis=1))
    # Weight clipping (Wei et al., ECCV 2012): small steps inside a smooth region cost nothing,
    # so distances do not accumulate across a large plain background.
    weights = np.maximum(appearance - _CLIP, 0.0) + 1e-3
    graph = coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    geodesic = shortest_path(graph, method="D", directed=False)
    sigma_clr = 10.0
    similar = np.exp(-(geodesic**2) / (2 * sigma_clr**2))
    area = similar.sum(axis=1)
    length = similar[:, border].sum(axis=1)
    bnd_con = length / np.sqrt(area)
    w_bg = 1.0 - np.exp(-(bnd_con**2) / 2.0)
    # Zhu et al. weigh contrast by this; on cluttered scenes a lone odd superpixel is also "not
    # connected", so require foreground to belong to a sizeable coherent region (4 % of the image).
    scores = (1.0 - w_bg) * (1.0 - np.exp(-area / (0.04 * n)))
    return np.asarray(scores[labels], dtype=np.float32)


def foreground_probability(small: Image) -> tuple[FloatMap, float]:
    """A 0..1 map of how product-like each pixel is, and the border plainness behind it."""
    h, w = small.shape[:2]
    feats = pixel_features(small)
    band = _border_band((h, w), max(2, round(_BORDER * min(h, w))))
    dist, plainness = background_distance(feats, band)
    colour = (1.0 - np.exp(-((dist / _DIST_SCALE) ** 2))).astype(np.float32)
    sal = saliency_map(small)
    sal = _RBD_WEIGHT * boundary_connectivity(feats) + (1.0 - _RBD_WEIGHT) * sal
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = np.exp(-(((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / (2 * 0.35**2))).astype(np.float32)
    trust = _TRUST_BASE + (1.0 - _TRUST_BASE - 0.1) * plainness  # weight of the border model
    prob = trust * colour + (1.0 - trust) * (0.8 * sal + 0.2 * centre)
    return np.clip(prob, 0.0, 1.0).astype(np.float32), plainness


def _keep_main_components(mask: Image, prob: FloatMap) -> Image:
    """The main component (most foreground evidence, not only area) plus the parts of a
    multi-piece product: components near its box with some size (a pair of shoes, a logo's text)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    evidence = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=count)[1:]
    main = int(np.argmax(evidence)) + 1
    x, y, w, h, area = (int(v) for v in stats[main])
    pad_x, pad_y = 0.15 * w + 2, 0.15 * h + 2
    keep = [main]
    for i in range(1, count):
        if i == main:
            continue
        cx, cy, cw, ch, carea = (int(v) for v in stats[i])
        near = cx + cw >= x - pad_x and cx <= x + w + pad_x and cy + ch >= y - pad_y and cy <= y + h + pad_y
        if carea >= 0.5 * area or (near and carea >= 0.01 * area):
            keep.append(i)
    return np.where(np.isin(labels, keep), 255, 0).astype(np.uint8)


def _fill_holes(mask: Image) -> Image:
    h, w = mask.shape
    flood = np.zeros((h + 2, w + 2), dtype=np.uint8)
    flood[1:-1, 1:-1] = mask
    cv2.floodFill(flood, None, (0, 0), 128)
    holes = flood[1:-1, 1:-1] == 0
    out = mask.copy()
    out[holes] = 255
    return out


def _trim_shadow(small: Image, fg: Image, plainness: float) -> Image:
    """Give a cast shadow back to the background: on a plain backdrop, a shadow has the
    backdrop's hue, is darker, and fades in softly, while the product meets it at a sharp edge.
    Background is grown into the mask through such pixels only, so the flood stops at the product.
    """
    if plainness < 0.5 or not fg.any():
        return fg
    h, w = fg.shape
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    band = _border_band((h, w), max(2, round(_BORDER * min(h, w))))
    light, a_ref, b_ref = (float(np.median(lab[..., i][band & (fg == 0)])) for i in range(3))
    grad = (
        cv2.magnitude(cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0), cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1))
        / 8.0
    )
    shadow_like = (
        (np.abs(lab[..., 1] - a_ref) < _SHADOW_CHROMA)
        & (np.abs(lab[..., 2] - b_ref) < _SHADOW_CHROMA)
        & (lab[..., 0] < light - 2.0)
        & (lab[..., 0] > 0.45 * light)
        & (grad < _SHADOW_GRADIENT)
    )
    passable = ((fg == 0) | shadow_like).astype(np.uint8)
    _, labels = cv2.connectedComponents(passable, connectivity=4)
    background_labels = np.unique(labels[(fg == 0) & (labels > 0)])
    reached = np.isin(labels, background_labels) & (fg > 0)
    if reached.sum() > 0.6 * np.count_nonzero(fg):  # that was the product, not its shadow
        return fg
    out = fg.copy()
    out[reached] = 0
    return np.asarray(cv2.morphologyEx(out, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)), dtype=np.uint8)


def _empty(width: int, height: int) -> ProductBox:
    mask = np.zeros((height, width), dtype=np.uint8)
    return ProductBox(0, 0, width, height, width, height, mask, 0.0)


def locate_product(
    image: npt.NDArray[np.generic], *, work_size: int = 200, iterations: int = 3
) -> ProductBox:
    """Box and mask of the main product in ``image`` (BGR, BGRA or grey; uint8).

    Nothing found (flat image, or no region separates from the background) gives the whole image
    as the box, an empty mask and confidence 0.
    """
    bgr = as_bgr(image)
    height, width = bgr.shape[:2]
    if min(height, width) < _MIN_SIDE:
        raise ValueError(f"image {width}x{height} is too small to locate a product (min {_MIN_SIDE} px)")
    small = _resize_long(bgr, work_size)
    h, w = small.shape[:2]
    if float(small.std()) < 1.0:
        return _empty(width, height)
    prob, plainness = foreground_probability(small)

    otsu, _ = cv2.threshold((prob * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = float(np.clip(otsu / 255.0, 0.3, 0.7))
    init = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
    init[prob >= thr] = cv2.GC_PR_FGD
    sure_fg = cv2.erode((prob >= max(thr + 0.2, 0.8)).astype(np.uint8), np.ones((3, 3), np.uint8))
    init[sure_fg > 0] = cv2.GC_FGD
    band = _border_band((h, w), max(2, round(0.02 * min(h, w))))
    init[band & (prob < thr)] = cv2.GC_BGD
    init[prob < 0.5 * thr] = cv2.GC_BGD
    if not np.any((init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)):
        return _empty(width, height)
    if np.all((init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)):
        return _empty(width, height)

    gc_mask = init.copy()
    bgd_model = np.zeros((1, 65), dtype=np.float64)
    fgd_model = np.zeros((1, 65), dtype=np.float64)
    cv2.setRNGSeed(12345)
    try:
        cv2.grabCut(small, gc_mask, (0, 0, 0, 0), bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # GrabCut refuses degenerate inits (one class empty after clustering)
        gc_mask = init
    fg = np.where((gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    fg = np.asarray(cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel), dtype=np.uint8)
    fg = np.asarray(cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel, iterations=2), dtype=np.uint8)
    fg = _trim_shadow(small, fg, plainness)
    fg = _fill_holes(_keep_main_components(fg, prob))
    if not fg.any():
        return _empty(width, height)

    soft = cv2.GaussianBlur(fg.astype(np.float32) / 255.0, (0, 0), 0.8)
    full = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    mask = np.where(full >= 0.5, 255, 0).astype(np.uint8)
    points = cv2.findNonZero(mask)
    if points is None:
        return _empty(width, height)
    x, y, bw, bh = (int(v) for v in cv2.boundingRect(points))
    confidence = _confidence(prob, fg > 0, init, plainness)
    return ProductBox(x, y, bw, bh, width, height, mask, confidence)


def _confidence(prob: FloatMap, fg: npt.NDArray[np.bool_], init: Image, plainness: float) -> float:
    """0..1 from how cleanly the product separates: contrast of the map inside vs outside the
    mask, agreement of GrabCut with its initialisation, and a sane size and position."""
    inside = float(prob[fg].mean()) if fg.any() else 0.0
    outside = float(prob[~fg].mean()) if (~fg).any() else 1.0
    separation = float(np.clip((inside - outside) / 0.6, 0.0, 1.0))
    seeded = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    union = np.count_nonzero(seeded | fg)
    agreement = np.count_nonzero(seeded & fg) / union if union else 0.0
    fill = float(fg.mean())
    size_ok = float(np.clip(fill / 0.02, 0.0, 1.0) * np.clip((0.97 - fill) / 0.15, 0.0, 1.0))
    edges = int(fg[0, :].any()) + int(fg[-1, :].any()) + int(fg[:, 0].any()) + int(fg[:, -1].any())
    framing = 1.0 if edges <= 2 else (0.7 if edges == 3 else 0.4)
    score = separation * (0.5 + 0.5 * agreement) * size_ok * framing * (0.75 + 0.25 * plainness)
    return round(float(np.clip(score, 0.0, 1.0)), 4)


def locate_product_bytes(data: bytes, **kwargs: int) -> ProductBox:
    """`locate_product` on encoded bytes; ValueError on corrupt input."""
    return locate_product(decode_image(data), **kwargs)
