"""ImageNet classes and an image embedding from the repository's ``image_classifier`` model.

The model (EfficientNet-Lite0) takes uint8 RGB crops [N,224,224,3] and normalises inside the
graph, so the only client-side step is the crop: shorter side to 256, centre 224 x 224, the
evaluation crop the weights were trained for. The same `prepare_image` runs when the model card
measures agreement, so the card's figures describe this code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from creativeloop.kit.models.client import ModelClient

MODEL = "image_classifier"
SIZE = 224
RESIZE_SHORTER = 256
Channels = Literal["bgr", "rgb"]


@dataclass(frozen=True)
class Classification:
    """Top-k ImageNet labels with probabilities, the L2-normalised 1280-d embedding, and the full
    1000-class distribution (for callers that derive their own signals from it)."""

    top: list[tuple[str, float]]
    embedding: np.ndarray
    probabilities: np.ndarray | None = None


def _to_rgb(image: np.ndarray, channels: Channels) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype {image.dtype}, expected uint8")
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB))
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image shape {image.shape}, expected HxW, HxWx3 or HxWx4")
    if channels == "bgr":
        code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return np.asarray(cv2.cvtColor(image, code))
    return np.ascontiguousarray(image[:, :, :3])


def prepare_image(image: np.ndarray, channels: Channels = "bgr") -> np.ndarray:
    """uint8 RGB [224,224,3]: shorter side to 256 (area filter when shrinking), centre crop."""
    rgb = _to_rgb(image, channels)
    height, width = rgb.shape[:2]
    scale = RESIZE_SHORTER / min(height, width)
    size = (max(SIZE, round(width * scale)), max(SIZE, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, size, interpolation=interpolation)
    top = (resized.shape[0] - SIZE) // 2
    left = (resized.shape[1] - SIZE) // 2
    return np.ascontiguousarray(resized[top : top + SIZE, left : left + SIZE])


def read_labels(path: Path) -> list[str]:
    labels = path.read_text(encoding="utf-8").splitlines()
    if not labels:
        raise ValueError(f"{path} holds no labels")
    return labels


class ImageClassifier:
    """Classify images through any `ModelClient` (embedded onnxruntime or Triton)."""

    def __init__(
        self,
        client: ModelClient,
        labels_path: Path,
        *,
        model: str = MODEL,
        top_k: int = 5,
        batch_size: int = 16,
    ) -> None:
        self.client = client
        self.model = model
        self.labels = read_labels(Path(labels_path))
        self.top_k = top_k
        limit = client.spec(model).max_batch_size
        self.batch_size = min(batch_size, limit) if limit > 0 else 1

    def _results(self, outputs: dict[str, np.ndarray]) -> list[Classification]:
        probabilities, embeddings = outputs["probabilities"], outputs["embedding"]
        results = []
        for probs, embedding in zip(probabilities, embeddings, strict=True):
            order = np.argsort(-probs, kind="stable")[: self.top_k]
            top = [(self.labels[i], float(probs[i])) for i in order]
            results.append(Classification(top, embedding, probs))
        return results

    def _batches(self, images: Sequence[np.ndarray], channels: Channels) -> list[np.ndarray]:
        crops = [prepare_image(image, channels) for image in images]
        return [np.stack(crops[i : i + self.batch_size]) for i in range(0, len(crops), self.batch_size)]

    def classify(self, images: Sequence[np.ndarray], channels: Channels = "bgr") -> list[Classification]:
        """One `Classification` per image, in order (OpenCV's BGR unless ``channels="rgb"``)."""
        results: list[Classification] = []
        for batch in self._batches(images, channels):
            results += self._results(self.client.infer(self.model, {"image": batch}))
        return results

    async def aclassify(
        self, images: Sequence[np.ndarray], channels: Channels = "bgr"
    ) -> list[Classification]:
        """`classify` without blocking the event loop."""
        results: list[Classification] = []
        for batch in self._batches(images, channels):
            results += self._results(await self.client.ainfer(self.model, {"image": batch}))
        return results
