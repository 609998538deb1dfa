"""Image creative rendering latency on one core, against the floor of encoding alone.

    python -m bench.bench_render [--repeats 200] [--products 8]

For every size slot (1:1 800x800, 4:3, 9:16, 1.91:1) and encoding (JPEG, PNG, WebP):

- ``encode floor``: `cv2.imencode` of an already composed canvas of that size with the
  renderer's own parameters: what any creative of that size costs at least;
- ``render``: `Renderer.render` (layout, cached background and cut-out, text with contrast
  checks, badge, logo, encoding) for a rotation of demo garments (tall, wide, off-centre cut-outs)
  x every template x two headlines, caches warm as in the stream stage;
- ``compose``: the same without encoding.

p50 and p99 per cell and the ratio of render p50 to the encode floor's p50. The process is pinned
to one core (`os.sched_setaffinity`) and OpenCV to one thread. Prints a markdown table and one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from creativeloop.evaluation.creatives import demo_cutouts
from creativeloop.imagegen.render import Copy, Encoding, FontBook, Renderer
from creativeloop.imagegen.templates import SIZES, load_catalogue

HEADLINES = ("Flowy Linen Summer Dress with Pockets", "纯棉短袖T恤男款夏季宽松上衣，到手价¥89")
ENCODINGS: tuple[Encoding, ...] = ("jpeg", "png", "webp")


def percentiles(samples: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples) * 1000, (50, 99))
    return float(p50), float(p99)


def timed(action: Callable[[int], Any], repeats: int) -> list[float]:
    seconds = []
    for index in range(repeats):
        started = time.perf_counter()
        action(index)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--products", type=int, default=8)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    renderer = Renderer(FontBook.default())
    cutouts = [c for _, c in demo_cutouts()][: args.products]
    templates = sorted(load_catalogue())
    jobs = [(t, c, h) for t in templates for c in cutouts for h in HEADLINES]
    rows: list[dict[str, Any]] = []
    for size, (width, height) in SIZES.items():
        for template_id, cutout, headline in jobs:  # warm every cache once, as the stream does
            renderer.render(template_id, cutout, headline, "$59.99", size=size, encoding="jpeg")
        canvas = renderer.compose(
            load_catalogue()[templates[0]], cutouts[0], Copy(HEADLINES[0], "$59.99"), width, height, size
        ).canvas

        def compose(index: int, size: str = size, width: int = width, height: int = height) -> None:
            template_id, cutout, headline = jobs[index % len(jobs)]
            renderer.compose(
                load_catalogue()[template_id], cutout, Copy(headline, "$59.99"), width, height, size
            )

        compose_p50, compose_p99 = percentiles(timed(compose, args.repeats))
        for encoding in ENCODINGS:

            def encode(_index: int, encoding: Encoding = encoding, canvas: Any = canvas) -> None:
                renderer.encode(canvas, encoding)

            floor = timed(encode, args.repeats)

            def render(index: int, size: str = size, encoding: Encoding = encoding) -> None:
                template_id, cutout, headline = jobs[index % len(jobs)]
                renderer.render(template_id, cutout, headline, "$59.99", size=size, encoding=encoding)

            full = timed(render, args.repeats)
            floor_p50, floor_p99 = percentiles(floor)
            render_p50, render_p99 = percentiles(full)
            rows.append(
                {
                    "size": size,
                    "pixels": f"{width}x{height}",
                    "encoding": encoding,
                    "encode_p50_ms": round(floor_p50, 2),
                    "encode_p99_ms": round(floor_p99, 2),
                    "compose_p50_ms": round(compose_p50, 2),
                    "compose_p99_ms": round(compose_p99, 2),
                    "render_p50_ms": round(render_p50, 2),
                    "render_p99_ms": round(render_p99, 2),
                    "ratio_p50": round(render_p50 / floor_p50, 2),
                }
            )
    print(
        "| size | pixels | encoding | encode floor p50 / p99 ms | compose p50 / p99 ms "
        "| render p50 / p99 ms | render / floor (p50) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['size']} | {row['pixels']} | {row['encoding']} | {row['encode_p50_ms']} / "
            f"{row['encode_p99_ms']} | {row['compose_p50_ms']} / {row['compose_p99_ms']} | "
            f"{row['render_p50_ms']} / {row['render_p99_ms']} | {row['ratio_p50']} |"
        )
    print(json.dumps({"benchmark": "render", "repeats": args.repeats, "jobs": len(jobs), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
