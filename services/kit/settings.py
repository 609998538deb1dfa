"""Settings from environment variables, validated at start-up.

Every process reads `CommonSettings` (prefix ``CREATIVELOOP_``: broker, asset store, logging); each
service adds its own class with prefix ``CREATIVELOOP_<SERVICE>_``. `docs/configuration.md` is
generated from these classes (``creativeloop config-docs``), so this module is the one place
where a setting, its default and its meaning live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Shared by every process of one deployment."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_", extra="ignore")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    asset_dir: Path = Field(
        Path("var/assets"),
        description="Root of the filesystem asset store (rendered creatives, product media).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["json", "console"] = Field(
        "json", description="`json` lines for machines, `console` for people."
    )
    topic_partitions: int = Field(
        4, ge=1, le=256, description="Partitions per topic when CreativeLoop creates its topics."
    )
    topic_replication_factor: int = Field(
        1, ge=1, le=16, description="Replicas per topic it creates (3 on a production Kafka cluster)."
    )


class ServiceSettings(BaseSettings):
    """What every gRPC service has: where it listens and how it shuts down."""

    model_config = SettingsConfigDict(extra="ignore")

    grpc_host: str = Field("127.0.0.1", description="Address the gRPC server binds to.")
    grpc_port: int = Field(50050, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9100, ge=0, le=65535, description="Port of the Prometheus `/metrics` endpoint.")
    shutdown_grace_s: float = Field(
        5.0, ge=0, description="Seconds in-flight RPCs get to finish after SIGTERM."
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest gRPC request or response accepted, in bytes."
    )
    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)

    @property
    def grpc_target(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"
