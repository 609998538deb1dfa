"""Settings of the understanding service (prefix CREATIVELOOP_UNDERSTANDING_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ModelSettings, ServiceSettings


class UnderstandingSettings(ServiceSettings):
    """Understanding service: limits on input, admission gates, and what it analyses."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_UNDERSTANDING_", extra="ignore")

    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9101, ge=0, le=65535, description="Port of `/metrics`.")
    max_tags: int = Field(12, ge=1, le=100, description="Most tags kept per profile.")
    max_title_chars: int = Field(
        500, ge=10, description="Longest product title accepted; longer is INVALID_ARGUMENT."
    )
    max_images: int = Field(20, ge=1, description="Most images accepted per product.")
    max_image_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest image accepted (inline or fetched), in bytes."
    )
    max_image_pixels: int = Field(
        40_000_000, ge=10_000, description="Largest image accepted, in pixels (decompression-bomb guard)."
    )
    max_reviews: int = Field(2000, ge=0, description="Most reviews read per product.")
    analyse_images: bool = Field(
        True, description="Run the image models (OCR, classifier, scene, product box, aesthetics)."
    )
    cache_analyses: bool = Field(
        True, description="Keep image analyses by content hash under the asset directory."
    )
    workers: int = Field(2, ge=1, le=64, description="Threads that build profiles (CPU-bound model work).")
    data_dir: Path = Field(
        Path("var/data"), description="Sample data from `creativeloop data fetch` (Chinese review polarity)."
    )
    admission_min_width: int = Field(300, ge=1, description="Narrower images get IMAGE_TOO_SMALL.")
    admission_min_height: int = Field(300, ge=1, description="Shorter images get IMAGE_TOO_SMALL.")
    admission_min_edge_sharpness: float = Field(
        1000.0, ge=0, description="Edge sharpness under this is IMAGE_BLURRY (originals >= 2,300)."
    )
    admission_max_text_area_ratio: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Share of the image under OCR text boxes above which: IMAGE_TOO_MUCH_TEXT.",
    )
    admission_min_aesthetic_score: float = Field(
        25.0, ge=0, le=100, description="Aesthetic score (0-100) under which: IMAGE_LOW_QUALITY."
    )
    admission_block_on_warnings: bool = Field(
        False, description="Ad-law findings of severity warning block admission (errors always do)."
    )
    models: ModelSettings = Field(default_factory=ModelSettings, exclude=True)
