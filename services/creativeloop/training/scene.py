"""Train the scene combiner: the scene set's signals -> LightGBM -> ``understanding/models/scene.txt``.

The scene classifier (`creativeloop.understanding.scene`) measures signals of a picture (OCR,
faces, saliency, edges, grid lines, ImageNet classes) and a small LightGBM model the project
trains itself combines them into one of six ad-picture kinds. `creativeloop train scene`
extracts the signals of the train split of the scene set (`creativeloop.datasets.scenes`),
trains the model here, writes it where the package ships it (`DEFAULT_MODEL`), and reports on the
held-out test split (`creativeloop.evaluation.scene`). Extraction is the slow part (OCR), so
features can be kept in a cache folder between runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.scenes import SEED, make_example
from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.settings import ModelSettings
from creativeloop.understanding.ocr import OcrPipeline
from creativeloop.understanding.scene import (
    CLASSES,
    FEATURE_NAMES,
    Floats,
    LightGBMCombiner,
    SceneClassifier,
    feature_row,
)

#: LightGBM settings; deterministic (one thread, fixed seeds) so the same set gives the same file.
#: Chosen by 5-fold cross-validation on the train split among 4/7 leaves, rates 0.08/0.15 and
#: 30-120 rounds, keeping the file small (~130 KiB): deeper or longer models fit the training
#: photos better (CV 95 %) without doing better on held-out photos.
LGB_PARAMS: dict[str, Any] = {
    "objective": "multiclass",
    "num_class": len(CLASSES),
    "learning_rate": 0.15,
    "num_leaves": 4,
    "min_data_in_leaf": 8,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 7,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}
ROUNDS = 40


@dataclass(frozen=True)
class FeatureSet:
    """Feature rows and labels (class indices) of one split."""

    features: Floats
    labels: npt.NDArray[np.int32]


def extract(
    classifier: SceneClassifier,
    split: str,
    per_class: int,
    seed: int = SEED,
    batch: int = 8,
    timings: dict[str, float] | None = None,
    log: Callable[[str], None] = print,
) -> FeatureSet:
    rows: list[Floats] = []
    labels: list[int] = []
    for kind in CLASSES:
        started = time.perf_counter()
        for start in range(0, per_class, batch):
            images = [make_example(kind, split, i, seed) for i in range(start, min(per_class, start + batch))]
            for signals in classifier.signals(images, timings=timings):
                rows.append(feature_row(signals))
                labels.append(CLASSES.index(kind))
            if timings is not None:
                timings["images"] = timings.get("images", 0.0) + len(images)
        log(f"  {split} {kind.value}: {per_class} images in {time.perf_counter() - started:.0f} s")
    return FeatureSet(np.stack(rows), np.array(labels, dtype=np.int32))


def train(features: FeatureSet, rounds: int = ROUNDS) -> Any:
    """A LightGBM booster (untyped: lightgbm ships no stubs) over ``features``."""
    dataset = lightgbm.Dataset(
        features.features.astype(np.float64), label=features.labels, feature_name=list(FEATURE_NAMES)
    )
    return lightgbm.train(LGB_PARAMS, dataset, num_boost_round=rounds)


@dataclass(frozen=True)
class Trained:
    """What `train_model` wrote."""

    path: Path
    rounds: int
    train_accuracy: float
    images: int

    def summary(self) -> str:
        return (
            f"wrote {self.path} ({self.path.stat().st_size / 1024:.0f} KiB, {self.rounds} rounds)\n"
            f"train accuracy {self.train_accuracy:.1%} on {self.images} images"
        )


def train_model(training: FeatureSet, model_path: Path, rounds: int = ROUNDS) -> Trained:
    """Train on ``training`` and write the model file (the combiner's text format) to ``model_path``."""
    booster = train(training, rounds)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_path))
    predicted = np.argmax(booster.predict(training.features.astype(np.float64)), axis=1)
    accuracy = float(np.mean(predicted == training.labels))
    return Trained(model_path, rounds, accuracy, len(training.labels))


def scene_classifier(repository: Path | None, model: Path) -> tuple[SceneClassifier, ModelClient]:
    """The classifier over the model repository (default: ``CREATIVELOOP_MODELS_*``), with the
    combiner in ``model`` when it exists (extraction alone needs none); close the client after."""
    settings = ModelSettings()
    if repository is not None:
        settings = settings.model_copy(update={"repository": repository})
    client = model_client_from_settings(settings)
    ocr = OcrPipeline.from_repository(client, settings.repository)
    combiner: LightGBMCombiner | _Untrained = _Untrained()
    if model.is_file():
        try:
            combiner = LightGBMCombiner(model)
        except ValueError:  # trained on other features: extraction needs none, training replaces it
            pass
    return SceneClassifier.from_repository(client, settings.repository, combiner=combiner, ocr=ocr), client


class _Untrained:
    def predict(self, features: Floats) -> Floats:
        raise RuntimeError("no trained scene model yet")


def cached_features(path: Path | None, key: str, build: Callable[[], FeatureSet]) -> FeatureSet:
    """Features are the slow part (OCR): keep them in ``path`` when asked, keyed by set and code."""
    if path is None:
        return build()
    file = path / f"scene-features-{key}.npz"
    if file.is_file():
        data = np.load(file)
        if tuple(str(n) for n in data["names"]) == FEATURE_NAMES:
            return FeatureSet(data["features"], data["labels"])
    built = build()
    path.mkdir(parents=True, exist_ok=True)
    np.savez(file, features=built.features, labels=built.labels, names=np.array(FEATURE_NAMES))
    return built


def split_features(
    classifier: SceneClassifier,
    split: str,
    per_class: int,
    seed: int = SEED,
    cache: Path | None = None,
    timings: dict[str, float] | None = None,
) -> FeatureSet:
    """The features of ``per_class`` pictures per kind of ``split``, from ``cache`` when there."""
    return cached_features(
        cache,
        f"{split}-{per_class}-{seed}",
        lambda: extract(classifier, split, per_class, seed, timings=timings),
    )
