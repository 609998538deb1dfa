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
from creativeloop.datasets.test_sets import aesthetics as aesthetics_test_set
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


# -- the independent test set (creativeloop.datasets.test_sets.aesthetics) ------------------------


def test_set_report(repository: Path) -> str:
    """Spearman correlation between score and quality order (a higher degradation level is worse)
    within each (photo, degradation) chain of the independent test set, averaged per degradation
    and overall, plus the pooled figure; scored through the model client. Aggregates only."""
    client, built = _client(repository)
    scorer = AestheticScorer(client)
    rows: list[np.ndarray] = []
    keys: list[tuple[str, str]] = []
    levels: list[int] = []
    start = time.perf_counter()
    for case in aesthetics_test_set.iter_cases():
        rows.append(features(case.image))
        keys.append((case.photo_id, case.kind))
        levels.append(int(case.level))
    feature_s = time.perf_counter() - start
    scores = scorer.score_features(np.stack(rows).astype(np.float32)).astype(np.float64)
    quality = -np.asarray(levels, dtype=np.float64)
    chains: dict[tuple[str, str], list[int]] = {}
    for index, key in enumerate(keys):
        chains.setdefault(key, []).append(index)
    by_kind: dict[str, list[float]] = {}
    for (_photo, kind), members in sorted(chains.items()):
        by_kind.setdefault(kind, []).append(train._spearman(scores[members], quality[members]))
    overall = [value for values in by_kind.values() for value in values]
    lines = [
        f"model: {'built into ' + str(built) if built else repository}",
        f"independent test set: {len(keys)} pictures, {len(chains)} (photo, degradation) chains\n",
        "| degradation | Spearman within photo | chains |",
        "|---|---|---|",
    ]
    lines += [f"| {kind} | {np.mean(values):.3f} | {len(values)} |" for kind, values in by_kind.items()]
    lines.append(f"| **all** | {np.mean(overall):.3f} | {len(overall)} |")
    lines.append(f"\npooled Spearman over all pictures: {train._spearman(scores, quality):.3f}")
    lines.append(f"ms per picture (features): {1000.0 * feature_s / max(1, len(keys)):.1f}")
    return "\n".join(lines)
