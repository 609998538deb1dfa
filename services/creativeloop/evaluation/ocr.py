"""How well the OCR reads ad copy: rendered ads with known text, character accuracy per condition.

The set is rendered (`creativeloop.datasets.ad_text`): Chinese and English ad copy in several
installed fonts and sizes, on solid, gradient, noisy and real-photo backgrounds, both polarities,
deterministic for a seed.

Character accuracy is 1 - CER: the Levenshtein distance between the reference text and what the
OCR read (both in reading order, NFKC-normalised so full-width ``￥`` and ``¥`` agree, whitespace
removed because PP-OCR drops or adds spaces between CJK words), over the reference length.
"Lines exact" is the share of reference lines the OCR returned as one line, character for
character (same normalisation).

    creativeloop eval ocr [--count 144] [--seed 7] [--repository DIR]
"""

from __future__ import annotations

import itertools
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rapidocr import RapidOCR
from shapely.geometry import Polygon

from creativeloop.datasets.ad_layouts import LayoutSample
from creativeloop.datasets.ad_text import ResolvedFont, Sample
from creativeloop.datasets.test_sets import ocr as ocr_test_set
from creativeloop.understanding.ocr import OcrPipeline, OcrResult


def normalise(text: str) -> str:
    """NFKC without whitespace: what character accuracy compares."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + int(ca != cb)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class Scored:
    sample: Sample
    read: tuple[str, ...]
    errors: int
    characters: int
    lines_exact: int


def score(sample: Sample, result: OcrResult) -> Scored:
    reference = normalise("".join(sample.lines))
    hypothesis = normalise("".join(line.text for line in result.lines))
    read_keys = {normalise(line.text) for line in result.lines}
    exact = sum(1 for line in sample.lines if normalise(line) in read_keys)
    return Scored(
        sample,
        tuple(line.text for line in result.lines),
        edit_distance(reference, hypothesis),
        len(reference),
        exact,
    )


@dataclass(frozen=True)
class GroupFigure:
    group: str
    value: str
    images: int
    characters: int
    char_accuracy: float
    lines_exact: float


def figures(scored: Sequence[Scored]) -> list[GroupFigure]:
    """Overall, then per language, font, background, polarity and size class."""
    rows: list[GroupFigure] = []
    keys: list[tuple[str, str]] = [("all", "all")]
    for group in ("language", "font", "background", "polarity", "size"):
        values = sorted({str(getattr(s.sample, group)) for s in scored})
        keys += [(group, v) for v in values]
    for group, value in keys:
        members = [s for s in scored if group == "all" or str(getattr(s.sample, group)) == value]
        characters = sum(s.characters for s in members)
        lines = sum(len(s.sample.lines) for s in members)
        errors = sum(s.errors for s in members)
        rows.append(
            GroupFigure(
                group,
                value,
                len(members),
                characters,
                round(1.0 - errors / characters, 4) if characters else 0.0,
                round(sum(s.lines_exact for s in members) / lines, 4) if lines else 0.0,
            )
        )
    return rows


def format_table(rows: Sequence[GroupFigure]) -> str:
    out = [f"{'group':<11}{'value':<24}{'images':>7}{'chars':>7}{'char acc':>10}{'lines exact':>13}"]
    for row in rows:
        out.append(
            f"{row.group:<11}{row.value:<24}{row.images:>7}{row.characters:>7}"
            f"{row.char_accuracy:>10.2%}{row.lines_exact:>13.2%}"
        )
    return "\n".join(out)


def run(
    pipeline: OcrPipeline, samples: Sequence[Sample], batch: int = 8
) -> tuple[list[Scored], dict[str, float]]:
    """OCR the samples ``batch`` images per call; returns scores and seconds per stage."""
    items = list(samples)
    timings: dict[str, float] = {}
    scored: list[Scored] = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        results = pipeline.read([s.png for s in chunk], timings)
        scored += [score(s, r) for s, r in zip(chunk, results, strict=True)]
    return scored, timings


def rapidocr_agreement(samples: Sequence[Sample], scored: Sequence[Scored]) -> float:
    """Share of images where rapidocr.RapidOCR() itself reads exactly the same lines."""
    engine = RapidOCR(params={"Global.log_level": "warning"})
    same = 0
    for sample, mine in zip(samples, scored, strict=True):
        reference: Any = engine(sample.png)
        theirs = tuple(getattr(reference, "txts", None) or ())
        same += int(theirs == mine.read)
    return same / len(samples) if samples else 0.0


@dataclass(frozen=True)
class OcrReport:
    """Figures of one run over a rendered set."""

    seed: int
    backend: str
    batch: int
    fonts: tuple[ResolvedFont, ...]
    scored: tuple[Scored, ...]
    rows: tuple[GroupFigure, ...]
    #: Milliseconds per image of each pipeline stage, and of the whole timed run.
    ms_per_image: dict[str, float]
    total_ms_per_image: float
    #: Share of images rapidocr.RapidOCR() reads identically (None: not compared).
    rapidocr_agreement: float | None

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` writes."""
        return {
            "count": len(self.scored),
            "seed": self.seed,
            "figures": [asdict(r) for r in self.rows],
            "ms_per_image": self.ms_per_image,
            "rapidocr_agreement": self.rapidocr_agreement,
        }


