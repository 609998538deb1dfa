"""Settings from environment variables, validated at start-up.

Every process reads `CommonSettings` (prefix ``CREATIVELOOP_``: broker, asset store, logging); each
service adds its own class with prefix ``CREATIVELOOP_<SERVICE>_``. `docs/configuration.md` is
generated from these classes (``creativeloop config-docs``), so this module is the one place
where a setting, its default and its meaning live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSecuritySettings(BaseSettings):
    """How every Kafka client (consumers, producers, the admin client, the bandit's faust app)
    authenticates to the brokers and encrypts: plaintext by default (the local broker), TLS and
    SASL (PLAIN or SCRAM) for a real cluster. `creativeloop.kit.kafka.client_options` turns these
    into client options, the one place that does."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_KAFKA_", extra="ignore")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka's `security.protocol`: TLS with `SSL`/`SASL_SSL`, SASL with `SASL_*`."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism (with a `SASL_*` protocol)."
    )
    sasl_username: str = Field("", description="SASL user name (with a `SASL_*` protocol).")
    sasl_password: SecretStr = Field(
        SecretStr(""), description="SASL password (with a `SASL_*` protocol); never logged."
    )
    ssl_ca_file: Path | None = Field(
        None, description="CA bundle (PEM) that signed the brokers' certificates (default: the system's)."
    )
    ssl_cert_file: Path | None = Field(
        None, description="Client certificate chain (PEM) for brokers that require TLS client authentication."
    )
    ssl_key_file: Path | None = Field(None, description="Private key (PEM) of `ssl_cert_file`.")
    ssl_check_hostname: bool = Field(True, description="Verify the broker's host name in its certificate.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_username and self.sasl_password.get_secret_value()):
            raise ValueError(
                f"CREATIVELOOP_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                "CREATIVELOOP_KAFKA_SASL_USERNAME and CREATIVELOOP_KAFKA_SASL_PASSWORD"
            )
        tls_files = (self.ssl_ca_file, self.ssl_cert_file, self.ssl_key_file)
        if not self.security_protocol.endswith("SSL") and any(f is not None for f in tls_files):
            raise ValueError("CREATIVELOOP_KAFKA_SSL_* files need an SSL or SASL_SSL security protocol")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ValueError("CREATIVELOOP_KAFKA_SSL_CERT_FILE and _SSL_KEY_FILE go together")
        for name in ("ssl_ca_file", "ssl_cert_file", "ssl_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"CREATIVELOOP_KAFKA_{name.upper()}: no readable file at {path}")
        return self


class CommonSettings(BaseSettings):
    """Shared by every process of one deployment."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_", extra="ignore")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    kafka: KafkaSecuritySettings = Field(default_factory=KafkaSecuritySettings, exclude=True)
    asset_dir: Path = Field(
        Path("var/assets"),
        description="Root of the filesystem asset store (rendered creatives, product media); with the "
        "`s3` store, `file://` uris are still read from here.",
    )
    asset_store: Literal["filesystem", "s3"] = Field(
        "filesystem",
        description="Where assets are stored: `filesystem` (under `asset_dir`) or `s3` "
        "(an S3-compatible bucket, `s3://` uris).",
    )
    asset_s3_bucket: str = Field(
        "", description="S3 bucket of the `s3` asset store (required when `asset_store` is `s3`)."
    )
    asset_s3_prefix: str = Field(
        "creativeloop",
        description="Key prefix in the bucket: keys are `<prefix>/<sha256[:2]>/<sha256><ext>`.",
    )
    asset_s3_endpoint_url: str = Field(
        "",
        description="S3 endpoint URL for MinIO, Ceph and other S3-compatible servers (empty = AWS default). "
        "Credentials come from the standard AWS environment variables (`AWS_ACCESS_KEY_ID`, "
        "`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), `AWS_PROFILE` or an instance / task role.",
    )
    asset_s3_region: str = Field("us-east-1", description="Region of the S3 bucket.")
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
    stream_outage_backoff_s: float = Field(
        0.5,
        gt=0,
        description="First retry delay of a record whose dependency (model backend, gRPC peer, broker) is "
        "down; its partition stays paused and the service NOT_SERVING meanwhile. Doubles per failure.",
    )
    stream_outage_backoff_max_s: float = Field(
        10.0, gt=0, description="Longest delay between two retries of a record held by an outage."
    )

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> Self:
        if self.asset_store == "s3" and not self.asset_s3_bucket.strip():
            raise ValueError("CREATIVELOOP_ASSET_STORE=s3 needs a bucket: set CREATIVELOOP_ASSET_S3_BUCKET")
        return self


class GrpcTlsSettings(BaseSettings):
    """TLS for gRPC, shared by every process of a deployment: servers (every service) and clients
    (imagegen calling copygen, the local stack's health checks, the demo). Off by default: the
    local stack binds loopback only; a deployment mounts the files from a Secret (docs/deploy.md).
    """

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_GRPC_TLS_", extra="ignore")

    cert_file: Path | None = Field(
        None, description="Server certificate chain (PEM). With `key_file`, servers accept only TLS."
    )
    key_file: Path | None = Field(None, description="Private key (PEM) of `cert_file`.")
    client_ca_file: Path | None = Field(
        None,
        description="Mutual TLS: servers require a client certificate signed by this CA bundle (PEM).",
    )
    ca_file: Path | None = Field(
        None,
        description="Clients: CA bundle (PEM) that signed the servers' certificates; setting it makes "
        "clients connect with TLS.",
    )
    client_cert_file: Path | None = Field(
        None, description="Clients: own certificate chain (PEM) presented to servers that require mTLS."
    )
    client_key_file: Path | None = Field(
        None, description="Clients: private key (PEM) of `client_cert_file`."
    )
    server_name: str = Field(
        "",
        description="Clients: the name to verify in the server certificate instead of the target's "
        "host (e.g. when connecting by IP).",
    )

    @model_validator(mode="after")
    def _pairs_and_files(self) -> Self:
        pairs = (("cert_file", "key_file"), ("client_cert_file", "client_key_file"))
        for first, second in pairs:
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                raise ValueError(f"CREATIVELOOP_GRPC_TLS_{first.upper()} and _{second.upper()} go together")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("CREATIVELOOP_GRPC_TLS_CLIENT_CA_FILE (mutual TLS) needs the server's CERT_FILE")
        if self.client_cert_file is not None and self.ca_file is None:
            raise ValueError("CREATIVELOOP_GRPC_TLS_CLIENT_CERT_FILE needs CA_FILE (clients verify servers)")
        for name in type(self).model_fields:
            path = getattr(self, name)
            if isinstance(path, Path) and not path.is_file():
                raise ValueError(f"CREATIVELOOP_GRPC_TLS_{name.upper()}: no readable file at {path}")
        return self

    @property
    def server_enabled(self) -> bool:
        return self.cert_file is not None

    @property
    def client_enabled(self) -> bool:
        return self.ca_file is not None


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
    health_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="A second, plaintext port serving only grpc.health.v1, for probes that cannot speak "
        "TLS (Kubernetes' gRPC probes) when the gRPC port uses TLS; 0: none.",
    )
    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    tls: GrpcTlsSettings = Field(default_factory=GrpcTlsSettings, exclude=True)

    @property
    def grpc_target(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"


class ModelSettings(BaseSettings):
    """How every process reaches its models: embedded onnxruntime (default) or a Triton server."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_MODELS_", extra="ignore")

    backend: Literal["embedded", "triton"] = Field(
        "embedded", description="`embedded` runs onnxruntime in-process; `triton` calls a Triton server."
    )
    repository: Path = Field(
        Path("deploy/model-repository"),
        description="Triton-layout model repository the embedded backend loads "
        "(`creativeloop models build`).",
    )
    providers: str = Field(
        "CPUExecutionProvider",
        description="onnxruntime execution providers, comma-separated, in order of preference "
        "(`CUDAExecutionProvider,CPUExecutionProvider` with the gpu extra). The first must be active.",
    )
    intra_op_threads: int = Field(
        1, ge=0, description="onnxruntime threads inside one operator (0 = one per core)."
    )
    inter_op_threads: int = Field(1, ge=0, description="onnxruntime threads across operators (0 = default).")
    micro_batch_max: int = Field(
        0,
        ge=0,
        le=1024,
        description="Embedded: join concurrent calls into batches of up to this many rows (0 = off).",
    )
    micro_batch_wait_ms: float = Field(
        2.0, ge=0, le=100, description="Embedded: how long a call waits for others to join its batch."
    )
    triton_url: str = Field("127.0.0.1:8001", description="Triton gRPC endpoint (host:port).")
    triton_timeout_s: float = Field(10.0, gt=0, description="Deadline of one Triton call, in seconds.")
    triton_retries: int = Field(
        2, ge=0, le=10, description="Retries after UNAVAILABLE or DEADLINE_EXCEEDED, never after bad input."
    )

    @property
    def provider_list(self) -> list[str]:
        return [p.strip() for p in self.providers.split(",") if p.strip()]
