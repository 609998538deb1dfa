"""ImageClassifier: the evaluation crop, OpenCV's BGR by default, batches within the model's limit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.image_classifier import ImageClassifier, prepare_image
from creativeloop.kit.models.spec import ModelSpec, TensorSpec
from tests.unit.test_modelrepo_support import reference_repository

PHOTOS = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture(scope="module")
def repository() -> Path:
    return reference_repository().repository


@pytest.fixture(scope="module")
def client(repository: Path) -> Iterator[EmbeddedModelClient]:
    embedded = EmbeddedModelClient(repository)
    yield embedded
    embedded.close()


def _photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / name))
    if image is None:
        pytest.skip("Debian opencv-doc sample photos are not installed")
    return np.asarray(image)


class RecordingClient:
    """Returns the crop's mean red value as the probability of class 0; records batch sizes."""

    backend = "recording"

    def __init__(self, max_batch_size: int) -> None:
        image = TensorSpec("image", np.dtype(np.uint8), (224, 224, 3))
        probabilities = TensorSpec("probabilities", np.dtype(np.float32), (1000,))
        embedding = TensorSpec("embedding", np.dtype(np.float32), (1280,))
        self._spec = ModelSpec("image_classifier", max_batch_size, (image,), (probabilities, embedding))
        self.batches: list[int] = []

    def spec(self, model: str) -> ModelSpec:
        return self._spec

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        self._spec.validate_inputs(inputs)
        batch = inputs["image"]
        self.batches.append(batch.shape[0])
        probabilities = np.zeros((batch.shape[0], 1000), dtype=np.float32)
        probabilities[:, 0] = batch[..., 0].mean(axis=(1, 2)) / 255.0
        return {"probabilities": probabilities, "embedding": np.zeros((batch.shape[0], 1280), np.float32)}

    async def ainfer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        return self.infer(model, inputs, outputs)

    async def health(self, models: Sequence[str]) -> BackendHealth:
        return BackendHealth(True)

    def close(self) -> None:
        pass


def test_prepare_image_crops_the_centre_and_converts_to_rgb() -> None:
    wide = np.zeros((300, 600, 3), dtype=np.uint8)
    wide[:, :, 0] = 200  # blue in BGR
    wide[:, 250:350] = (0, 0, 255)  # a red band in the middle

    crop = prepare_image(wide)

    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    assert tuple(crop[112, 112]) == (255, 0, 0)  # red, now in RGB order
    assert tuple(crop[112, 0]) == (0, 0, 200)  # the blue side, in RGB
    assert prepare_image(np.zeros((20, 30), np.uint8)).shape == (224, 224, 3)  # grey and small
    assert tuple(prepare_image(np.full((50, 50, 4), (1, 2, 3, 4), np.uint8))[0, 0]) == (3, 2, 1)
    assert tuple(prepare_image(np.full((50, 50, 3), (1, 2, 3), np.uint8), "rgb")[0, 0]) == (1, 2, 3)
    with pytest.raises(ValueError, match="dtype"):
        prepare_image(np.zeros((50, 50, 3), np.float32))


def test_batches_stay_within_the_limit_and_keep_order(repository: Path) -> None:
    fake = RecordingClient(max_batch_size=3)
    images = [np.full((64, 64, 3), (0, 0, red), np.uint8) for red in range(0, 250, 40)]

    results = ImageClassifier(fake, repository / "image_classifier" / "labels.txt").classify(images)

    assert fake.batches == [3, 3, 1]
    assert [round(r.top[0][1] * 255) for r in results] == list(range(0, 250, 40))
    assert results[-1].top[0][0].startswith("tench")


def test_real_photos_get_their_classes(client: EmbeddedModelClient, repository: Path) -> None:
    classifier = ImageClassifier(client, repository / "image_classifier" / "labels.txt", top_k=3)
    squirrel, baboon = _photo("squirrel_cls.jpg"), _photo("baboon.jpg")

    results = classifier.classify([squirrel, baboon, squirrel[:, ::-1]])

    assert results[0].top[0][0].startswith("fox squirrel") and results[0].top[0][1] > 0.5
    assert results[1].top[0][0] == "baboon"
    assert [p for _, p in results[0].top] == sorted((p for _, p in results[0].top), reverse=True)
    embeddings = np.stack([r.embedding for r in results])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert embeddings[0] @ embeddings[2] > 0.8 > embeddings[0] @ embeddings[1]  # mirrored vs another photo


async def test_rgb_input_and_async_give_the_same_answer(
    client: EmbeddedModelClient, repository: Path
) -> None:
    classifier = ImageClassifier(client, repository / "image_classifier" / "labels.txt")
    photo = _photo("orange.jpg")

    sync = classifier.classify([photo])[0]
    rgb = (await classifier.aclassify([np.ascontiguousarray(photo[:, :, ::-1])], channels="rgb"))[0]

    assert [label for label, _ in rgb.top] == [label for label, _ in sync.top]
    np.testing.assert_allclose(rgb.embedding, sync.embedding, atol=1e-6)
