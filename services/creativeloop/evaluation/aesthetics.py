"""How well the aesthetic score follows picture quality on photos the model never saw.

Scores the held-out photos (`creativeloop.training.aesthetics.HELD_OUT_PHOTOS`) and their 7
degradations x 3 levels through the `ModelClient` (embedded onnxruntime over the model
repository, the path services use) and prints Spearman correlation between score and quality
order (original > level 1 > 2 > 3), per degradation kind and overall, the share of originals
scored above their degraded copies, what the admission gate would reject at several thresholds,
and the milliseconds per image of each stage (ONNX-vs-LightGBM agreement is measured by the
model's source and stated on its model card). Run::

    creativeloop eval aesthetics [--repository deploy/model-repository]

When the repository has no ``aesthetics`` model yet, it is built into a temporary repository
first (the same source `creativeloop models build` runs).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from creativeloop.datasets.cutouts import missing_pictures
from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.training import aesthetics as train
from creativeloop.training.repository.builder import build_repository
from creativeloop.understanding.aesthetics import MODEL_NAME, AestheticScorer, features


def missing() -> list[str]:
    """Training and held-out photos that are not installed, with the package that brings each."""
    return missing_pictures((*train.TRAIN_PHOTOS, *train.HELD_OUT_PHOTOS))


def _client(repository: Path) -> tuple[ModelClient, Path | None]:
    if (repository / MODEL_NAME / "config.pbtxt").is_file():
        return EmbeddedModelClient(repository), None
    tmp = Path(tempfile.mkdtemp(prefix="aesthetics-repo-"))
    build_repository(tmp, only=[MODEL_NAME], docs_dir=None, log=lambda line: None)
    return EmbeddedModelClient(tmp), tmp


def report(repository: Path) -> str:
    """The markdown tables of the held-out figures, the admission gates and the timings."""
    client, built = _client(repository)
    scorer = AestheticScorer(client)
    held = train.build_dataset(train.HELD_OUT_PHOTOS)
    scores = scorer.score_features(held.X)
    figures = train.evaluate(held, scores)

    lines = [
        f"model: {'built into ' + str(built) if built else repository}",
        f"held-out: {len(train.HELD_OUT_PHOTOS)} photos, {len(held.photo)} images\n",
        "| degradation | Spearman within photo | Spearman pooled | original > copy |",
        "|---|---|---|---|",
    ]
    for kind, kr in figures.kinds.items():
        lines.append(f"| {kind} | {kr.within:.3f} | {kr.pooled:.3f} | {kr.pairs:.3f} |")
    overall = (figures.overall_within, figures.overall_pooled, figures.overall_pairs)
    lines.append("| **all** | {:.3f} | {:.3f} | {:.3f} |".format(*overall))

    lines.append("\n| level | mean score | median |\n|---|---|---|")
    for level in range(train.LEVELS + 1):
        chosen = scores[held.level == level]
        lines.append(f"| {level} | {chosen.mean():.1f} | {np.median(chosen):.1f} |")

    lines.append(
        "\n| admission gate | originals rejected | level 2 rejected | level 3 rejected |\n|---|---|---|---|"
    )
    for gate in (15.0, 20.0, 25.0, 30.0, 35.0):
        shares = [float(np.mean(scores[held.level == lv] < gate)) for lv in (0, 2, 3)]
        lines.append(f"| score < {gate:.0f} | {shares[0]:.2f} | {shares[1]:.2f} | {shares[2]:.2f} |")

    # Timing: one image at a time, as a service scores an upload.
    photos = [train.load_photo(ref) for ref in train.HELD_OUT_PHOTOS]
    start = time.perf_counter()
    rows = [features(photo) for photo in photos]
    feature_ms = (time.perf_counter() - start) * 1000.0 / len(photos)
    start = time.perf_counter()
    for row in rows:
        scorer.score_features(row[None, :])
    infer_ms = (time.perf_counter() - start) * 1000.0 / len(rows)
    lines.append(f"\nms per image: features {feature_ms:.1f}, model (embedded onnxruntime) {infer_ms:.2f}")
    return "\n".join(lines)
