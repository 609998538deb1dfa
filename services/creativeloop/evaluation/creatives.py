"""`creativeloop eval creatives`: layout checks over many products, and a contact sheet.

Products: the demo garments (cut out with their exact masks, placed centred, off-centre in a
wide frame, and as whole pictures with a weak mask) and synthetic shapes (tall bottle, wide
sofa, small off-centre disc). Every product is rendered with every template at every size slot,
with a Latin and a CJK headline. Checks, on the rendered pixels:

- *text over product*: a text element's box (headline, subline, price tag, badge) contains
  pixels of the pasted product (its scaled alpha above 0.1) or crosses the product's box;
- *contrast*: for each text element, WCAG contrast between its ink and the 1st/99th luminance
  percentiles of what it is drawn on, measured on a second render with every element but the
  letters (scrims and tags included), must reach the template's minimum (4.5);
- *safe margin*: every text, badge and logo box lies inside the safe area;
- *size*: the canvas has the slot's size.

Prints the counts (markdown and one JSON line) and writes the contact sheet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from creativeloop.datasets.cutouts import garment_cutout
from creativeloop.imagegen.colour import backdrop_range, worst_contrast
from creativeloop.imagegen.cutout import Cutout, ProductImage, make_cutout
from creativeloop.imagegen.render import Composition, Copy, FontBook, Renderer
from creativeloop.imagegen.templates import SIZES, load_catalogue

HEADLINES = (
    "Flowy Linen Summer Dress with Pockets and a Smocked Back",
    "纯棉短袖T恤男款夏季宽松上衣，到手价¥89",
)
_GARMENTS = (("dress", "Red"), ("jeans", "Blue"), ("tee", "White"), ("skirt", "Mustard"), ("coat", "Camel"))
DEFAULT_SHEET = Path("docs/img/creative-contact-sheet.png")


def _garment(silhouette: str, colour: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    cut = garment_cutout(silhouette, colour, seed=seed)
    return cut.bgr, np.rint(cut.alpha * 255).astype(np.uint8)


def _framed(bgr: np.ndarray, alpha: np.ndarray, frame: tuple[int, int], at: tuple[int, int]) -> ProductImage:
    """The product pasted on a light studio background at `at` in a `frame`-sized picture."""
    picture = np.full((frame[1], frame[0], 3), 238, np.uint8)
    x, y = at
    h, w = alpha.shape
    weight = alpha.astype(np.float32)[:, :, None] / 255.0
    picture[y : y + h, x : x + w] = np.rint(bgr * weight + picture[y : y + h, x : x + w] * (1 - weight))
    return ProductImage(picture, None, f"framed-{frame}-{at}-{hash(bgr.tobytes())}")


def _shape(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "bottle":
        alpha = np.zeros((640, 200), np.uint8)
        cv2.rectangle(alpha, (20, 200), (180, 630), 255, -1)
        cv2.rectangle(alpha, (70, 10), (130, 200), 255, -1)
        colour = (60, 140, 40)
    elif kind == "sofa":
        alpha = np.zeros((220, 700), np.uint8)
        cv2.rectangle(alpha, (10, 60), (690, 200), 255, -1)
        cv2.rectangle(alpha, (60, 10), (640, 120), 255, -1)
        colour = (90, 60, 160)
    else:
        alpha = np.zeros((160, 160), np.uint8)
        cv2.circle(alpha, (80, 80), 75, 255, -1, cv2.LINE_AA)
        colour = (30, 30, 30)
    bgr = np.zeros((*alpha.shape, 3), np.uint8)
    bgr[:] = colour
    return bgr, alpha


def demo_cutouts() -> Iterator[tuple[str, Cutout]]:
    """(name, cut-out) for every evaluation product: garments and shapes, several placements."""
    for index, (silhouette, colour) in enumerate(_GARMENTS):
        bgr, alpha = _garment(silhouette, colour, index + 1)
        h, w = alpha.shape
        centred = _framed(bgr, alpha, (w + 80, h + 80), (40, 40))
        mask = np.zeros((h + 80, w + 80), np.uint8)
        mask[40 : 40 + h, 40 : 40 + w] = alpha
        yield f"{silhouette}-cutout", make_cutout(centred, mask, 0.9)
        frame = (w * 2 + 200, h + 60)
        off = _framed(bgr, alpha, frame, (frame[0] - w - 20, 30))
        off_mask = np.zeros((frame[1], frame[0]), np.uint8)
        off_mask[30 : 30 + h, frame[0] - w - 20 : frame[0] - 20] = alpha
        yield f"{silhouette}-off-centre", make_cutout(off, off_mask, 0.9)
        box = ((frame[0] - w - 20) / frame[0], 30 / frame[1], w / frame[0], h / frame[1])
        yield f"{silhouette}-picture", make_cutout(off, off_mask, 0.1, box=box)
    for kind in ("bottle", "sofa", "disc"):
        bgr, alpha = _shape(kind)
        h, w = alpha.shape
        frame = (w + 600, h + 300) if kind == "disc" else (w + 60, h + 60)
        at = (20, 20) if kind == "disc" else (30, 30)
        picture = _framed(bgr, alpha, frame, at)
        mask = np.zeros((frame[1], frame[0]), np.uint8)
        mask[at[1] : at[1] + h, at[0] : at[0] + w] = alpha
        yield f"{kind}-cutout", make_cutout(picture, mask, 0.9)


def check(renderer: Renderer, composed: Composition, glyphless: Composition, cutout: Cutout) -> Counter[str]:
    """Violations of one creative (empty when it passes)."""
    problems: Counter[str] = Counter()
    plan = composed.plan
    if (composed.width, composed.height) != plan.canvas:
        problems["size"] += 1
    alpha = np.zeros((composed.height, composed.width), np.float32)
    placed = plan.placed.clip(composed.width, composed.height)
    if placed.area:
        _, scaled = renderer.scaled(cutout, plan.placed.w, plan.placed.h)
        sx, sy = placed.x - plan.placed.x, placed.y - plan.placed.y
        alpha[placed.y : placed.y1, placed.x : placed.x1] = (
            1.0 if scaled is None else scaled[sy : sy + placed.h, sx : sx + placed.w]
        )
        if scaled is None:  # a whole picture: only its product box counts as product
            alpha[:] = 0
            box = plan.product_box.clip(composed.width, composed.height)
            alpha[box.y : box.y1, box.x : box.x1] = 1.0
    for element in composed.elements:
        rect = element.rect
        if not plan.safe.contains(rect):
            problems["safe_margin"] += 1
        if element.ink is None:
            continue
        if rect.intersects(plan.product_box) or (alpha[rect.y : rect.y1, rect.x : rect.x1] > 0.1).any():
            problems["text_over_product"] += 1
        backdrop = glyphless.canvas[rect.y : rect.y1, rect.x : rect.x1]
        if worst_contrast(element.ink, backdrop_range(backdrop)) < composed.template.min_contrast - 1e-6:
            problems["contrast"] += 1
    return problems


def run(sheet: Path | None) -> dict[str, Any]:
    renderer = Renderer(FontBook.default())
    totals: Counter[str] = Counter()
    checked = elements = scrims = 0
    regions: Counter[str] = Counter()
    thumbs: dict[tuple[str, str, str], np.ndarray] = {}
    products = list(demo_cutouts())
    for name, cutout in products:
        for template_id, template in sorted(load_catalogue().items()):
            for size in template.sizes:
                width, height = SIZES[size]
                for headline in HEADLINES:
                    copy = Copy(headline, "$59.99", "Breathable linen · relaxed fit")
                    composed = renderer.compose(template, cutout, copy, width, height, size)
                    glyphless = renderer.compose(template, cutout, copy, width, height, size, glyphs=False)
                    totals += check(renderer, composed, glyphless, cutout)
                    checked += 1
                    elements += sum(1 for e in composed.elements if e.ink is not None)
                    scrims += sum(1 for e in composed.elements if e.scrim in ("dark", "light"))
                    regions[composed.plan.region_name] += 1
                    if headline == HEADLINES[0]:
                        thumbs[(name, template_id, size)] = composed.canvas
    result = {
        "products": len(products),
        "templates": len(load_catalogue()),
        "sizes": len(SIZES),
        "creatives": checked,
        "text_elements": elements,
        "text_over_product": totals["text_over_product"],
        "contrast_below_minimum": totals["contrast"],
        "safe_margin": totals["safe_margin"],
        "wrong_size": totals["size"],
        "scrims": scrims,
        "regions": dict(sorted(regions.items())),
    }
    if sheet is not None:
        contact_sheet(thumbs, sheet)
    return result


def contact_sheet(thumbs: dict[tuple[str, str, str], np.ndarray], path: Path, cell: int = 190) -> None:
    """Rows: products; columns: templates at 1:1, then one product's other sizes per template."""
    names = sorted({k[0] for k in thumbs}, key=lambda n: list(dict.fromkeys(k[0] for k in thumbs)).index(n))
    chosen = [n for n in names if n.endswith(("cutout", "off-centre", "picture"))][:6]
    templates = sorted({k[1] for k in thumbs})
    pad = 6
    rows = len(chosen) + len(templates)
    sheet = Image.new(
        "RGB", (pad + len(templates) * (cell + pad), pad + rows * (cell + pad)), (255, 255, 255)
    )

    def paste(canvas: np.ndarray, col: int, row: int) -> None:
        image = Image.fromarray(canvas[:, :, ::-1])
        image.thumbnail((cell, cell))
        x = pad + col * (cell + pad) + (cell - image.width) // 2
        y = pad + row * (cell + pad) + (cell - image.height) // 2
        sheet.paste(image, (x, y))

    for row, name in enumerate(chosen):
        for col, template_id in enumerate(templates):
            paste(thumbs[(name, template_id, "1:1")], col, row)
    featured = chosen[0]
    for offset, template_id in enumerate(templates):
        for col, size in enumerate(s for s in SIZES if s != "1:1"):
            paste(thumbs[(featured, template_id, size)], col, len(chosen) + offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


#: The counts the report prints, in order.
COUNTED = (
    "creatives",
    "text_elements",
    "text_over_product",
    "contrast_below_minimum",
    "safe_margin",
    "wrong_size",
    "scrims",
)


def markdown(result: dict[str, Any]) -> str:
    """The counts as a markdown table."""
    return "| check | count |\n|---|---|\n" + "\n".join(f"| {key} | {result[key]} |" for key in COUNTED)


def failures(result: dict[str, Any]) -> int:
    """Creatives' violations of any check (0: every creative passes)."""
    checks = ("text_over_product", "contrast_below_minimum", "safe_margin", "wrong_size")
    return sum(int(result[key]) for key in checks)
