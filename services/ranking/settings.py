"""Settings of the ranking service (prefix CREATIVELOOP_RANKING_)."""

from __future__ import annotations

from creativeloop.kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class RankingSettings(ServiceSettings):
    """Ranking service: Thompson-sampling policy and request limits."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_RANKING_", extra="ignore")

    grpc_port: int = Field(50054, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9104, ge=0, le=65535, description="Port of `/metrics`.")
    prior_alpha: float = Field(1.0, gt=0, description="Beta prior pseudo-clicks per creative.")
    prior_beta: float = Field(1.0, gt=0, description="Beta prior pseudo-non-clicks per creative.")
    propensity_samples: int = Field(
        1000,
        ge=10,
        le=100_000,
        description="Posterior draws used to estimate the propensity of each choice.",
    )
    max_candidates: int = Field(
        500,
        ge=1,
        description="Most candidates one Rank request may name; more is INVALID_ARGUMENT.",
    )
    seed: int | None = Field(None, description="Seed of the policy's random generator (None: fresh).")
