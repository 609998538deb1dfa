"""Reading order of text lines on an ad: columns are read one after another, not row by row.

PP-OCR (rapidocr's ``sorted_boxes``) orders lines top to bottom and then left to right, which
interleaves the columns of a two-column ad (feature lists side by side, plan comparisons,
bilingual columns). This is a recursive X-Y cut over the lines' axis-aligned boxes (Nagy & Seth,
"Hierarchical representation of optically scanned documents", 1984), adapted to ads:

1. lines are grouped into horizontal *bands* (lines whose vertical extents overlap);
2. consecutive bands are joined into a *column group* while one vertical gutter (an x range no
   line of those bands crosses, at least `min_gutter` line heights wide) runs through all of
   them with lines on both sides of it in at least one band;
3. a group with a gutter is split into columns at it, each column read in full (recursively, so
   a column may hold its own sub-columns) before the next one to its right; a band or group
   without one is read top to bottom, left to right.

A header or footer that spans the columns breaks the gutter, so it is read before or after them.
Single-column text keeps PP-OCR's order. Pure function of the boxes: the same boxes always give
the same order.

>>> boxes = [(0, 0, 90, 10), (0, 20, 40, 30), (60, 20, 90, 30), (0, 40, 40, 50), (60, 40, 90, 50)]
>>> reading_order(boxes)
[0, 1, 3, 2, 4]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: An axis-aligned box (x0, y0, x1, y1).
Rect = tuple[float, float, float, float]

#: How much of a line's height is ignored at its top and bottom when bands are formed (detector
#: boxes are padded, so neighbouring lines of one column can touch).
_BAND_SHRINK = 0.2
#: Narrowest gutter between columns, in median line heights.
MIN_GUTTER = 0.8


@dataclass(frozen=True)
class _Line:
    index: int
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def bounding_rect(points: Sequence[tuple[float, float]]) -> Rect:
    """The axis-aligned box around a quad (or any polygon)."""
    xs = [float(x) for x, _y in points]
    ys = [float(y) for _x, y in points]
    return (min(xs), min(ys), max(xs), max(ys))


def reading_order(rects: Sequence[Rect], min_gutter: float = MIN_GUTTER) -> list[int]:
    """Indices of ``rects`` (one per text line) in reading order."""
    lines = [_Line(i, *(float(v) for v in rect)) for i, rect in enumerate(rects)]
    if len(lines) <= 1:
        return [line.index for line in lines]
    heights = sorted(max(1.0, line.height) for line in lines)
    gutter = min_gutter * heights[len(heights) // 2]
    return [line.index for line in _order(lines, gutter)]


def _bands(lines: Sequence[_Line]) -> list[list[_Line]]:
    """Lines grouped by overlapping (shrunk) vertical extents, top to bottom."""
    spans = sorted(
        (
            (line.y0 + _BAND_SHRINK * line.height, line.y1 - _BAND_SHRINK * line.height, line)
            for line in lines
        ),
        key=lambda s: (s[0], s[2].x0, s[2].index),
    )
    bands: list[list[_Line]] = []
    bottom = float("-inf")
    for top, low, line in spans:
        if bands and top < bottom:
            bands[-1].append(line)
            bottom = max(bottom, low)
        else:
            bands.append([line])
            bottom = low
    return bands


def _free(band: Sequence[_Line], left: float, right: float) -> list[tuple[float, float]]:
    """The x ranges in [left, right] that no line of ``band`` covers."""
    free: list[tuple[float, float]] = []
    x = left
    for line in sorted(band, key=lambda item: item.x0):
        if line.x0 > x:
            free.append((x, line.x0))
        x = max(x, line.x1)
    if x < right:
        free.append((x, right))
    return free


def _intersect(
    gaps: Sequence[tuple[float, float]], free: Sequence[tuple[float, float]], width: float
) -> list[tuple[float, float]]:
    out = []
    for a0, a1 in gaps:
        for b0, b1 in free:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi - lo >= width:
                out.append((lo, hi))
    return out


def _splits(band: Sequence[_Line], gap: tuple[float, float]) -> bool:
    """Whether ``band`` has lines on both sides of ``gap``."""
    return any(line.x1 <= gap[0] for line in band) and any(line.x0 >= gap[1] for line in band)


def _order(lines: Sequence[_Line], gutter: float) -> list[_Line]:
    if len(lines) <= 1:
        return list(lines)
    left = min(line.x0 for line in lines)
    right = max(line.x1 for line in lines)
    bands = _bands(lines)
    out: list[_Line] = []
    start = 0
    while start < len(bands):
        end, cuts = _column_group(bands, start, left, right, gutter)
        group = [line for band in bands[start:end] for line in band]
        if cuts:
            out += _columns(group, cuts, gutter)
        else:
            for band in bands[start:end]:
                out += sorted(band, key=lambda line: (line.x0, line.y0, line.index))
        start = end
    return out


def _inner_gaps(band: Sequence[_Line], left: float, right: float, gutter: float) -> list[tuple[float, float]]:
    return [g for g in _free(band, left, right) if g[0] > left and g[1] < right and g[1] - g[0] >= gutter]


def _column_group(
    bands: Sequence[Sequence[_Line]], start: int, left: float, right: float, gutter: float
) -> tuple[int, list[tuple[float, float]]]:
    """The bands from ``start`` that share a gutter: (end index, the gutters that split them)."""
    gaps = _inner_gaps(bands[start], left, right, gutter)
    end = start + 1
    spacing = 0.0  # largest vertical gap between bands inside the group so far
    while gaps and end < len(bands):
        band = bands[end]
        step = max(0.0, min(line.y0 for line in band) - max(line.y1 for line in bands[end - 1]))
        joined = _intersect(gaps, _free(band, left, right), gutter)
        if not joined:
            break
        # A band on one side only (one column runs longer) joins unless a block break precedes it.
        one_sided = not any(_splits(band, g) for g in joined)
        previous = max(line.height for line in bands[end - 1])
        if one_sided and step > max(1.5 * gutter, 1.2 * previous, 1.8 * spacing):
            break
        gaps = joined
        spacing = max(spacing, step)
        end += 1
    cuts = [g for g in gaps if any(_splits(band, g) for band in bands[start:end])]
    return end, _merge(cuts)


def _merge(gaps: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping gutters merged, left to right."""
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(gaps):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _columns(group: Sequence[_Line], cuts: Sequence[tuple[float, float]], gutter: float) -> list[_Line]:
    """Split ``group`` at the gutters and read each column in full, left to right."""
    edges = [lo for lo, _hi in cuts]
    columns: list[list[_Line]] = [[] for _ in range(len(edges) + 1)]
    for line in group:
        slot = sum(1 for edge in edges if line.x0 >= edge)
        columns[slot].append(line)
    out: list[_Line] = []
    for column in columns:
        if len(column) == len(group):  # no progress: read it as rows
            return sorted(group, key=lambda line: (line.y0, line.x0, line.index))
        out += _order(column, gutter)
    return out
