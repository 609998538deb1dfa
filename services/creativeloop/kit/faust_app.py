"""Faust app factory with the broker settings CreativeLoop needs on every Kafka-protocol broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from faust.app.base import BootStrategy

from creativeloop.kit.kafka import faust_credentials
from creativeloop.kit.settings import CommonSettings


class _HostBoot(BootStrategy):
    """Start the app's services, tasks and timers, but not faust's own Kafka consumer and producer."""

    enable_kafka = False
    enable_web = False


class HostApp(faust.App):
    """A faust app that hosts stream services which bring their own Kafka clients.

    faust's per-message stream path (consumer thread, conductor, one Event per record) tops out
    at about 14,000 records/s on the project's machines with no processing at all (0.027x of a
    raw aiokafka consumer of the same topic; docs/benchmarks.md), so the bandit reads its inputs
    in bulk itself and keeps faust for the application: lifecycle, services, timers and crash
    handling. Without faust's consumer group the app also starts in a fraction of a second
    instead of a group join.
    """

    BootStrategy = _HostBoot


def make_faust_app(
    app_id: str, settings: CommonSettings, datadir: Path, *, host: bool = False, **overrides: Any
) -> faust.App:
    """A faust app for CreativeLoop's topics (`host=True`: a `HostApp`, no faust consumer/producer).

    - session 6 s / heartbeat 2 s: Tansu holds JoinGroup for half the session timeout.
    - raw value/key serialisers: values are protobuf, decoded (and dead-lettered) by our codec.
    - the producer batches: no faust table changelogs are written any more (the bandit checkpoints
      its state itself, docs/architecture.md), and those were what needed one record per batch on
      Tansu (`producer_max_batch_size=1`; docs/operations.md, "The local broker and its known
      defects"). An app that keeps faust tables on Tansu must pass that override again.
    """
    options: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "broker_session_timeout": 6.0,
        "broker_heartbeat_interval": 2.0,
        "value_serializer": "raw",
        "key_serializer": "raw",
        "web_enabled": False,
        "store": "memory://",
        "datadir": str(datadir),
        "table_standby_replicas": 0,
        "broker_credentials": faust_credentials(settings),
    }
    options.update(overrides)
    app_class = HostApp if host else faust.App
    return app_class(app_id, **options)
