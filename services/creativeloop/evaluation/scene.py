"""How well the scene classifier tells ad-picture kinds apart, on pictures it never saw.

The set is the scene set (`creativeloop.datasets.scenes`): real photos split **by photo** (and
film shot) between train and test, composited products, rendered posters and collages. The report
extracts the signals of the test split, predicts with the trained combiner and prints accuracy,
the confusion matrix, milliseconds per image per stage and the most useful signals::

    creativeloop train scene    # ~6 min: builds the set, trains, writes understanding/models/scene.txt
    creativeloop eval scene     # ~1.5 min: test-split accuracy + confusion matrix

Training (`creativeloop.training.scene`) prints the same report after writing the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from creativeloop.datasets.test_sets import scenes as scene_test_set
from creativeloop.training.scene import FeatureSet
from creativeloop.understanding.scene import (
    CLASSES,
    FEATURE_NAMES,
    LightGBMCombiner,
    SceneClass,
    SceneClassifier,
    feature_row,
)

#: What to install when photos of the set are missing (the set, and its figures, differ without them).
MISSING_HINT = "missing photos (install Debian opencv-doc and the scikit-image and scikit-learn packages): "


def confusion(truth: Sequence[int], predicted: Sequence[int]) -> npt.NDArray[np.int64]:
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        matrix[t, p] += 1
    return matrix


def format_confusion(matrix: npt.NDArray[np.int64]) -> str:
    short = [c.value[:10] for c in CLASSES]
    lines = ["truth \\ predicted".ljust(18) + "".join(f"{s:>11}" for s in short) + f"{'recall':>9}"]
    for i, name in enumerate(short):
        total = int(matrix[i].sum())
        recall = matrix[i, i] / total if total else 0.0
        lines.append(name.ljust(18) + "".join(f"{int(v):>11}" for v in matrix[i]) + f"{recall:>9.0%}")
    return "\n".join(lines)


@dataclass(frozen=True)
class SceneReport:
    """Test-split figures of one combiner file."""

    accuracy: float
    matrix: npt.NDArray[np.int64]
    #: The ten signals with the most gain, most useful first.
    top_signals: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` writes."""
        return {
            "accuracy": self.accuracy,
            "confusion": self.matrix.tolist(),
            "classes": [c.value for c in CLASSES],
        }


def evaluate(model: Path, test: FeatureSet) -> SceneReport:
    """Predict ``test`` with the combiner in ``model`` and score it."""
    combiner = LightGBMCombiner(model)
    predicted = np.argmax(combiner.predict(test.features), axis=1)
    matrix = confusion(test.labels.tolist(), predicted.tolist())
    accuracy = float(np.trace(matrix)) / float(matrix.sum())
    importance = dict(zip(FEATURE_NAMES, combiner.booster.feature_importance("gain"), strict=True))
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:10]
    return SceneReport(accuracy, matrix, tuple((k, float(v)) for k, v in top))


def format_report(report: SceneReport, seed: int, timings: Mapping[str, float]) -> str:
    """Accuracy, the confusion matrix, ms per image per stage (over the images extracted in this
    run, counted in ``timings["images"]``) and the most useful signals."""
    lines = [
        f"scene classes, held-out test split: accuracy {report.accuracy:.1%} "
        f"on {int(report.matrix.sum())} images (seed {seed})",
        format_confusion(report.matrix),
    ]
    images = timings.get("images", 0.0)
    if images:
        lines.append(
            f"ms per image over the {images:.0f} images extracted in this run: "
            + ", ".join(
                f"{stage} {1000 * seconds / images:.1f}"
                for stage, seconds in timings.items()
                if stage != "images"
            )
        )
    lines.append("most useful signals (gain): " + ", ".join(f"{k} {v:.0f}" for k, v in report.top_signals))
    return "\n".join(lines)


# -- the independent test set (creativeloop.datasets.test_sets.scenes) ----------------------------


def test_set_features(
    classifier: SceneClassifier, batch: int = 8, timings: dict[str, float] | None = None
) -> FeatureSet:
    """Signals of every case of the independent scene test set (its OCR run by ``classifier``),
    labelled by the case's class. Nothing of a single case is printed or kept."""
    rows: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    for start in range(0, scene_test_set.COUNT, batch):
        cases = [scene_test_set.case(i) for i in range(start, min(scene_test_set.COUNT, start + batch))]
        for case, signals in zip(
            cases, classifier.signals([c.image for c in cases], timings=timings), strict=True
        ):
            rows.append(feature_row(signals))
            labels.append(CLASSES.index(SceneClass(case.label)))
        if timings is not None:
            timings["images"] = timings.get("images", 0.0) + len(cases)
    return FeatureSet(np.stack(rows), np.array(labels, dtype=np.int32))


def format_test_report(report: SceneReport) -> str:
    """Accuracy, per-class recall (in the confusion matrix) and the lowest class recall."""
    recalls = [
        report.matrix[i, i] / report.matrix[i].sum() for i in range(len(CLASSES)) if report.matrix[i].sum()
    ]
    return "\n".join(
        [
            f"independent test set: accuracy {report.accuracy:.1%} on {int(report.matrix.sum())} images, "
            f"lowest class recall {min(recalls):.0%}",
            format_confusion(report.matrix),
        ]
    )
