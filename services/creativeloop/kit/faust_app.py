"""Faust app factory with the broker settings CreativeLoop needs on every Kafka-protocol broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from creativeloop.kit.settings import CommonSettings


def make_faust_app(app_id: str, settings: CommonSettings, datadir: Path, **overrides: Any) -> faust.App:
    """A faust app for CreativeLoop's topics.

    - `producer_max_batch_size=1`: on Tansu, table recovery from the changelog lost updates
      with batched produce; with one record per batch it was exact (docs/operations.md, "The local
      broker and its known defects").
    - session 6 s / heartbeat 2 s: Tansu holds JoinGroup for half the session timeout.
    - raw value/key serialisers: values are protobuf, decoded (and dead-lettered) by our codec.
    """
    options: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "producer_max_batch_size": 1,
        "broker_session_timeout": 6.0,
        "broker_heartbeat_interval": 2.0,
        "value_serializer": "raw",
        "key_serializer": "raw",
        "web_enabled": False,
        "store": "memory://",
        "datadir": str(datadir),
        "table_standby_replicas": 0,
    }
    options.update(overrides)
    return faust.App(app_id, **options)
