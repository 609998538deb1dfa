"""Aesthetic score: features, a ranker trained on degradations, its ONNX export served by the client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.training import aesthetics as train
from creativeloop.training.sources.aesthetics import _config
from creativeloop.understanding.aesthetics import (
    FEATURE_NAMES,
    MODEL_NAME,
    N_FEATURES,
    AestheticScorer,
    blockiness,
    feature_dict,
    features,
)

# Photos from PyPI wheels (scikit-image, scikit-learn) and drawn product shots: no apt package needed.
TRAIN = (
    "skimage:astronaut.png",
    "skimage:chelsea.png",
    "skimage:motorcycle_left.png",
    "sklearn:china.jpg",
    "product:dress:white",
    "product:jeans:grey",
    "product:garment/tank/Black:white",
)
HELD_OUT_PHOTOS = ("skimage:coffee.png", "skimage:rocket.jpg", "sklearn:flower.jpg")
HELD_OUT = (*HELD_OUT_PHOTOS, "product:skirt:white")
CLEAR_KINDS = ("blur", "noise", "jpeg", "low_contrast", "underexposure")


@pytest.fixture(scope="module")
def trained() -> tuple[train.TrainedRanker, train.Dataset, train.Dataset]:
    data = train.build_dataset(TRAIN)
    return train.train(data, seed=0), data, train.build_dataset(HELD_OUT)


@pytest.fixture(scope="module")
def repository(
    trained: tuple[train.TrainedRanker, train.Dataset, train.Dataset],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A one-model repository laid out as `creativeloop models build` lays it out."""
    root = tmp_path_factory.mktemp("repo")
    (root / MODEL_NAME / "1").mkdir(parents=True)
    (root / MODEL_NAME / "1" / "model.onnx").write_bytes(train.to_onnx(trained[0]))
    (root / MODEL_NAME / "config.pbtxt").write_text(_config(N_FEATURES))
    return root


