"""The kit's profile stage: admission, version ordering (persisted across a restart), deletion,
publishing and the retirement hook, without a broker (an in-memory stand-in for the topics)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import pytest
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from structlog.testing import capture_logs

from creativeloop.kit.consumer import Delivery
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.stage import (
    Keyed,
    MemoryVersionStore,
    ProfileStage,
    Progress,
    Retirement,
    TopicVersionStore,
    log_retirement,
    product_subject,
    profile_subject,
)
from creativeloop.kit.topics import CONTENT_PROFILES, CREATIVES, STAGE_PROGRESS, Topic
from creativeloop.v1 import common_pb2, events_pb2

PARTITIONS = 4


class FakeBroker:
    """Topics as lists of records per partition: what the producer sends, the reader reads."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], list[ConsumerRecord[bytes, bytes]]] = {}
        self.reads = 0

    def append(self, topic: str, partition: int, key: str, value: bytes) -> None:
        log = self.records.setdefault((topic, partition), [])
        log.append(
            ConsumerRecord(
                topic, partition, len(log), 0, 0, key.encode(), value, None, len(key), len(value), ()
            )
        )

    def topic(self, name: str) -> list[tuple[int, str, bytes]]:
        return [
            (partition, (r.key or b"").decode(), r.value or b"")
            for (topic, partition), log in sorted(self.records.items())
            if topic == name
            for r in log
        ]

    async def read(
        self,
        settings: CommonSettings,
        topic: str,
        select: Callable[[int], Iterable[int]] = range,
        *,
        timeout_s: float = 0,
    ) -> tuple[int, list[ConsumerRecord[bytes, bytes]]]:
        self.reads += 1
        chosen = set(select(PARTITIONS))
        return PARTITIONS, [
            r for (name, p), log in self.records.items() if name == topic and p in chosen for r in log
        ]


class FakeProducer:
    """EventProducer's `send` (progress records) and `send_batch` (outputs), onto a FakeBroker."""

    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.batches: list[list[tuple[str, Message]]] = []
        self.tombstones: list[tuple[str, str]] = []

    async def send(self, topic: Topic, key: str, event: Message, *, partition: int | None = None) -> None:
        assert isinstance(event, topic.message) and partition is not None
        self.broker.append(topic.name, partition, key, event.SerializeToString())

    async def send_batch(self, topic: Topic, items: Sequence[tuple[str, Message]]) -> None:
        self.batches.append(list(items))
        for key, event in items:
            self.broker.append(topic.name, 0, key, event.SerializeToString())

    async def send_tombstone(self, topic: Topic, key: str) -> None:
        self.tombstones.append((topic.name, key))

    def keys(self) -> list[list[str]]:
        return [[key for key, _ in batch] for batch in self.batches]


def profile_event(
    version: int, *, admitted: bool = True, deleted: bool = False, product_id: str = "p1", title: str = "t"
) -> events_pb2.ContentProfileUpdated:
    return events_pb2.ContentProfileUpdated(
        profile=common_pb2.ContentProfile(
            product_id=product_id,
            product_version=version,
            title=title,
            admission=common_pb2.Admission(admitted=admitted, reason_codes=[] if admitted else ["X"]),
        ),
        deleted=deleted,
    )


async def creatives_for(event: events_pb2.ContentProfileUpdated) -> list[Keyed]:
    """Two creatives per version, ids derived from product, version and title."""
    profile = event.profile
    ids = [f"{profile.product_id}-v{profile.product_version}-{profile.title}-{n}" for n in (1, 2)]
    return [
        (
            i,
            events_pb2.CreativeUpdated(
                creative=common_pb2.Creative(creative_id=i, product_id=profile.product_id)
            ),
        )
        for i in ids
    ]


