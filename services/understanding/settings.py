"""Settings of the understanding service (prefix CREATIVELOOP_UNDERSTANDING_)."""

from __future__ import annotations

from creativeloop.kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class UnderstandingSettings(ServiceSettings):
    """Understanding service: tags and profile limits."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_UNDERSTANDING_", extra="ignore")

    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9101, ge=0, le=65535, description="Port of `/metrics`.")
    max_tags: int = Field(12, ge=1, le=100, description="Most tags kept per profile.")
    max_title_chars: int = Field(
        500, ge=10, description="Longest product title accepted; longer is INVALID_ARGUMENT."
    )
    max_images: int = Field(20, ge=1, description="Most images accepted per product.")
    max_image_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest inline image accepted, in bytes."
    )
