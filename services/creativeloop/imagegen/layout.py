"""Content-aware layout: fit the product into its area, then put text where the product is not.

The product's real box (the cut-out's extent, or the understanding stage's box inside a whole
picture) plus a clearance is *blocked*. The canvas inside the safe margins minus the blocked box
leaves up to four free regions (left, right, above, below: each spans the safe area the other
way). Text goes into the largest region that is wide and tall enough for the smallest allowed
type, weighted by the template's order of preference; if none is, the product's area shrinks
towards the side away from the preferred region and layout runs again. The same template thus
works for tall, wide and off-centre products: a wide product in a square leaves room above and
below, a tall one room beside it.

>>> plan = plan_layout((800, 800), Rect(40, 40, 400, 720), (300, 600), (0.0, 0.0, 1.0, 1.0),
...                     safe_margin=0.04, clearance=0.02, prefer=("right", "bottom"),
...                     min_size=(200, 120))
>>> plan.region_name, plan.region.x >= plan.product_box.x1
('right', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Weight of a region by its rank in the template's `prefer` list.
_PREFERENCE_WEIGHTS = (1.0, 0.8, 0.65, 0.5)
_SHRINK = 0.82
_MAX_ROUNDS = 6


@dataclass(frozen=True)
class Rect:
    """An integer pixel rectangle; x1/y1 are exclusive."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x1(self) -> int:
        return self.x + self.w

    @property
    def y1(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    def intersects(self, other: Rect) -> bool:
        return self.x < other.x1 and other.x < self.x1 and self.y < other.y1 and other.y < self.y1

    def contains(self, other: Rect) -> bool:
        return self.x <= other.x and self.y <= other.y and other.x1 <= self.x1 and other.y1 <= self.y1

    def inflate(self, d: int) -> Rect:
        return Rect(self.x - d, self.y - d, self.w + 2 * d, self.h + 2 * d)

    def union(self, other: Rect) -> Rect:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Rect(x, y, max(self.x1, other.x1) - x, max(self.y1, other.y1) - y)

    def clip(self, width: int, height: int) -> Rect:
        x, y = max(0, self.x), max(0, self.y)
        return Rect(x, y, max(0, min(width, self.x1) - x), max(0, min(height, self.y1) - y))

    @classmethod
    def fraction(cls, box: tuple[float, float, float, float], width: int, height: int) -> Rect:
        x0, y0 = round(box[0] * width), round(box[1] * height)
        x1, y1 = round((box[0] + box[2]) * width), round((box[1] + box[3]) * height)
        return cls(x0, y0, max(1, min(width, x1) - x0), max(1, min(height, y1) - y0))


@dataclass(frozen=True)
class Plan:
    """Where the product picture goes, where the product itself is, and the text region."""

    canvas: tuple[int, int]
    safe: Rect
    placed: Rect  # the cut-out or picture, scaled
    product_box: Rect  # the product inside it
    blocked: Rect  # product box plus clearance: nothing with text may touch it
    region_name: str
    region: Rect
    rounds: int


def fit(area: Rect, width: int, height: int, align: str) -> Rect:
    """`width` x `height` scaled to fit `area`, aspect kept, anchored by `align`."""
    scale = min(area.w / width, area.h / height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    x = area.x + {"left": 0, "right": area.w - w}.get(align, (area.w - w) // 2)
    y = area.y + {"top": 0, "bottom": area.h - h}.get(align, (area.h - h) // 2)
    return Rect(x, y, w, h)


def free_regions(safe: Rect, blocked: Rect) -> dict[str, Rect]:
    """The four regions of `safe` on each side of `blocked` (empty ones left out)."""
    regions = {
        "left": Rect(safe.x, safe.y, min(blocked.x, safe.x1) - safe.x, safe.h),
        "right": Rect(max(blocked.x1, safe.x), safe.y, safe.x1 - max(blocked.x1, safe.x), safe.h),
        "top": Rect(safe.x, safe.y, safe.w, min(blocked.y, safe.y1) - safe.y),
        "bottom": Rect(safe.x, max(blocked.y1, safe.y), safe.w, safe.y1 - max(blocked.y1, safe.y)),
    }
    return {name: rect for name, rect in regions.items() if rect.w > 0 and rect.h > 0}


def choose_region(
    regions: dict[str, Rect], prefer: Sequence[str], min_size: tuple[int, int]
) -> tuple[str, Rect] | None:
    """The largest compatible region, weighted by preference; None if none is big enough."""
    best: tuple[float, str, Rect] | None = None
    for rank, name in enumerate(prefer):
        rect = regions.get(name)
        if rect is None or rect.w < min_size[0] or rect.h < min_size[1]:
            continue
        score = rect.area * _PREFERENCE_WEIGHTS[min(rank, len(_PREFERENCE_WEIGHTS) - 1)]
        if best is None or score > best[0]:
            best = (score, name, rect)
    return None if best is None else (best[1], best[2])


def _shrink(area: Rect, away_from: str) -> Rect:
    """`area` scaled down, keeping the edge opposite to the region text wants."""
    w, h = round(area.w * _SHRINK), round(area.h * _SHRINK)
    x = {"right": area.x, "left": area.x1 - w}.get(away_from, area.x + (area.w - w) // 2)
    y = {"bottom": area.y, "top": area.y1 - h}.get(away_from, area.y + (area.h - h) // 2)
    return Rect(x, y, w, h)


def plan_layout(
    canvas: tuple[int, int],
    area: Rect,
    picture: tuple[int, int],
    inner: tuple[float, float, float, float],
    *,
    safe_margin: float,
    clearance: float,
    prefer: Sequence[str],
    min_size: tuple[int, int],
    align: str = "center",
    backing_padding: int | None = None,
) -> Plan:
    """Place the product picture (`picture` = its width, height; `inner` = the product's
    normalised box inside it) and choose the text region."""
    width, height = canvas
    margin = round(safe_margin * min(width, height))
    safe = Rect(margin, margin, width - 2 * margin, height - 2 * margin)
    gap = round(clearance * min(width, height))
    for rounds in range(_MAX_ROUNDS + 1):
        placed = fit(area, picture[0], picture[1], align)
        product_box = Rect(
            placed.x + round(inner[0] * placed.w),
            placed.y + round(inner[1] * placed.h),
            max(1, round(inner[2] * placed.w)),
            max(1, round(inner[3] * placed.h)),
        )
        blocked = product_box.inflate(gap)
        if backing_padding is not None:
            blocked = blocked.union(placed.inflate(backing_padding))
        chosen = choose_region(free_regions(safe, blocked), prefer, min_size)
        if chosen is not None or rounds == _MAX_ROUNDS:
            break
        area = _shrink(area, prefer[0])
    if chosen is None:  # the smallest product still leaves no room: text gets the biggest region
        regions = free_regions(safe, blocked)
        name = max(regions, key=lambda n: regions[n].area) if regions else "none"
        chosen = (name, regions.get(name, Rect(safe.x, safe.y, 0, 0)))
    return Plan(canvas, safe, placed, product_box, blocked, chosen[0], chosen[1], rounds)


def place_in_corner(
    size: tuple[int, int], safe: Rect, corners: Sequence[str], avoid: Sequence[Rect]
) -> tuple[str, Rect] | None:
    """The first corner of `safe` where a `size` box touches none of `avoid`."""
    w, h = size
    if w > safe.w or h > safe.h:
        return None
    spots = {
        "top-left": Rect(safe.x, safe.y, w, h),
        "top-right": Rect(safe.x1 - w, safe.y, w, h),
        "bottom-left": Rect(safe.x, safe.y1 - h, w, h),
        "bottom-right": Rect(safe.x1 - w, safe.y1 - h, w, h),
    }
    for corner in corners:
        rect = spots[corner]
        if not any(rect.intersects(other) for other in avoid):
            return corner, rect
    return None
