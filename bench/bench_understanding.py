"""Understanding pipeline throughput per stage vs RapidOCR alone on the same images, in one run.

    python -m bench.bench_understanding [--images 24]

The images are ad-like pictures rendered deterministically (product shots on plain and textured
backgrounds, posters with Latin and CJK text, 480-800 px). The pipeline is `ImageAnalyzer` (OCR,
classifier, scene, product box, aesthetics) on the embedded backend with one onnxruntime thread
and no cache; the floor is `rapidocr.RapidOCR()` itself (the same PP-OCR models, its own
onnxruntime session) reading the same images one by one. Reports images per second (one core's
worth: intra-op threads = 1) for the pipeline and each stage, and pipeline time / RapidOCR time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.understanding.analyzer import ImageAnalyzer, StageTimer
from creativeloop.understanding.images import LoadedImage

FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
TEXTS = ("SUMMER SALE 50% OFF", "新品上市 限时优惠", "Free shipping $29.99", "纯棉T恤 ¥199")


def render(index: int, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(480, 800))
    if index % 2 == 0:  # product shot
        canvas = Image.fromarray(
            np.clip(235 + rng.normal(0, 12 if index % 4 == 0 else 0, (side, side, 3)), 0, 255).astype(
                np.uint8
            )
        )
        draw = ImageDraw.Draw(canvas)
        x0 = int(rng.integers(20, side // 3))
        colour = tuple(int(c) for c in rng.integers(20, 200, 3))
        draw.rounded_rectangle(
            (x0, side // 6, x0 + side // 2, side - side // 8), radius=side // 12, fill=colour
        )
    else:  # poster
        canvas = Image.new("RGB", (side, side * 3 // 4), (250, 248, 240))
        draw = ImageDraw.Draw(canvas)
        for line, text in enumerate(TEXTS[index % 2 :: 2]):
            font = ImageFont.truetype(
                FONTS[line % 2] if os.path.exists(FONTS[line % 2]) else FONTS[0], side // 14
            )
            draw.text((side // 12, side // 8 + line * side // 5), text, fill=(20, 20, 20), font=font)
    return np.ascontiguousarray(np.asarray(canvas.convert("RGB"))[:, :, ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repository", type=Path, default=Path("deploy/model-repository"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pixels = [render(i, rng) for i in range(args.images)]
    images = [LoadedImage(i, f"{i:064x}", p) for i, p in enumerate(pixels)]
    with tempfile.TemporaryDirectory() as tmp:
        analyzer = ImageAnalyzer(
            EmbeddedModelClient(args.repository), args.repository, FilesystemAssetStore(Path(tmp)), None
        )
        analyzer.analyse(images[:2])  # warm-up: sessions, caches
        timer = StageTimer()
        start = time.perf_counter()
        for i in range(0, len(images), 4):  # four images per product, as products usually have
            analyzer.analyse(images[i : i + 4], timer)
        pipeline_s = time.perf_counter() - start

    from rapidocr import RapidOCR

    engine = RapidOCR(params={"EngineConfig.onnxruntime.intra_op_num_threads": 1})
    encoded = []
    for p in pixels:
        buffer = io.BytesIO()
        Image.fromarray(p[:, :, ::-1]).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    engine(encoded[0])
    start = time.perf_counter()
    for data in encoded:
        engine(data)
    rapidocr_s = time.perf_counter() - start

    n = len(images)
    print("| stage | ms per image | images/s |\n|---|---:|---:|")
    for stage, seconds in sorted(timer.seconds.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {seconds / n * 1000:.1f} | {n / seconds:.1f} |")
    print(f"| **pipeline** | {pipeline_s / n * 1000:.1f} | {n / pipeline_s:.2f} |")
    print(f"| RapidOCR alone (floor) | {rapidocr_s / n * 1000:.1f} | {n / rapidocr_s:.2f} |")
    print(f"\npipeline / RapidOCR time: {pipeline_s / rapidocr_s:.2f}")
    print(
        json.dumps(
            {
                "benchmark": "understanding",
                "images": n,
                "pipeline_s": pipeline_s,
                "rapidocr_s": rapidocr_s,
                "stages_s": timer.seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