def evaluate(
    pipeline: OcrPipeline,
    samples: Sequence[Sample],
    fonts: Sequence[ResolvedFont],
    *,
    seed: int,
    backend: str,
    batch: int = 8,
    compare_rapidocr: bool = False,
) -> OcrReport:
    """Read ``samples`` (``batch`` images per call, timed after a warm-up read) and score them."""
    pipeline.read([samples[0].png])  # load the sessions before timing
    started = time.perf_counter()
    scored, timings = run(pipeline, samples, batch)
    elapsed = time.perf_counter() - started
    per_image = {stage: 1000.0 * seconds / len(samples) for stage, seconds in timings.items()}
    return OcrReport(
        seed=seed,
        backend=backend,
        batch=batch,
        fonts=tuple(fonts),
        scored=tuple(scored),
        rows=tuple(figures(scored)),
        ms_per_image=per_image,
        total_ms_per_image=1000.0 * elapsed / len(samples),
        rapidocr_agreement=rapidocr_agreement(samples, scored) if compare_rapidocr else None,
    )


def format_report(report: OcrReport) -> str:
    """The figures table, timings, the five worst images and the rapidocr agreement."""
    lines = [
        f"OCR accuracy on {len(report.scored)} rendered ads (seed {report.seed}, {report.backend} backend)",
        f"fonts: {', '.join(f'{f.spec.name} ({f.how})' for f in report.fonts)}",
        format_table(report.rows),
        "ms per image: "
        + ", ".join(f"{stage} {ms:.1f}" for stage, ms in report.ms_per_image.items())
        + f"; total {report.total_ms_per_image:.1f} (batches of {report.batch})",
    ]
    worst = sorted(report.scored, key=lambda s: s.errors / max(1, s.characters), reverse=True)[:5]
    for s in worst:
        if s.errors:
            lines.append(
                f"  #{s.sample.index} {s.sample.font}/{s.sample.background}/{s.sample.polarity}: "
                f"{list(s.sample.lines)} -> {list(s.read)}"
            )
    if report.rapidocr_agreement is not None:
        lines.append(f"identical to rapidocr.RapidOCR() on {report.rapidocr_agreement:.1%} of images")
    return "\n".join(lines)


# -- detection and reading order (any set with line quads) --------------------------------------

Quad = Sequence[tuple[float, float]]


def quad_iou(a: Quad, b: Quad) -> float:
    """Intersection over union of two line polygons (0 when either is degenerate)."""
    pa, pb = Polygon(a).buffer(0), Polygon(b).buffer(0)
    if pa.is_empty or pb.is_empty:
        return 0.0
    union = pa.union(pb).area
    return float(pa.intersection(pb).area / union) if union > 0 else 0.0


def match_lines(
    truth: Sequence[Quad], found: Sequence[Quad], threshold: float = 0.5
) -> list[tuple[int, int]]:
    """One-to-one matches (truth index, found index) at IoU >= ``threshold``, best pairs first."""
    pairs = []
    for t, tq in enumerate(truth):
        for f, fq in enumerate(found):
            iou = quad_iou(tq, fq)
            if iou >= threshold:
                pairs.append((iou, t, f))
    used_t: set[int] = set()
    used_f: set[int] = set()
    matches = []
    for _iou, t, f in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if t not in used_t and f not in used_f:
            used_t.add(t)
            used_f.add(f)
            matches.append((t, f))
    return sorted(matches)


def in_order(matches: Sequence[tuple[int, int]]) -> bool:
    """Whether the matched found lines come out in the truth's reading order (truth indices are
    reading-order positions)."""
    found = [f for _t, f in sorted(matches)]
    return all(a < b for a, b in itertools.pairwise(found))


