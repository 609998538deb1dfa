"""Contact sheets: every shot's keyframe with its time and score, the chosen ones framed in green."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from creativeloop.videogen.media import Frame
from creativeloop.videogen.pipeline import Understanding
from creativeloop.videogen.selection import Plan

_TILE_W = 200
_CAPTION_H = 34


def _tile(frame: Frame, caption: str, chosen: bool) -> Frame:
    height = max(2, round(_TILE_W * frame.shape[0] / frame.shape[1]))
    picture = cv2.resize(frame, (_TILE_W, height), interpolation=cv2.INTER_AREA)
    tile = np.full((height + _CAPTION_H, _TILE_W, 3), 255, np.uint8)
    tile[:height] = picture
    colour = (40, 170, 40) if chosen else (170, 170, 170)
    cv2.rectangle(tile, (0, 0), (_TILE_W - 1, height + _CAPTION_H - 1), colour, 4 if chosen else 1)
    for line, text in enumerate(caption.split("\n")):
        cv2.putText(
            tile,
            text,
            (6, height + 14 + 14 * line),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (30, 30, 30),
            1,
            cv2.LINE_AA,
        )
    return tile


def contact_row(understanding: Understanding, plan: Plan, title: str, columns: int = 8) -> Frame:
    """One labelled block: a title line and a grid of shot keyframes."""
    fps = float(understanding.info.fps)
    chosen = {c.shot: c for c in plan.clips}
    tiles = []
    for scored in understanding.shots:
        shot = scored.shot
        frame = understanding.analysis.keyframes.get(scored.keyframe)
        if frame is None:
            continue
        caption = f"shot {shot.index}  {shot.start / fps:.1f}-{shot.end / fps:.1f}s\nscore {scored.score:.2f}"
        clip = chosen.get(shot.index)
        if clip is not None:
            caption += f"  use {clip.start / fps:.1f}-{clip.end / fps:.1f}s"
        tiles.append(_tile(frame, caption, clip is not None))
    if not tiles:
        return np.full((40, _TILE_W * columns, 3), 255, np.uint8)
    height = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255) for t in tiles]
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.vstack([np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)])
    header = np.full((30, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(header, title, (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, grid])


def stack_rows(rows: Sequence[Frame]) -> Frame:
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.vstack(padded)
