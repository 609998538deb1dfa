"""The stream worker and the profile stage on a real Tansu broker, in-process.

An outage pauses the partitions (nothing dead-lettered, availability down) and the records go
through in order once the dependency is back; bad records and bugs are dead-lettered; a
restarted worker reads the stage's progress back and keeps skipping older versions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.feed import read_to_end
from creativeloop.kit.health import Availability
from creativeloop.kit.models import ModelUnavailableError
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.stage import Keyed, ProfileStage, Retirement, TopicVersionStore, profile_subject
from creativeloop.kit.topics import CONTENT_PROFILES, CREATIVES, PRODUCT_CHANGES, STAGE_PROGRESS
from creativeloop.v1 import common_pb2, events_pb2
from tests.integration.helpers import TopicRecorder, wait_until

pytestmark = pytest.mark.integration

TIMEOUT_S = 60.0


def settings_for(broker: Any) -> CommonSettings:
    return CommonSettings(
        bootstrap_servers=broker.bootstrap_servers,
        stream_outage_backoff_s=0.1,
        stream_outage_backoff_max_s=0.5,
    )


def product(product_id: str, version: int) -> events_pb2.ProductChanged:
    return events_pb2.ProductChanged(
        product=common_pb2.Product(product_id=product_id, version=version, title=f"title {version}")
    )


@contextlib.asynccontextmanager
async def running(worker: EventWorker[Any]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), TIMEOUT_S)
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def dead_letters(settings: CommonSettings, topic: str) -> int:
    _, records = await read_to_end(settings, topic, timeout_s=TIMEOUT_S)
    return len(records)


async def test_an_outage_pauses_and_the_records_go_through_in_order_afterwards(broker: Any) -> None:
    settings = settings_for(broker)
    backend_up = asyncio.Event()
    handled: list[tuple[str, int]] = []
    failures = 0

    async def handler(event: events_pb2.ProductChanged) -> None:
        nonlocal failures
        if not backend_up.is_set():
            failures += 1
            raise ModelUnavailableError("ocr_det", "triton StatusCode.UNAVAILABLE: connection refused")
        handled.append((event.product.product_id, event.product.version))

    availability = Availability()
    keys = [f"p{n}" for n in range(8)]
    async with EventProducer(settings, "worker-test") as producer:
        worker: EventWorker[events_pb2.ProductChanged] = EventWorker(
            settings, PRODUCT_CHANGES, "worker-test", handler, producer, availability=availability
        )
        async with running(worker):
            for version in (1, 2):
                await producer.send_batch(PRODUCT_CHANGES, [(k, product(k, version)) for k in keys])
            await wait_until(lambda: bool(worker.paused_partitions), TIMEOUT_S, "a paused partition")
            assert not availability.ok and "stream product.changes" in availability.reasons()
            assert "models" in availability.reasons()["stream product.changes"]
            seen = failures
            await wait_until(lambda: failures >= seen + 3, TIMEOUT_S, "retries while the backend is down")
            assert handled == []
            assert await dead_letters(settings, PRODUCT_CHANGES.dlq.name) == 0

            backend_up.set()
            await wait_until(lambda: len(handled) == 2 * len(keys), TIMEOUT_S, "every record once back")
            await wait_until(lambda: availability.ok, TIMEOUT_S, "availability back")
            assert not worker.paused_partitions
    for key in keys:  # per-key order holds across the pause
        assert [v for k, v in handled if k == key] == [1, 2]
    assert await dead_letters(settings, PRODUCT_CHANGES.dlq.name) == 0


async def test_bad_records_and_bugs_are_dead_lettered_and_the_stream_goes_on(broker: Any) -> None:
    settings = settings_for(broker)
    handled: list[str] = []

    async def handler(event: events_pb2.ProductChanged) -> None:
        if event.product.product_id == "bug":
            raise KeyError("a bug in the handler")
        handled.append(event.product.product_id)

    async with (
        EventProducer(settings, "worker-test") as producer,
        TopicRecorder(broker.bootstrap_servers, PRODUCT_CHANGES.dlq) as letters,
    ):
        worker: EventWorker[events_pb2.ProductChanged] = EventWorker(
            settings, PRODUCT_CHANGES, "worker-test", handler, producer, max_attempts=2, retry_backoff_s=0.05
        )
        async with running(worker):
            await producer._producer.send_and_wait(PRODUCT_CHANGES.name, b"\xff\x00garbage", key=b"k")
            await producer.send(PRODUCT_CHANGES, "k", product("bug", 1))
            await producer.send(PRODUCT_CHANGES, "k", product("good", 1))
            await wait_until(lambda: handled == ["good"], TIMEOUT_S, "the good record after the bad ones")
            await wait_until(lambda: len(letters.records) == 2, TIMEOUT_S, "two dead letters")
    reasons = [letter.reason for _, letter in letters.records]
    assert reasons[0].startswith("undecodable creativeloop.v1.ProductChanged")
    assert reasons[1] == "handler failed after 2 attempts: KeyError('a bug in the handler')"


async def test_a_restarted_stage_keeps_skipping_versions_it_published(broker: Any) -> None:
    settings = settings_for(broker)
    retired: list[Retirement] = []

    async def retire(retirement: Retirement) -> None:
        retired.append(retirement)

    async def generate(event: events_pb2.ContentProfileUpdated) -> list[Keyed]:
        profile = event.profile
        creative_id = f"{profile.product_id}-v{profile.product_version}"
        creative = common_pb2.Creative(
            creative_id=creative_id, product_id=profile.product_id, product_version=profile.product_version
        )
        return [(creative_id, events_pb2.CreativeUpdated(creative=creative))]

    def profile(version: int, deleted: bool = False) -> events_pb2.ContentProfileUpdated:
        return events_pb2.ContentProfileUpdated(
            profile=common_pb2.ContentProfile(
                product_id="p1", product_version=version, admission=common_pb2.Admission(admitted=True)
            ),
            deleted=deleted,
        )

    async with (
        EventProducer(settings, "stage-test") as producer,
        TopicRecorder(broker.bootstrap_servers, CREATIVES) as creatives,
    ):

        def published() -> list[str]:
            return [key for key, _ in creatives.records]

        def worker() -> EventWorker[events_pb2.ContentProfileUpdated]:
            stage = ProfileStage(
                "stagetest",
                producer,
                CREATIVES,
                generate,
                profile_subject,
                versions=TopicVersionStore(settings, producer, "stagetest"),
                retire=retire,
            )
            return EventWorker(settings, CONTENT_PROFILES, "stage-test", stage, producer)

        async with running(worker()):
            await producer.send(CONTENT_PROFILES, "p1", profile(2))
            await wait_until(lambda: published() == ["p1-v2"], TIMEOUT_S, "version 2's creative")

        # A new process: nothing in memory; the progress comes back from stage.progress.
        async with running(worker()):
            await producer.send(CONTENT_PROFILES, "p1", profile(1))
            await producer.send(CONTENT_PROFILES, "p1", profile(3))
            await wait_until(lambda: "p1-v3" in published(), TIMEOUT_S, "version 3's creative")
            assert published() == ["p1-v2", "p1-v3"], "version 1 must be skipped after the restart"
            assert retired == [Retirement("stagetest", "p1", 2, 3, False, ("p1-v2",))]
            await producer._producer.send_and_wait(CONTENT_PROFILES.name, None, key=b"p1")  # tombstone
            await wait_until(lambda: len(retired) == 2, TIMEOUT_S, "the deletion's retirement")
            assert retired[1] == Retirement("stagetest", "p1", 3, 3, True, ("p1-v3",))

        async with running(worker()):
            await producer.send(CONTENT_PROFILES, "p1", profile(3))  # the deleted version, replayed
            await producer.send(CONTENT_PROFILES, "p1", profile(4))
            await wait_until(lambda: "p1-v4" in published(), TIMEOUT_S, "version 4's creative")
            assert published() == ["p1-v2", "p1-v3", "p1-v4"]
    _, progress = await read_to_end(settings, STAGE_PROGRESS.name, timeout_s=TIMEOUT_S)
    versions = [events_pb2.StageProgress.FromString(r.value or b"").version for r in progress]
    assert versions == [2, 3, 3, 4], "one progress record per change (the skipped ones write none)"


async def test_a_rebalanced_partition_keeps_its_versions_with_the_new_owner(broker: Any) -> None:
    """Worker A handles every product; B joins the group and takes some partitions over: B reads
    their progress back, so older versions stay skipped whichever worker gets them."""
    settings = settings_for(broker)
    products = [f"r{n}" for n in range(12)]

    async def generate(event: events_pb2.ContentProfileUpdated) -> list[Keyed]:
        profile = event.profile
        creative_id = f"{profile.product_id}-v{profile.product_version}"
        return [
            (
                creative_id,
                events_pb2.CreativeUpdated(
                    creative=common_pb2.Creative(
                        creative_id=creative_id,
                        product_id=profile.product_id,
                        product_version=profile.product_version,
                    )
                ),
            )
        ]

    def profile(product_id: str, version: int) -> events_pb2.ContentProfileUpdated:
        return events_pb2.ContentProfileUpdated(
            profile=common_pb2.ContentProfile(
                product_id=product_id, product_version=version, admission=common_pb2.Admission(admitted=True)
            )
        )

    async with (
        EventProducer(settings, "rebalance-test") as producer,
        TopicRecorder(broker.bootstrap_servers, CREATIVES) as creatives,
    ):

        def published() -> set[str]:
            return {key for key, _ in creatives.records}

        def member() -> tuple[ProfileStage[events_pb2.ContentProfileUpdated], EventWorker[Any]]:
            stage = ProfileStage(
                "rebalancetest",
                producer,
                CREATIVES,
                generate,
                profile_subject,
                versions=TopicVersionStore(settings, producer, "rebalancetest"),
            )
            return stage, EventWorker(settings, CONTENT_PROFILES, "rebalance-test", stage, producer)

        stage_a, worker_a = member()
        stage_b, worker_b = member()
        async with running(worker_a):
            await producer.send_batch(CONTENT_PROFILES, [(p, profile(p, 2)) for p in products])
            await wait_until(
                lambda: {f"{p}-v2" for p in products} <= published(), TIMEOUT_S, "version 2 of every product"
            )
            assert stage_a.published == len(products)
            async with running(worker_b):
                await wait_until(lambda: bool(worker_b.owned_partitions), TIMEOUT_S, "B owning partitions")
                await producer.send_batch(CONTENT_PROFILES, [(p, profile(p, 1)) for p in products])
                await producer.send_batch(CONTENT_PROFILES, [(p, profile(p, 3)) for p in products])
                await wait_until(
                    lambda: {f"{p}-v3" for p in products} <= published(),
                    TIMEOUT_S,
                    "version 3 of every product",
                )
        assert stage_b.published > 0, "B handled the partitions it took over"
        assert not {f"{p}-v1" for p in products} & published(), "no older version after the rebalance"
