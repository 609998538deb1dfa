"""The kit's one image decoder: what every service accepts as a picture, and how it refuses."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from creativeloop.kit.images import ImageRejected, decode_image


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def test_colour_comes_back_as_bgr_with_the_format_named() -> None:
    picture = decode_image(encoded(Image.new("RGB", (5, 4), (10, 20, 30)), "PNG"))
    assert picture.format == "PNG"
    assert (picture.width, picture.height) == (5, 4)
    assert picture.pixels.dtype == np.uint8 and picture.pixels.shape == (4, 5, 3)
    assert picture.pixels[0, 0].tolist() == [30, 20, 10]
    assert picture.alpha is None


def test_alpha_only_when_asked_for_and_not_fully_opaque() -> None:
    half = encoded(Image.new("RGBA", (3, 3), (0, 255, 0, 100)), "PNG")
    opaque = encoded(Image.new("RGBA", (3, 3), (0, 255, 0, 255)), "PNG")
    assert decode_image(half).alpha is None
    with_alpha = decode_image(half, keep_alpha=True).alpha
    assert with_alpha is not None and int(with_alpha[1, 1]) == 100
    assert decode_image(opaque, keep_alpha=True).alpha is None


def test_grey_and_sixteen_bit_pictures_are_scaled_not_clipped() -> None:
    deep = Image.fromarray(np.full((6, 6), 40000, dtype=np.uint16))
    picture = decode_image(encoded(deep, "PNG"), grey=True)
    assert picture.pixels.shape == (6, 6)
    assert int(picture.pixels[0, 0]) == round(40000 * 255 / 65535)


def test_exif_orientation_is_applied() -> None:
    wide = Image.new("RGB", (8, 4), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    picture = decode_image(encoded(wide, "JPEG", exif=exif.tobytes()))
    assert picture.pixels.shape[:2] == (8, 4)


@pytest.mark.parametrize(
    ("data", "options", "reason"),
    [
        (b"", {}, "empty image"),
        (b"x" * 100, {"max_bytes": 10}, "image is 100 bytes, limit 10"),
        (b"\x89PNG\r\n\x1a\n garbage", {}, "undecodable image: not a readable image (cannot decode"),
        (b"GIF89a", {"subject": "product image"}, "undecodable product image"),
    ],
)
def test_bad_bytes_are_one_error_type_with_a_reason(
    data: bytes, options: dict[str, object], reason: str
) -> None:
    with pytest.raises(ImageRejected, match=reason.replace("(", r"\(")) as caught:
        decode_image(data, **options)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError) and reason in caught.value.reason


def test_limits_are_checked_before_decoding() -> None:
    big = encoded(Image.new("RGB", (300, 200)), "PNG")
    with pytest.raises(ImageRejected, match="images\\[2\\] is 300x200 pixels, limit 1000 pixels"):
        decode_image(big, subject="images[2]", max_pixels=1000)
    with pytest.raises(ImageRejected, match="unsupported image format PNG"):
        decode_image(big, formats={"JPEG"})
    with pytest.raises(ImageRejected, match="too small to analyse"):
        decode_image(encoded(Image.new("RGB", (7, 30)), "PNG"), min_side=8)


def test_truncated_jpeg_is_rejected_not_half_decoded() -> None:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = encoded(photo, "JPEG", quality=90)
    with pytest.raises(ImageRejected, match="undecodable"):
        decode_image(data[: len(data) // 2])
