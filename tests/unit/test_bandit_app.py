"""The bandit's settings and faust wiring, checked without a broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.streams import BanditStreams

# What Kafka accepts as a topic name.
TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = BanditSettings()
    assert (defaults.grpc_port, defaults.metrics_port) == (50055, 9105)
    assert (defaults.stats_interval_s, defaults.app_id, defaults.data_dir) == (
        0.5,
        "creativeloop-bandit",
        Path("var/bandit"),
    )
    own = ("stats_interval_s", "app_id", "data_dir", "grpc_port", "metrics_port")
    assert all(BanditSettings.model_fields[name].description for name in own)
    monkeypatch.setenv("CREATIVELOOP_BANDIT_STATS_INTERVAL_S", "2.5")
    monkeypatch.setenv("CREATIVELOOP_BANDIT_DATA_DIR", "/tmp/bandit-state")
    monkeypatch.setenv("CREATIVELOOP_BOOTSTRAP_SERVERS", "kafka-0:9092")
    settings = BanditSettings()
    assert settings.stats_interval_s == 2.5
    assert settings.data_dir == Path("/tmp/bandit-state")
    assert settings.common.bootstrap_servers == "kafka-0:9092"


async def test_app_declares_valid_internal_topics_partitioned_like_the_sources(tmp_path: Path) -> None:
    streams = BanditStreams(BanditSettings(data_dir=tmp_path))
    outcomes = streams.count_agent.channel
    internal = [outcomes, streams.impressions.changelog_topic, streams.counts.changelog_topic]
    names = [topic.get_topic_name() for topic in internal]
    assert names == [
        "creativeloop-bandit-count-outcomes",
        "creativeloop-bandit-impressions-changelog",
        "creativeloop-bandit-creative-counts-changelog",
    ]
    assert all(TOPIC_NAME.match(name) for name in names), names
    # faust creates these itself (the source topics come from kit.admin.ensure_topics).
    assert all(topic.internal for topic in internal)  # type: ignore[attr-defined]
    assert streams.app.conf.topic_partitions == streams.settings.common.topic_partitions
    # Values are our own bytes: the json default would hand back dicts after a changelog recovery.
    assert streams.impressions.value_serializer == streams.counts.value_serializer == "raw"  # type: ignore[attr-defined]
    # Sources are consumed by one agent, so impression state changes are never interleaved.
    assert set(streams.track_agent.channel.topics) == {"ad.impressions", "ad.clicks"}  # type: ignore[attr-defined]
