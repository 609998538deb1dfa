"""Settings of the copy generation service (prefix CREATIVELOOP_COPYGEN_)."""

from __future__ import annotations

from creativeloop.kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class CopygenSettings(ServiceSettings):
    """Copy generation service: candidate counts, length limits, stream output."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_COPYGEN_", extra="ignore")

    grpc_port: int = Field(50052, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9102, ge=0, le=65535, description="Port of `/metrics`.")
    max_candidates: int = Field(
        4, ge=1, le=50, description="Copy candidates returned when a request asks for 0."
    )
    max_candidates_limit: int = Field(
        20, ge=1, le=200, description="Most candidates a request may ask for; more is INVALID_ARGUMENT."
    )
    max_length: int = Field(
        60, ge=10, le=1000, description="Longest candidate, in characters, when a request asks for 0."
    )
    min_length_limit: int = Field(
        10, ge=1, description="Shortest `max_length` a request may ask for; less is INVALID_ARGUMENT."
    )
    max_length_limit: int = Field(
        500, ge=10, description="Longest `max_length` a request may ask for; more is INVALID_ARGUMENT."
    )
    max_title_chars: int = Field(
        500, ge=10, description="Longest profile title accepted; longer is INVALID_ARGUMENT."
    )
    creatives_per_profile: int = Field(
        4, ge=1, le=50, description="Text creatives the stream stage publishes per admitted profile."
    )
