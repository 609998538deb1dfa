"""`creativeloop dlq list|replay` against understanding as a real process on a real Tansu broker.

A bad record (undecodable bytes) and a good one that failed for a reason since fixed (its image
was missing from the asset store) are dead-lettered; `dlq list` shows both; the image is put
back; `dlq replay` re-publishes both: the good one becomes a profile, the bad one is dead-lettered
again (its letter names the letter it was replayed from); a second replay publishes nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.feed import read_to_end
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import CONTENT_PROFILES, PRODUCT_CHANGES
from creativeloop.v1 import common_pb2, events_pb2
from tests.integration.helpers import ServiceProcess, TopicRecorder, product_png, spawn_service, wait_until

pytestmark = pytest.mark.integration

TIMEOUT_S = 90.0


@pytest.fixture
def understanding(broker: Any, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {
        "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CREATIVELOOP_ASSET_DIR": str(tmp_path / "assets"),
        "CREATIVELOOP_UNDERSTANDING_ANALYSE_IMAGES": "false",  # images are read, no models needed
    }
    service = spawn_service("understanding", env, tmp_path)
    try:
        service.wait_serving(TIMEOUT_S)
        yield service
    finally:
        service.stop()


async def cli(broker: Any, *args: str) -> str:
    """Run `creativeloop ARGS --bootstrap-servers ...` as a process; its stdout."""
    command = [sys.executable, "-c", "from creativeloop.cli import main; main()", *args]
    done = await asyncio.to_thread(
        subprocess.run,
        [*command, "--bootstrap-servers", broker.bootstrap_servers],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def source_records(settings: CommonSettings) -> int:
    _, records = await read_to_end(settings, PRODUCT_CHANGES.name, timeout_s=TIMEOUT_S)
    return len(records)


async def test_dead_letters_are_listed_and_replayed_once(
    broker: Any, understanding: ServiceProcess, tmp_path: Path
) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    store = FilesystemAssetStore(tmp_path / "assets")
    run = uuid.uuid4().hex[:6]
    bad, good = f"bad-{run}", f"good-{run}"
    image = product_png((40, 120, 200))
    uri, digest = store.put(image, "image/png")
    Path(uri.removeprefix("file://")).unlink()  # not there yet: the product is dead-lettered
    product = common_pb2.Product(
        product_id=good,
        version=1,
        title="Relaxed Linen Shirt",
        language="en",
        images=[common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
    )

    async with (
        TopicRecorder(broker.bootstrap_servers, CONTENT_PROFILES) as profiles,
        TopicRecorder(broker.bootstrap_servers, PRODUCT_CHANGES.dlq) as letters,
        EventProducer(settings, "dlq-test") as producer,
    ):

        def profiles_of(product_id: str) -> list[events_pb2.ContentProfileUpdated]:
            return [e for e in profiles.events() if e.profile.product_id == product_id]

        await producer._producer.send_and_wait(PRODUCT_CHANGES.name, b"\x0a\xff\xff", key=bad.encode())
        await producer.send(PRODUCT_CHANGES, good, events_pb2.ProductChanged(product=product))
        await wait_until(lambda: len(letters.records) == 2, TIMEOUT_S, "two dead letters")

        listed = json.loads(await cli(broker, "dlq", "list", PRODUCT_CHANGES.name, "--json"))
        assert [letter["offset"] for letter in listed] == [0, 1]
        by_key = {letter["key"]: letter for letter in listed}  # two partitions: in either order
        assert set(by_key) == {bad, good}
        assert all(letter["consumer"] == "understanding" and not letter["replay_of"] for letter in listed)
        assert by_key[bad]["reason"].startswith("undecodable creativeloop.v1.ProductChanged")
        assert "cannot read" in by_key[good]["reason"]
        assert by_key[good]["source_topic"] == PRODUCT_CHANGES.name and by_key[good]["source_offset"] >= 0
        datetime.fromisoformat(listed[0]["failed_at"])
        text = await cli(broker, "dlq", "list", f"{PRODUCT_CHANGES.name}.dlq")
        assert "2 dead letters on product.changes.dlq" in text

        before = await source_records(settings)
        dry = await cli(broker, "dlq", "replay", PRODUCT_CHANGES.name, "--dry-run")
        assert "would replay 2, skipped 0" in dry
        assert await source_records(settings) == before, "a dry run publishes nothing"

        store.put(image, "image/png")  # the fix: the image is there now
        first = await cli(broker, "dlq", "replay", PRODUCT_CHANGES.name)
        assert "replayed 2, skipped 0 failed replays" in first
        await wait_until(lambda: bool(profiles_of(good)), TIMEOUT_S, "the replayed good product's profile")
        await wait_until(lambda: len(letters.records) == 3, TIMEOUT_S, "the bad record dead-lettered again")
        assert await source_records(settings) == before + 2

        second = await cli(broker, "dlq", "replay", PRODUCT_CHANGES.name)
        assert "replayed 0, skipped 1 failed replays" in second
        assert await source_records(settings) == before + 2, "a second replay publishes nothing"

        again = json.loads(await cli(broker, "dlq", "list", PRODUCT_CHANGES.name, "--json"))
        assert len(again) == 3 and again[2]["key"] == bad
        assert again[2]["replay_of"] == f"{PRODUCT_CHANGES.dlq.name}/0/{by_key[bad]['offset']}"
        assert len(profiles_of(good)) == 1, "the good product was profiled once"
        assert profiles_of(good)[0].profile.images[0].uri == uri
