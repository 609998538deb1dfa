"""Settings of the bandit stream service (prefix CREATIVELOOP_BANDIT_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ServiceSettings


class BanditSettings(ServiceSettings):
    """Bandit stream service: counts impressions and clicks per creative into `bandit.stats`."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_BANDIT_", extra="ignore")

    grpc_port: int = Field(50055, ge=0, le=65535, description="gRPC port (health only; 0 picks a free port).")
    metrics_port: int = Field(9105, ge=0, le=65535, description="Port of `/metrics`.")
    stats_interval_s: float = Field(
        0.5,
        gt=0,
        description="Seconds between `bandit.stats` publications of the creatives whose counts changed.",
    )
    attribution_window_s: float = Field(
        1800.0,
        gt=0,
        description="A click counts for its impression's creative only if its `clicked_at` is at most this "
        "many seconds after the impression's `shown_at` (event time). Later clicks, and clicks whose "
        "impression has not arrived once impressions this much newer than the click have, go to "
        "`ad.clicks.dlq`.",
    )
    half_life_s: float | None = Field(
        6 * 3600.0,
        ge=0,
        description="Half-life of the time decay of the counts, in event-time seconds: an impression or "
        "click weighs half as much this long after its impression was shown. 0 disables decay.",
    )
    app_id: str = Field(
        "creativeloop-bandit",
        min_length=1,
        description="Faust application id: the consumer group, and the prefix of the internal topics "
        "faust creates (table changelogs, the per-creative outcome topic).",
    )
    data_dir: Path = Field(
        Path("var/bandit"),
        description="Faust data directory (local table state; the changelog topics are the durable copy).",
    )
