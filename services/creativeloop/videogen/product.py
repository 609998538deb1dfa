"""The product's look, from its main image, to find it in video frames without a detector.

A hue-saturation histogram of the product's own pixels (the image minus its plain background) is
back-projected onto a frame: each pixel gets how typical its colour is of the product. Multiplied
with saliency, that map says where the product probably is (for the crop) and how much of it
there is (for the score). Swain & Ballard, "Color indexing", IJCV 1991.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.videogen.media import Frame

Floats = npt.NDArray[np.float32]
_BINS = [30, 32]
_RANGES = [0, 180, 0, 256]


def foreground_mask(image: Frame) -> Frame:
    """Pixels that differ from the image's border colour (product shots sit on plain backgrounds)."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).astype(np.float32)
    background = np.median(border, axis=0)
    distance = np.abs(image.astype(np.float32) - background).sum(axis=2)
    mask = (distance > 40).astype(np.uint8) * 255
    if mask.mean() < 255 * 0.02:  # nothing stands out: use the whole picture
        mask[:] = 255
    return np.asarray(mask)


@dataclass(frozen=True)
class ProductLook:
    """Normalised hue-saturation histogram of the product's pixels."""

    histogram: Floats

    @classmethod
    def from_image(cls, image: Frame) -> ProductLook:
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        mask = foreground_mask(image)
        # Grey pixels carry no hue: leave them out of the product's colour model.
        mask[hsv[..., 1] < 40] = 0
        if not mask.any():
            mask[:] = 255
        hist = cv2.calcHist([hsv], [0, 1], mask, _BINS, _RANGES)
        cv2.normalize(hist, hist, 0, 255, cv2.NORM_MINMAX)
        return cls(hist.astype(np.float32))

    def likelihood(self, frame: Frame) -> Floats:
        """Per pixel 0..1: how product-coloured it is."""
        hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
        back = cv2.calcBackProject([hsv], [0, 1], self.histogram, _RANGES, 1)
        back = cv2.GaussianBlur(back, (5, 5), 0)
        return (back.astype(np.float32) / 255.0).astype(np.float32)
