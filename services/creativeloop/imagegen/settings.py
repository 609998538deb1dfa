"""Settings of the image generation service (prefix CREATIVELOOP_IMAGEGEN_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ModelSettings, ServiceSettings

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


class ImagegenSettings(ServiceSettings):
    """Image generation service: fonts, limits, output encoding and the copygen client."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_IMAGEGEN_", extra="ignore")

    grpc_port: int = Field(50053, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9103, ge=0, le=65535, description="Port of `/metrics`.")
    copygen_target: str = Field(
        "127.0.0.1:50052", description="host:port of the copygen gRPC service (GenerateCopy)."
    )
    copygen_timeout_s: float = Field(
        5.0, gt=0, description="Deadline of one GenerateCopy call, waiting for copygen to be reachable."
    )
    copies_per_product: int = Field(
        2, ge=1, le=20, description="Top copy candidates rendered with every template, per product."
    )
    copy_max_length: int = Field(
        48, ge=10, le=500, description="Longest headline, in characters, asked of copygen."
    )
    max_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Attempts per profile whose handler fails unexpectedly, before dead-lettering "
        "(copygen or the broker being down pauses the stream instead).",
    )
    retry_backoff_s: float = Field(
        0.5, ge=0, description="First retry delay of an unexpectedly failed profile; doubles per attempt."
    )
    font_path: Path = Field(
        _DEJAVU / "DejaVuSans.ttf", description="TrueType font for text; Pillow's default font if missing."
    )
    bold_font_path: Path = Field(
        _DEJAVU / "DejaVuSans-Bold.ttf", description="Bold font (headlines, prices); `font_path` if missing."
    )
    cjk_font_path: Path = Field(
        Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # Noto CJK works too
        description="Font for text with Chinese characters (Debian `fonts-wqy-microhei`); "
        "`bold_font_path` if missing.",
    )
    stream_sizes: list[str] = Field(
        default_factory=lambda: ["1:1", "4:3", "9:16", "1.91:1"],
        description="Size slots pre-rendered for every admitted product (those a template offers).",
    )
    min_mask_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Override of every template's `min_mask_confidence`: below it the whole picture "
        "is used instead of the cut-out.",
    )
    background_generator: Literal["procedural", "model"] = Field(
        "procedural",
        description="What fills `generated` backgrounds: `procedural` (in-process colour field) or "
        "`model` (the `background_generator` model through the model client).",
    )
    models: ModelSettings = Field(default_factory=ModelSettings, exclude=True)
    default_template: str = Field(
        "split-left", description="Template used when a RenderCreative request names none."
    )
    default_encoding: Literal["png", "jpeg", "webp"] = Field(
        "jpeg",
        description="Encoding of stream creatives and of requests naming none "
        "(800x800: JPEG ~2 ms, PNG ~5 ms, WebP ~20 ms to encode; see docs/benchmarks.md).",
    )
    jpeg_quality: int = Field(90, ge=1, le=100, description="JPEG quality.")
    webp_quality: int = Field(90, ge=1, le=100, description="WebP quality (lossy).")
    png_compression: int = Field(1, ge=0, le=9, description="PNG zlib level (1 is fast, 9 is small).")
    min_canvas_side: int = Field(64, ge=16, description="Smallest canvas width or height accepted.")
    max_canvas_side: int = Field(4096, ge=64, description="Largest canvas width or height accepted.")
    max_image_bytes: int = Field(
        6 * 1024 * 1024, ge=1024, description="Largest product image accepted, in encoded bytes."
    )
    max_image_pixels: int = Field(
        40_000_000, ge=1024, description="Largest product image accepted, in decoded pixels."
    )
    max_headline_chars: int = Field(
        200, ge=1, description="Longest headline a RenderCreative request may carry."
    )