@dataclass(frozen=True)
class DetectionFigures:
    """Line detection (IoU >= 0.5, one-to-one), character accuracy and reading order of a set."""

    images: int
    characters: int
    errors: int
    truth_lines: int
    found_lines: int
    matched: int
    multi_column: int
    multi_column_in_order: int
    multi_column_characters: int
    multi_column_errors: int
    ms_per_image: float

    @property
    def char_accuracy(self) -> float:
        return 1.0 - self.errors / self.characters if self.characters else 0.0

    @property
    def precision(self) -> float:
        return self.matched / self.found_lines if self.found_lines else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth_lines if self.truth_lines else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def format(self, title: str) -> str:
        multi = (
            f"multi-column layouts read in order: {self.multi_column_in_order} / {self.multi_column}, "
            f"their char accuracy "
            f"{1.0 - self.multi_column_errors / max(1, self.multi_column_characters):.2%}"
            if self.multi_column
            else "multi-column layouts: none in this set"
        )
        return "\n".join(
            [
                f"{title}: {self.images} images, {self.characters} characters, {self.truth_lines} lines",
                f"char accuracy {self.char_accuracy:.2%} ({self.errors} errors)",
                f"line detection (IoU >= 0.5): precision {self.precision:.3f}, recall {self.recall:.3f}, "
                f"F1 {self.f1:.3f} ({self.matched} matched, {self.found_lines} found)",
                multi,
                f"ms per image {self.ms_per_image:.0f} (pipeline.read, batches of 8)",
            ]
        )


@dataclass
class _Tally:
    images: int = 0
    characters: int = 0
    errors: int = 0
    truth_lines: int = 0
    found_lines: int = 0
    matched: int = 0
    multi_column: int = 0
    multi_column_in_order: int = 0
    multi_column_characters: int = 0
    multi_column_errors: int = 0

    def add(
        self, truth_text: str, truth_quads: Sequence[Quad], result: OcrResult, multi_column: bool
    ) -> None:
        reference = normalise(truth_text)
        hypothesis = normalise("".join(line.text for line in result.lines))
        errors = edit_distance(reference, hypothesis)
        matches = match_lines(truth_quads, [line.box for line in result.lines])
        self.images += 1
        self.characters += len(reference)
        self.errors += errors
        self.truth_lines += len(truth_quads)
        self.found_lines += len(result.lines)
        self.matched += len(matches)
        if multi_column:
            self.multi_column += 1
            self.multi_column_in_order += int(in_order(matches))
            self.multi_column_characters += len(reference)
            self.multi_column_errors += errors

    def figures(self, seconds: float) -> DetectionFigures:
        return DetectionFigures(**asdict(self), ms_per_image=1000.0 * seconds / max(1, self.images))


def evaluate_layouts(
    pipeline: OcrPipeline, samples: Sequence[LayoutSample], batch: int = 8
) -> DetectionFigures:
    """The same figures as `evaluate_test_set` on the project's own rendered layouts
    (`creativeloop.datasets.ad_layouts`), the set the layout steps are tuned on."""
    tally = _Tally()
    seconds = 0.0
    for start in range(0, len(samples), batch):
        chunk = samples[start : start + batch]
        started = time.perf_counter()
        results = pipeline.read([sample.png for sample in chunk])
        seconds += time.perf_counter() - started
        for sample, result in zip(chunk, results, strict=True):
            ordered = sorted(sample.lines, key=lambda line: line.order)
            tally.add(sample.text, [line.quad for line in ordered], result, sample.multi_column)
    return tally.figures(seconds)


def evaluate_test_set(pipeline: OcrPipeline, batch: int = 8) -> DetectionFigures:
    """Read every case of the independent OCR test set and score it as its docstrings say: the
    text of all lines in reading order against what the pipeline read (in its order), each truth
    line's quad against the found boxes, reading order on the multi-column layouts. Aggregates only."""
    tally = _Tally()
    seconds = 0.0
    pipeline.read([ocr_test_set.case(0).image])  # load the sessions before timing
    for start in range(0, ocr_test_set.COUNT, batch):
        cases = [ocr_test_set.case(i) for i in range(start, min(ocr_test_set.COUNT, start + batch))]
        started = time.perf_counter()
        results = pipeline.read([case.image for case in cases])
        seconds += time.perf_counter() - started
        for case, result in zip(cases, results, strict=True):
            ordered = case.in_reading_order()
            tally.add(case.text, [line.quad for line in ordered], result, bool(case.multi_column))
    return tally.figures(seconds)
