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
        description="Seconds between two `bandit.stats` publications of one creative whose impressions "
        "changed: they go out at the first flush this long after its previous publication (at once after "
        "a pause). A new click goes out at the next flush.",
    )
    flush_interval_s: float = Field(
        0.1,
        gt=0,
        description="Seconds between checkpoints of each partition's state: the changes since the last "
        "one, written together with the input offsets they cover, then the outcomes they counted are "
        "sent on to the partitions that own their creatives and users.",
    )
    behaviour_interval_s: float = Field(
        1.0,
        gt=0,
        description="Seconds between two `user.behaviour` publications of one user (a change goes out at the "
        "first flush this long after the previous one).",
    )
    refresh_s: float = Field(
        300.0,
        gt=0,
        description="Every creative's counts and every user's window are rewritten into the checkpoints "
        "and re-published to `bandit.stats` / `user.behaviour` at least this often (spread over the "
        "period): recovery and readers then need at most about this much history (readers' look-back "
        "must be at least this).",
    )
    attribution_window_s: float = Field(
        1800.0,
        gt=0,
        description="A click counts for its impression's creative only if its `clicked_at` is at most this "
        "many seconds after the impression's `shown_at` (event time). Later clicks, and clicks whose "
        "impression has not arrived once impressions this much newer than the click have, go to "
        "`ad.clicks.dlq`.",
    )
    dedupe_horizon_s: float = Field(
        3600.0,
        ge=0,
        description="How long after its attribution window an impression_id is remembered (duplicates "
        "detected), in event time. Then it leaves the state; an impression or click older than window + "
        "horizon goes to the DLQ instead of being counted, as it could be a duplicate of a forgotten one.",
    )
    max_clock_lead_s: float = Field(
        300.0,
        ge=0,
        description="State eviction follows the impressions' event time, but never more than this far "
        "ahead of the newest Kafka record timestamp read, so one impression stamped in the far future "
        "cannot evict a partition's state.",
    )
    max_event_lead_s: float = Field(
        86400.0,
        ge=0,
        description="Event-time sanity bound: an impression whose `shown_at` (or a click whose `clicked_at`) "
        "is more than this many seconds after its Kafka record timestamp goes to the topic's DLQ with the "
        "reason, so a far-future time cannot corrupt decayed counts or hold a click forever. 0: no bound.",
    )
    max_event_age_s: float = Field(
        30 * 86400.0,
        ge=0,
        description="Event-time sanity bound: an impression or click stamped more than this many seconds "
        "before its Kafka record timestamp goes to the topic's DLQ with the reason. 0: no bound.",
    )
    user_history: int = Field(
        200, ge=1, description="Most recent impressions per user kept and published on `user.behaviour`."
    )
    max_users_per_partition: int = Field(
        100_000,
        ge=1,
        description="Users kept per partition; beyond it the least recently active leave (a tombstone "
        "on `user.behaviour`).",
    )
    instance_id: str | None = Field(
        None,
        description="Static consumer-group membership (`group.instance.id`): a worker restarted with the "
        "same id gets its partitions back at once instead of after the session timeout. Unique per "
        "worker (e.g. the pod name of a StatefulSet).",
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
        description="Application id: the consumer group, and the prefix of the bandit's internal topics "
        "(`<app_id>-checkpoints`, `<app_id>-outcomes`).",
    )
    data_dir: Path = Field(
        Path("var/bandit"),
        description="Faust data directory (nothing durable: the checkpoint topic is the state's copy).",
    )
