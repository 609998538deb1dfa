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

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rapidocr import RapidOCR

from creativeloop.datasets.ad_text import ResolvedFont, Sample
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