class Harness:
    def __init__(self, broker: FakeBroker | None = None, *, persisted: bool = False) -> None:
        self.broker = broker or FakeBroker()
        self.producer = FakeProducer(self.broker)
        self.retired: list[Retirement] = []
        store = (
            TopicVersionStore(
                CommonSettings(), cast(EventProducer, self.producer), "copytest", reader=self.broker.read
            )
            if persisted
            else MemoryVersionStore()
        )
        self.stage = ProfileStage(
            "copytest",
            cast(EventProducer, self.producer),
            CREATIVES,
            creatives_for,
            profile_subject,
            versions=store,
            retire=self.retire,
        )

    async def retire(self, retirement: Retirement) -> None:
        self.retired.append(retirement)


async def test_versions_are_ordered_and_replays_republish() -> None:
    h = Harness()
    await h.stage(profile_event(2))
    await h.stage(profile_event(1))  # older: skipped
    await h.stage(profile_event(2))  # the same version again: republished, same ids
    assert h.producer.keys() == [["p1-v2-t-1", "p1-v2-t-2"]] * 2
    assert h.stage.published == 4
    assert h.retired == [], "a replay supersedes nothing"
    assert h.stage.versions.get("p1") == Progress(2, False, ("p1-v2-t-1", "p1-v2-t-2"))


async def test_a_newer_version_retires_the_outputs_it_supersedes() -> None:
    h = Harness()
    await h.stage(profile_event(1))
    await h.stage(profile_event(2))
    assert h.retired == [Retirement("copytest", "p1", 1, 2, False, ("p1-v1-t-1", "p1-v1-t-2"))]
    # The same version with different outputs (e.g. a model that loaded since) retires the difference.
    await h.stage(profile_event(2, title="u"))
    assert h.retired[-1] == Retirement("copytest", "p1", 2, 2, False, ("p1-v2-t-1", "p1-v2-t-2"))


async def test_an_unadmitted_profile_generates_nothing_and_pauses_what_it_supersedes() -> None:
    h = Harness()
    await h.stage(profile_event(1))
    v1 = ("p1-v1-t-1", "p1-v1-t-2")
    with capture_logs() as logs:
        await h.stage(profile_event(2, admitted=False))
    assert len(h.producer.batches) == 1, "nothing published for the unadmitted version"
    assert any(e["event"] == "not admitted: nothing generated" and e["reasons"] == ["X"] for e in logs)
    assert h.retired == [Retirement("copytest", "p1", 1, 2, False, v1, paused=True, reasons=("X",))]
    # The paused keys stay the product's standing keys, so the next admitted version retires them.
    assert h.stage.versions.get("p1") == Progress(2, False, v1, admitted=False)
    await h.stage(profile_event(2, admitted=False))  # a replay pauses nothing again
    await h.stage(profile_event(1))  # an admitted but older version stays skipped
    assert len(h.producer.batches) == 1 and len(h.retired) == 1
    await h.stage(profile_event(3))
    assert h.producer.keys()[-1] == ["p1-v3-t-1", "p1-v3-t-2"]
    assert h.retired[-1] == Retirement("copytest", "p1", 2, 3, False, v1), (
        "admitted again: paused ones retire"
    )
    assert h.stage.versions.get("p1") == Progress(3, False, ("p1-v3-t-1", "p1-v3-t-2"))


async def test_a_deletion_after_a_lost_admission_retires_the_paused_outputs() -> None:
    h = Harness()
    await h.stage(profile_event(1))
    await h.stage(profile_event(2, admitted=False))
    await h.stage(profile_event(3, admitted=False))  # still not admitted: nothing more to pause
    assert len(h.retired) == 1 and h.retired[0].paused
    assert h.stage.versions.get("p1") == Progress(3, False, ("p1-v1-t-1", "p1-v1-t-2"), admitted=False)
    await h.stage(profile_event(3, deleted=True))
    assert h.retired[-1] == Retirement("copytest", "p1", 3, 3, True, ("p1-v1-t-1", "p1-v1-t-2"))


