"""The background generator slot: templates with a `generated` background ask it for pixels.

Contract (the model repository's `background_generator`, see its config.pbtxt):

- inputs: ``cutout`` UINT8 [N, H, W, 4], the product cut-out placed on a transparent canvas of
  the creative's size (RGBA); ``condition`` FP32 [N, 4], the product's dominant colour (r, g, b in
  0..1) and the template's target lightness (0..1);
- output: ``background`` UINT8 [N, H, W, 3], RGB, the canvas behind the product.

Two implementations, chosen by ``CREATIVELOOP_IMAGEGEN_BACKGROUND_GENERATOR``: ``procedural``
(the default, numpy in-process) and ``model`` (any model with that contract, through the
project's ModelClient: embedded onnxruntime or Triton). The model the project builds
(`creativeloop.training.sources.background_generator`) computes the same colour field as
:func:`colour_field` as an ONNX graph: a tinted vertical gradient with a soft glow around the
product. It does not generate photoreal scenes; it proves the slot, and a learned generator (a
GAN or diffusion model exported to ONNX) drops in with the same contract.
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.imagegen.colour import RGB
from creativeloop.kit.models.client import ModelClient

Array = npt.NDArray[Any]
MODEL_NAME = "background_generator"
CONDITION_SIZE = 4
#: Parameters of the colour field, shared with the ONNX graph the project builds.
WASH = 0.78
SHADE = 0.86
POOL = 8
BLUR = 5
GLOW_GAIN = 1.6
GLOW = 0.45


class BackgroundGenerator(Protocol):
    name: str

    def generate(self, cutout_rgba: Array, condition: Array) -> Array:
        """[H, W, 4] uint8 RGBA and [4] float32 -> [H, W, 3] uint8 RGB."""
        ...


def condition_vector(dominant: RGB, lightness: float) -> Array:
    return np.asarray([*(c / 255.0 for c in dominant), lightness], dtype=np.float32)


def _mean_excluding_pad(values: Array, size: int) -> Array:
    """Box filter that averages only the pixels inside the image (ONNX AveragePool with pads)."""
    total = cv2.boxFilter(values, -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT)
    count = cv2.boxFilter(
        np.ones_like(values), -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT
    )
    return np.asarray(total / count, dtype=np.float32)


def colour_field(cutout_rgba: Array, condition: Array) -> Array:
    """The reference colour field in numpy (what the built ONNX model computes)."""
    height, width = cutout_rgba.shape[:2]
    colour, lightness = condition[:3].astype(np.float32), np.float32(condition[3])
    top = colour * (1 - WASH) + lightness * WASH
    bottom = top * SHADE
    ramp = (
        np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        if height > 1
        else np.zeros((1, 1, 1), np.float32)
    )
    field = top + (bottom - top) * ramp  # [H, 1, 3]
    alpha = cutout_rgba[:, :, 3].astype(np.float32) / 255.0
    small_h, small_w = max(1, height // POOL), max(1, width // POOL)
    small = cv2.resize(
        alpha[: small_h * POOL, : small_w * POOL], (small_w, small_h), interpolation=cv2.INTER_AREA
    )
    small = _mean_excluding_pad(_mean_excluding_pad(small, BLUR), BLUR)
    glow = np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR) * GLOW_GAIN, 0, 1)
    out = field + (1.0 - field) * (GLOW * glow[:, :, None])
    return np.asarray(np.clip(out * 255.0 + 0.5, 0, 255), dtype=np.uint8)


class ProceduralGenerator:
    """The colour field computed in-process: no model repository needed."""

    name = "procedural"

    def generate(self, cutout_rgba: Array, condition: Array) -> Array:
        return colour_field(cutout_rgba, condition)


class ModelGenerator:
    """Any `background_generator` model, called through the ModelClient."""

    name = "model"

    def __init__(self, client: ModelClient, model: str = MODEL_NAME) -> None:
        self._client = client
        self._model = model

    def generate(self, cutout_rgba: Array, condition: Array) -> Array:
        outputs = self._client.infer(
            self._model,
            {"cutout": cutout_rgba[None], "condition": condition[None].astype(np.float32)},
            ["background"],
        )
        background = np.asarray(outputs["background"][0], dtype=np.uint8)
        if background.shape != (*cutout_rgba.shape[:2], 3):
            raise ValueError(f"{self._model} returned {background.shape}, wanted {cutout_rgba.shape[:2]}x3")
        return background