def test_feature_vector_is_the_contract() -> None:
    photo = train.load_photo("skimage:coffee.png")
    vector = features(photo)
    assert vector.shape == (N_FEATURES,) and vector.dtype == np.float32
    assert list(feature_dict(photo)) == list(FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    # Resolution-independent: a 2x upload measures like the original (blockiness aside).
    big = cv2.resize(photo, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    named = dict(zip(FEATURE_NAMES, features(big), strict=True))
    assert abs(named["luma_mean"] - feature_dict(photo)["luma_mean"]) < 0.01


def test_measures_move_the_right_way() -> None:
    photo = train.load_photo("sklearn:flower.jpg")
    base = feature_dict(photo)
    blurred = feature_dict(train.degrade(photo, "blur", 3))
    noisy = feature_dict(train.degrade(photo, "noise", 3))
    dark = feature_dict(train.degrade(photo, "underexposure", 3))
    bright = feature_dict(train.degrade(photo, "overexposure", 3))
    flat = feature_dict(train.degrade(photo, "low_contrast", 3))
    assert (
        blurred["sharp_laplacian"] < base["sharp_laplacian"] and blurred["sharp_edges"] < base["sharp_edges"]
    )
    assert noisy["noise_sigma"] > base["noise_sigma"]
    assert dark["luma_mean"] < base["luma_mean"] and dark["clip_low"] > base["clip_low"]
    assert bright["clip_high"] > base["clip_high"]
    assert flat["contrast_rms"] < base["contrast_rms"] and flat["colourfulness"] < base["colourfulness"]
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
    blocky = cv2.cvtColor(train.degrade(photo, "jpeg", 3), cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert blockiness(blocky) > blockiness(grey) + 0.1


def test_ranks_originals_above_degraded_copies_on_held_out_photos(
    trained: tuple[train.TrainedRanker, train.Dataset, train.Dataset], repository: Path
) -> None:
    _, _, held = trained
    scores = AestheticScorer(EmbeddedModelClient(repository)).score_features(held.X)
    assert scores.shape == (len(held.photo),)
    assert np.all((scores >= 0) & (scores <= 100))
    for photo in HELD_OUT_PHOTOS:
        rows = {
            (k, int(lv)): s
            for p, k, lv, s in zip(held.photo, held.kind, held.level, scores, strict=True)
            if p == photo
        }
        original = rows[("original", 0)]
        for kind in CLEAR_KINDS:
            assert original > rows[(kind, 2)] and original > rows[(kind, 3)], (
                photo,
                kind,
                original,
                rows[(kind, 3)],
            )
    report = train.evaluate(held, scores)
    assert report.overall_within >= 0.6, report
    assert report.overall_pairs >= 0.75, report


def test_onnx_through_the_client_equals_native_lightgbm(
    trained: tuple[train.TrainedRanker, train.Dataset, train.Dataset], repository: Path
) -> None:
    ranker, _, held = trained
    client = EmbeddedModelClient(repository)
    spec = client.spec(MODEL_NAME)
    assert spec.inputs[0].dims == (N_FEATURES,)
    served = AestheticScorer(client).score_features(held.X)  # 88 rows: split into max_batch_size runs
    native = ranker.score(held.X)
    assert np.max(np.abs(served - native)) < 1e-3
    one = AestheticScorer(client).score(train.load_photo("skimage:coffee.png"))
    assert one == pytest.approx(
        float(served[next(i for i, k in enumerate(held.kind) if k == "original")]), abs=1e-4
    )
    client.close()


def test_training_and_export_are_deterministic(
    trained: tuple[train.TrainedRanker, train.Dataset, train.Dataset],
) -> None:
    ranker, data, _ = trained
    again = train.train(data, seed=0)
    assert train.to_onnx(again) == train.to_onnx(ranker)
    assert again.calibration == ranker.calibration


_EXPORT_SCRIPT = """
import hashlib
import numpy as np
from creativeloop.training import aesthetics as train
rng = np.random.default_rng(0)
photos, kinds, levels = [], [], []
for photo in ("a", "b", "c", "d"):
    for kind, level in [("original", 0)] + [(k, l) for k in ("blur", "noise") for l in (1, 2, 3)]:
        photos.append(photo); kinds.append(kind); levels.append(level)
X = rng.normal(size=(len(photos), train.N_FEATURES)).astype(np.float32)
X[:, 0] -= np.asarray(levels, dtype=np.float32)
data = train.Dataset(X, tuple(photos), tuple(kinds), np.asarray(levels, dtype=np.int32))
print(hashlib.sha256(train.to_onnx(train.train(data, seed=0, rounds=5))).hexdigest())
"""


def test_export_bytes_do_not_depend_on_the_hash_seed() -> None:
    """Two processes with different string hashing write the same ONNX bytes (onnxmltools lists
    opsets in set order; a fresh machine's build must match the committed manifest)."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", _EXPORT_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for seed in ("0", "20", "22")  # 20 and 22 put ai.onnx.ml first in the set
    }
    assert len(digests) == 1, digests


def test_bad_input_is_a_clear_value_error(repository: Path) -> None:
    scorer = AestheticScorer(EmbeddedModelClient(repository))
    with pytest.raises(ValueError, match="cannot decode"):
        scorer.score_bytes(b"GIF89a-but-truncated")
    with pytest.raises(ValueError, match="too small"):
        features(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\[N, "):
        scorer.score_features(np.zeros((2, N_FEATURES + 1), np.float32))
    with pytest.raises(ValueError, match="unknown degradation"):
        train.degrade(np.zeros((32, 32, 3), np.uint8), "sepia", 1)


def test_framing_features_see_a_subject_cut_by_the_frame() -> None:
    shot = train.load_photo("product:dress:white")  # centred on white, margins all round
    framed = feature_dict(shot)
    h, w = shot.shape[:2]
    cut = feature_dict(shot[: h // 2, : w // 2].copy())  # the top-left quarter: the dress runs off two sides
    assert framed["subject_cut"] < 0.05 < cut["subject_cut"]
    assert cut["subject_edge_area"] > framed["subject_edge_area"]
    assert cut["saliency_off_frame"] > framed["saliency_off_frame"]
    assert cut["border_edges"] > framed["border_edges"]


def test_clipping_features_tell_burnt_highlights_from_a_white_backdrop() -> None:
    shot = feature_dict(train.load_photo("product:dress:white"))
    assert shot["clip_high"] > 0.3  # the studio white is clipped ...
    assert shot["clip_interior"] < 0.01  # ... but it touches the frame: not a burnt highlight
    photo = train.load_photo("sklearn:flower.jpg")
    base = feature_dict(photo)
    clipped = feature_dict(train.degrade(photo, "clipped_highlights", 3))
    assert clipped["clip_channel"] > base["clip_channel"] + 0.05
    assert clipped["highlight_flat"] > base["highlight_flat"]
    assert clipped["clip_interior"] > base["clip_interior"]


def test_new_degradations_keep_the_picture_size_and_get_stronger() -> None:
    photo = train.load_photo("skimage:coffee.png")
    for kind in ("clipped_highlights", "crop_zoom"):
        copies = [train.degrade(photo, kind, level, seed=5) for level in (1, 2, 3)]
        assert all(c.shape == photo.shape and c.dtype == np.uint8 for c in copies)
    clipped = [
        float(np.mean(train.degrade(photo, "clipped_highlights", lv).max(axis=2) >= 250)) for lv in (1, 2, 3)
    ]
    assert clipped == sorted(clipped) and clipped[0] > float(np.mean(photo.max(axis=2) >= 250))
    sharp = [
        feature_dict(train.degrade(photo, "crop_zoom", lv, seed=5))["sharp_laplacian"] for lv in (1, 2, 3)
    ]
    assert sharp == sorted(sharp, reverse=True)  # enlarged more, softer
