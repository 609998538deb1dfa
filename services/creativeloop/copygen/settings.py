"""Settings of the copy generation service (prefix CREATIVELOOP_COPYGEN_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ModelSettings, ServiceSettings


class CopygenSettings(ServiceSettings):
    """Copy generation service: candidate counts, length limits, generators, stream output."""

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
    creatives_slot: str = Field(
        "headline",
        description="Slot whose length limits the stream's text creatives follow (headline, description, "
        "image; empty: `max_length`).",
    )
    generator: Literal["auto", "model", "template"] = Field(
        "auto",
        description="`auto`: the learned generator when its models are in the repository, else templates "
        "(logged); `model`: require it (health fails without it); `template`: templates only.",
    )
    model_samples: int = Field(
        8, ge=1, le=64, description="Latent codes decoded per request by the learned generator."
    )
    diversity: float = Field(
        0.3, ge=0, le=1, description="MMR trade-off: 0 ranks by score only, 1 by novelty only."
    )
    models: ModelSettings = Field(default_factory=ModelSettings, exclude=True)

    @property
    def require_model(self) -> bool:
        return self.generator == "model"
