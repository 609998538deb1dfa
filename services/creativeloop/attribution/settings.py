"""Settings of the element attribution job (prefix CREATIVELOOP_ATTRIBUTION_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ServiceSettings


class AttributionSettings(ServiceSettings):
    """Element attribution job: element lifts from the logs into `element.attribution`, and the RPC."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_ATTRIBUTION_", extra="ignore")

    grpc_port: int = Field(
        50057, ge=0, le=65535, description="gRPC port of AttributionService (0 picks a free port)."
    )
    metrics_port: int = Field(9107, ge=0, le=65535, description="Port of `/metrics`.")
    attribution_window_s: float = Field(
        1800.0,
        gt=0,
        description="A click counts for its impression only if its `clicked_at` is at most this many seconds "
        "after the impression's `shown_at` (the bandit's rule). An impression is settled (counted, clicked "
        "or not) once this window and `settle_grace_s` have passed.",
    )
    settle_grace_s: float = Field(
        5.0,
        ge=0,
        description="Seconds an impression waits past its window, and after it was read, for a click still "
        "in flight before it is counted.",
    )
    publish_interval_s: float = Field(
        5.0,
        gt=0,
        description="Seconds between two settlements, each publishing what changed.",
    )
    max_weight: float = Field(
        1000.0,
        ge=1,
        description="Largest importance weight 1/propensity (smaller propensities are clipped): bounds the "
        "variance, at a small bias for creatives the policy almost never shows.",
    )
    max_pending: int = Field(
        1_000_000,
        ge=1,
        description="Most impressions held awaiting their window; past it the oldest are settled early "
        "(their later clicks are missed). Also the most clicks held for their impression, and half the "
        "most settled impression ids remembered against duplicates.",
    )
