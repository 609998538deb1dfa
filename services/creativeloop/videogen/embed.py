"""Image embeddings for redundancy and product similarity: a model when there is one, colour otherwise.

Both embedders return L2-normalised rows, so a dot product is a cosine similarity either way:

- `HistogramEmbedder`: the square root of a 256-bin HSV histogram (Hellinger embedding), so
  its dot product is the Bhattacharyya coefficient of the two colour distributions;
- `ModelEmbedder`: the `embedding` output of the repository's `image_classifier` model
  (EfficientNet-Lite0, 1280-d) through any `ModelClient` (embedded onnxruntime or Triton).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.image_classifier import prepare_image
from creativeloop.videogen.media import Frame
from creativeloop.videogen.segment import colour_histogram

Floats = npt.NDArray[np.float32]


class Embedder(Protocol):
    name: str

    def embed(self, images: Sequence[Frame]) -> Floats:
        """[len(images), d] float32, each row L2-normalised (BGR input)."""
        ...


def _normalised(rows: npt.NDArray[np.floating]) -> Floats:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)


class HistogramEmbedder:
    """Colour only: cheap, needs no model, blind to shape."""

    name = "histogram"

    def embed(self, images: Sequence[Frame]) -> Floats:
        if not images:
            return np.zeros((0, 256), np.float32)
        return _normalised(np.sqrt(np.stack([colour_histogram(image) for image in images])))


class ModelEmbedder:
    """The `embedding` output of an image model with input `image` uint8 [N, 224, 224, 3] RGB."""

    def __init__(self, client: ModelClient, model: str = "image_classifier", batch_size: int = 16) -> None:
        self.client = client
        self.model = model
        self.name = f"model:{model}"
        self._wanted_batch = batch_size
        self._batch_size = 0  # read from the model's spec on first use: the backend may start later

    @property
    def batch_size(self) -> int:
        if not self._batch_size:
            limit = self.client.spec(self.model).max_batch_size
            self._batch_size = min(self._wanted_batch, limit) if limit > 0 else 1
        return self._batch_size

    def embed(self, images: Sequence[Frame]) -> Floats:
        rows: list[Floats] = []
        crops = [prepare_image(image, "bgr") for image in images]
        size = self.batch_size
        for start in range(0, len(crops), size):
            batch = np.stack(crops[start : start + size])
            outputs = self.client.infer(self.model, {"image": batch}, ["embedding"])
            rows.append(np.asarray(outputs["embedding"], np.float32).reshape(len(batch), -1))
        if not rows:
            return np.zeros((0, 1), np.float32)
        return _normalised(np.concatenate(rows))