async def test_a_lost_admission_survives_a_restart() -> None:
    broker = FakeBroker()
    first = Harness(broker, persisted=True)
    await first.stage.assigned(frozenset({0}))
    await first.stage(profile_event(1))
    await first.stage(profile_event(2, admitted=False))
    restarted = Harness(broker, persisted=True)
    await restarted.stage.assigned(frozenset({0}))
    assert restarted.stage.versions.get("p1") == Progress(
        2, False, ("p1-v1-t-1", "p1-v1-t-2"), admitted=False
    )
    await restarted.stage(profile_event(3))
    assert restarted.retired == [Retirement("copytest", "p1", 2, 3, False, ("p1-v1-t-1", "p1-v1-t-2"))]


async def test_a_deleted_profile_retires_everything_and_blocks_its_version() -> None:
    h = Harness()
    await h.stage(profile_event(4))
    await h.stage(profile_event(4, deleted=True))
    assert h.retired == [Retirement("copytest", "p1", 4, 4, True, ("p1-v4-t-1", "p1-v4-t-2"))]
    assert h.stage.versions.get("p1") == Progress(4, True, ())
    await h.stage(profile_event(4))  # a replay of the deleted version does not resurrect it
    await h.stage(profile_event(4, deleted=True))  # nor is a deletion retired twice
    assert len(h.producer.batches) == 1 and len(h.retired) == 1
    await h.stage(profile_event(5))  # a newer version re-creates the product
    assert h.producer.keys()[-1] == ["p1-v5-t-1", "p1-v5-t-2"]
    assert len(h.retired) == 1, "what was deleted was retired already"


async def test_a_tombstone_deletes_at_the_newest_known_version() -> None:
    h = Harness()
    await h.stage(profile_event(3))
    await h.stage.handle(Delivery(None, "p1", 0, 10))
    assert h.retired == [Retirement("copytest", "p1", 3, 3, True, ("p1-v3-t-1", "p1-v3-t-2"))]
    await h.stage(profile_event(3))
    assert len(h.producer.batches) == 1, "the deleted version stays deleted"
    await h.stage.handle(Delivery(None, "p9", 0, 11))  # a product the stage never saw
    assert h.retired[-1] == Retirement("copytest", "p9", None, 0, True, ())


async def test_understanding_passes_a_deletion_on() -> None:
    producer = FakeProducer(FakeBroker())

    async def profile_for(event: events_pb2.ProductChanged) -> list[Keyed]:
        product = event.product
        profile = common_pb2.ContentProfile(product_id=product.product_id, product_version=product.version)
        return [(product.product_id, events_pb2.ContentProfileUpdated(profile=profile))]

    def deleted(subject: Any) -> list[Keyed]:
        profile = common_pb2.ContentProfile(product_id=subject.product_id, product_version=subject.version)
        return [(subject.product_id, events_pb2.ContentProfileUpdated(profile=profile, deleted=True))]

    stage = ProfileStage(
        "understanding",
        cast(EventProducer, producer),
        CONTENT_PROFILES,
        profile_for,
        product_subject,
        on_delete=deleted,
        tombstone=True,
    )
    product = common_pb2.Product(product_id="p1", version=2, title="x")
    await stage(events_pb2.ProductChanged(product=product))
    await stage(
        events_pb2.ProductChanged(product=common_pb2.Product(product_id="p1", version=2), deleted=True)
    )
    last = cast(events_pb2.ContentProfileUpdated, producer.batches[-1][0][1])
    assert last.deleted and last.profile.product_id == "p1" and last.profile.product_version == 2
    assert producer.tombstones == [("content.profiles", "p1")], "then the profile is tombstoned"


