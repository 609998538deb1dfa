"""The bandit's settings and faust wiring, checked without a broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from pydantic import ValidationError

from creativeloop.bandit.group import CopartitionedAssignor, internal_topics
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.streams import BanditStreams, source_record, stats_partition
from creativeloop.kit.context import stats_key
from creativeloop.kit.faust_app import HostApp

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
    assert (defaults.attribution_window_s, defaults.half_life_s) == (1800.0, 6 * 3600.0)
    own = (
        "stats_interval_s",
        "attribution_window_s",
        "half_life_s",
        "app_id",
        "data_dir",
        "grpc_port",
        "metrics_port",
    )
    assert all(BanditSettings.model_fields[name].description for name in own)
    monkeypatch.setenv("CREATIVELOOP_BANDIT_STATS_INTERVAL_S", "2.5")
    monkeypatch.setenv("CREATIVELOOP_BANDIT_DATA_DIR", "/tmp/bandit-state")
    monkeypatch.setenv("CREATIVELOOP_BOOTSTRAP_SERVERS", "kafka-0:9092")
    monkeypatch.setenv("CREATIVELOOP_BANDIT_ATTRIBUTION_WINDOW_S", "2")
    monkeypatch.setenv("CREATIVELOOP_BANDIT_HALF_LIFE_S", "0")
    settings = BanditSettings()
    assert settings.stats_interval_s == 2.5
    assert (settings.attribution_window_s, settings.half_life_s) == (2.0, 0.0)
    assert settings.data_dir == Path("/tmp/bandit-state")
    assert settings.common.bootstrap_servers == "kafka-0:9092"


async def test_app_declares_valid_internal_topics_partitioned_like_the_sources(tmp_path: Path) -> None:
    streams = BanditStreams(BanditSettings(data_dir=tmp_path))
    internal = internal_topics(streams.settings.app_id, 6)
    names = [topic.name for topic in internal]
    assert names == ["creativeloop-bandit-outcomes", "creativeloop-bandit-checkpoints"]
    assert all(TOPIC_NAME.match(name) for name in names), names
    # Partition p of each is partition p's state: created with the sources' partition count.
    assert all(topic.partitions == 6 for topic in internal)
    assert streams.app.conf.topic_partitions == streams.settings.common.topic_partitions
    # faust hosts the engine: no faust consumer group, no faust table changelogs.
    assert isinstance(streams.app, HostApp)
    assert not streams.app.tables


def test_the_assignor_gives_whole_partition_numbers_round_robin() -> None:
    """Partition p of impressions, clicks and outcomes always lands on one worker."""

    class Cluster:
        def partitions_for_topic(self, topic: str) -> set[int]:
            return set(range(5))

    topics = ["ad.impressions", "ad.clicks", "creativeloop-bandit-outcomes"]
    members = {m: CopartitionedAssignor.metadata(topics) for m in ("w-b", "w-a")}
    assignment = CopartitionedAssignor.assign(Cluster(), members)
    owned = {m: dict(a.assignment) for m, a in assignment.items()}
    assert owned["w-a"] == {t: [0, 2, 4] for t in topics}
    assert owned["w-b"] == {t: [1, 3] for t in topics}


def test_invalid_window_and_half_life_are_refused() -> None:
    with pytest.raises(ValidationError, match="attribution_window_s"):
        BanditSettings(attribution_window_s=0)
    with pytest.raises(ValidationError, match="half_life_s"):
        BanditSettings(half_life_s=-1)


async def test_settings_reach_the_rules(tmp_path: Path) -> None:
    streams = BanditStreams(BanditSettings(data_dir=tmp_path, attribution_window_s=2.5, half_life_s=0))
    assert streams.ledger.window_ns == 2_500_000_000
    assert streams.counter.half_life_s is None


def test_all_stats_records_of_a_creative_share_the_partition_its_creative_id_hashes_to() -> None:
    """Bucket and aggregate records go where Kafka's default partitioner puts key creative_id."""
    partitioner = DefaultPartitioner()
    for n in range(50):
        creative_id = f"creative-{n}"
        for partitions in (1, 4, 7):
            ids = list(range(partitions))
            expected = partitioner(stats_key(creative_id).encode(), ids, ids)
            assert stats_partition(creative_id, partitions) == expected


def test_source_record_takes_the_kafka_timestamp_in_nanoseconds() -> None:
    class Message:
        topic, partition, offset, key, value = "ad.clicks", 2, 9, b"k", b"v"
        timestamp = 1_800_000_000.123

    record = source_record(Message())
    assert (record.topic, record.partition, record.offset, record.key, record.value) == (
        "ad.clicks",
        2,
        9,
        b"k",
        b"v",
    )
    assert record.timestamp_ns == 1_800_000_000_123_000_000