async def test_the_default_retirement_hook_logs() -> None:
    producer = FakeProducer(FakeBroker())
    stage = ProfileStage("copytest", cast(EventProducer, producer), CREATIVES, creatives_for, profile_subject)
    await stage(profile_event(1))
    with capture_logs() as logs:
        await stage(profile_event(2))
    [entry] = [e for e in logs if e["event"] == "outputs superseded"]
    assert entry["product_id"] == "p1" and entry["old_version"] == 1 and entry["new_version"] == 2
    assert entry["outputs"] == 2 and not entry["deleted"]
    with capture_logs() as logs:
        await log_retirement(Retirement("s", "p", None, 3, True, ()))
    assert logs[0]["deleted"] is True


async def test_progress_persists_across_a_restart() -> None:
    broker = FakeBroker()
    first = Harness(broker, persisted=True)
    await first.stage.assigned(frozenset({2}))
    await first.stage.handle(Delivery(profile_event(5), "p1", 2, 0))
    await first.stage.handle(Delivery(profile_event(5), "p1", 2, 1))  # a replay writes no progress
    await first.stage.handle(Delivery(profile_event(1, product_id="p2"), "p2", 3, 0))  # not ours below
    progress = broker.topic(STAGE_PROGRESS.name)
    assert [(p, k) for p, k, _ in progress] == [(2, "copytest/p1"), (3, "copytest/p2")]
    written = events_pb2.StageProgress.FromString(progress[0][2])
    assert (written.version, list(written.output_ids), written.input_partition) == (
        5,
        ["p1-v5-t-1", "p1-v5-t-2"],
        2,
    )

    # A restarted (or rebalanced) worker: a new stage and store, the same topic.
    second = Harness(broker, persisted=True)
    await second.stage.assigned(frozenset({2}))
    assert second.stage.versions.get("p1") == Progress(5, False, ("p1-v5-t-1", "p1-v5-t-2"))
    assert second.stage.versions.get("p2") is None, "partition 3 was not assigned"
    await second.stage.handle(Delivery(profile_event(4), "p1", 2, 2))
    assert second.producer.batches == [], "an older version than one published before the restart"
    await second.stage.handle(Delivery(profile_event(6), "p1", 2, 3))
    assert second.retired == [Retirement("copytest", "p1", 5, 6, False, ("p1-v5-t-1", "p1-v5-t-2"))]
    await second.stage.revoked(frozenset({2}))
    assert second.stage.versions.get("p1") is None


async def test_another_stage_progress_is_ignored() -> None:
    broker = FakeBroker()
    other = events_pb2.StageProgress(stage="imagegen", product_id="p1", version=9, input_partition=0)
    broker.append(STAGE_PROGRESS.name, 0, "imagegen/p1", other.SerializeToString())
    h = Harness(broker, persisted=True)
    await h.stage.assigned(frozenset({0}))
    assert h.stage.versions.get("p1") is None
    await h.stage.handle(Delivery(profile_event(1), "p1", 0, 0))
    assert len(h.producer.batches) == 1


@pytest.mark.parametrize("generated", [[], [("c1", events_pb2.CreativeUpdated())]])
async def test_progress_is_put_after_publishing_and_retiring(generated: list[Keyed]) -> None:
    """A failure while publishing leaves the progress as it was, so the retry redoes everything."""
    calls: list[str] = []

    class Failing(FakeProducer):
        async def send_batch(self, topic: Topic, items: Sequence[tuple[str, Message]]) -> None:
            calls.append("publish")
            raise ConnectionError("broker away")

    async def generate(_: events_pb2.ContentProfileUpdated) -> list[Keyed]:
        return generated

    store = MemoryVersionStore()
    stage = ProfileStage(
        "copytest",
        cast(EventProducer, Failing(FakeBroker())),
        CREATIVES,
        generate,
        profile_subject,
        versions=store,
    )
    if generated:
        with pytest.raises(ConnectionError):
            await stage(profile_event(1))
        assert store.get("p1") is None and calls == ["publish"]
    else:
        await stage(profile_event(1))  # nothing to publish
        assert store.get("p1") == Progress(1, False, ())
