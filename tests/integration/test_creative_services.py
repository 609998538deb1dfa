"""copygen and imagegen as real processes on a real Tansu broker.

content.profiles -> copygen (text creatives) and imagegen (GenerateCopy over gRPC, render,
asset store, image creatives) -> creatives; a profile with a corrupt image goes to
content.profiles.dlq and the stream carries on.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.imagegen.templates import SIZES, load_catalogue
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES, CREATIVES, Topic
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.processes import terminate
from creativeloop.v1 import (
    common_pb2,
    copygen_pb2,
    copygen_pb2_grpc,
    events_pb2,
    imagegen_pb2,
    imagegen_pb2_grpc,
)

pytestmark = pytest.mark.integration

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE
TEXT = common_pb2.CREATIVE_FORMAT_TEXT
START_TIMEOUT_S = 60.0
REPOSITORY = Path(__file__).resolve().parents[2] / "deploy" / "model-repository"
STREAM_TIMEOUT_S = 90.0


@dataclass
class Service:
    name: str
    grpc_port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class CreativeServices:
    bootstrap_servers: str
    asset_dir: Path
    running: dict[str, Service] = field(default_factory=dict)

    @property
    def settings(self) -> CommonSettings:
        return CommonSettings(bootstrap_servers=self.bootstrap_servers, asset_dir=self.asset_dir)


def _spawn(name: str, env: dict[str, str], work: Path) -> Service:
    prefix = f"CREATIVELOOP_{name.upper()}_"
    grpc_port = free_port()
    log_path = work / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"creativeloop.{name}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **env,
                f"{prefix}GRPC_PORT": str(grpc_port),
                f"{prefix}METRICS_PORT": str(free_port()),
            },
            cwd=work,
        )
    return Service(name, grpc_port, log_path, process)


def _health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.RpcError:
            return int(health_pb2.HealthCheckResponse.UNKNOWN)
        return int(reply.status)


def _wait_serving(services: list[Service], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = {s.name: s for s in services}
    while pending:
        for name, service in sorted(pending.items()):
            if service.process.poll() is not None:
                raise AssertionError(f"{name} exited during start-up:\n{service.log_tail()}")
            if _health(service.target) == health_pb2.HealthCheckResponse.SERVING:
                del pending[name]
        if pending and time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in pending.values())
            raise AssertionError(f"not SERVING after {timeout_s}s: {sorted(pending)}\n{tails}")
        time.sleep(0.2)


def _stop(service: Service) -> None:
    terminate(service.process)


@pytest.fixture(scope="module")
def creative_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CreativeServices]:
    """Tansu + topics + copygen + imagegen processes on free loopback ports."""
    work = tmp_path_factory.mktemp("creative-services")
    broker = TansuBroker(log_path=work / "tansu.log").start()
    services = CreativeServices(broker.bootstrap_servers, work / "assets")
    try:
        asyncio.run(ensure_topics(services.settings))
        env = {
            **os.environ,
            "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CREATIVELOOP_ASSET_DIR": str(services.asset_dir),
            "CREATIVELOOP_LOG_FORMAT": "console",
            "PYTHONUNBUFFERED": "1",
        }
        copygen_env = dict(env)
        if (REPOSITORY / "copy_generator_encoder" / "1" / "model.onnx").is_file():
            # The learned generator when `creativeloop models build` made it; templates otherwise.
            copygen_env["CREATIVELOOP_MODELS_REPOSITORY"] = str(REPOSITORY)
        copygen = _spawn("copygen", copygen_env, work)
        services.running["copygen"] = copygen
        env["CREATIVELOOP_IMAGEGEN_COPYGEN_TARGET"] = copygen.target
        services.running["imagegen"] = _spawn("imagegen", env, work)
        _wait_serving(list(services.running.values()), START_TIMEOUT_S)
        yield services
    finally:
        for service in reversed(list(services.running.values())):
            _stop(service)
        broker.stop()


@asynccontextmanager
async def recording(bootstrap_servers: str, topic: Topic) -> AsyncIterator[list[tuple[str, Any]]]:
    """Every (key, event) of `topic` from its beginning, appended as they arrive."""
    records: list[tuple[str, Any]] = []
    feed: TopicFeed[Any] = TopicFeed(
        CommonSettings(bootstrap_servers=bootstrap_servers), topic, lambda k, e: records.append((k, e))
    )
    task = asyncio.create_task(feed.run())
    try:
        yield records
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate`; fail naming `what` after `timeout_s` (a bound, not a speed test)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


def product_png(colour: tuple[int, int, int]) -> bytes:
    canvas = np.full((400, 300, 3), 245, np.uint8)
    canvas[60:340, 50:250] = colour
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()


def make_profile(
    store: FilesystemAssetStore, product_id: str, image: bytes, version: int = 1
) -> common_pb2.ContentProfile:
    uri, digest = store.put(image, "image/png")
    return common_pb2.ContentProfile(
        product_id=product_id,
        product_version=version,
        title="Relaxed Linen Shirt with Rolled Sleeves",
        category="Men / Shirts",
        price=common_pb2.Price(currency="USD", amount_micros=45_000_000),
        images=[common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
        selling_points=["relaxed", "linen", "rolled"],
        admission=common_pb2.Admission(admitted=True),
        language="en",
        pipeline_version="test",
    )


def creatives_of(records: list[tuple[str, Any]], product_id: str, fmt: int) -> list[common_pb2.Creative]:
    return [
        e.creative for _, e in records if e.creative.product_id == product_id and e.creative.format == fmt
    ]


async def test_a_profile_becomes_image_and_text_creatives(creative_services: CreativeServices) -> None:
    store = FilesystemAssetStore(creative_services.asset_dir)
    product_id = f"cs-{uuid.uuid4().hex[:8]}"
    profile = make_profile(store, product_id, product_png((30, 90, 200)))
    event = events_pb2.ContentProfileUpdated(profile=profile, updated_at=now_timestamp())
    templates = set(load_catalogue())
    slots = sum(len(t.sizes) for t in load_catalogue().values())
    expected_images = slots * ImagegenSettings().copies_per_product

    async with (
        recording(creative_services.bootstrap_servers, CREATIVES) as records,
        EventProducer(creative_services.settings, "creative-services-test") as producer,
    ):
        await producer.send(CONTENT_PROFILES, product_id, event)

        def ready() -> bool:
            images = {c.creative_id for c in creatives_of(records, product_id, IMAGE)}
            return len(images) >= expected_images and bool(creatives_of(records, product_id, TEXT))

        await wait_until(ready, STREAM_TIMEOUT_S, f"{expected_images} image and some text creatives")
        images = creatives_of(records, product_id, IMAGE)
        texts = creatives_of(records, product_id, TEXT)
        assert {c.template_id for c in images} == templates
        assert {c.attributes["size"] for c in images} == set(SIZES)
        for creative in images:
            path = Path(urlparse(creative.asset_uri).path)
            assert path.is_file(), f"asset {creative.asset_uri} missing"
            assert path.is_relative_to(creative_services.asset_dir.resolve())
            with Image.open(path) as picture:
                picture.load()
                assert picture.size == (creative.width, creative.height) == SIZES[creative.attributes["size"]]
            assert creative.headline and creative.copy_id and creative.product_version == 1
            assert creative.attributes["template"] == creative.template_id
            assert creative.attributes["background"].startswith("#") and creative.attributes["layout"]
            assert creative.attributes["layout_region"] and creative.attributes["copy_id"] == creative.copy_id
        for creative in texts:
            # Text creatives follow the headline slot (30 characters).
            assert creative.headline and len(creative.headline) <= 30 and not creative.asset_uri
            assert creative.attributes["generator"] in ("template", "vae")
        # Image headlines are copygen's candidates for the image slot's length.
        assert all(len(c.headline) <= ImagegenSettings().copy_max_length for c in images)

        # Idempotent: the same profile again republishes exactly the same creative ids.
        first_ids = {c.creative_id for c in images + texts}
        seen = len(images) + len(texts)
        await producer.send(CONTENT_PROFILES, product_id, event)
        await wait_until(
            lambda: len([1 for _, e in records if e.creative.product_id == product_id]) >= 2 * seen,
            STREAM_TIMEOUT_S,
            "the replayed profile's creatives",
        )
        replay_ids = {e.creative.creative_id for _, e in records if e.creative.product_id == product_id}
        assert replay_ids == first_ids


async def test_a_corrupt_image_is_dead_lettered_and_the_stream_goes_on(
    creative_services: CreativeServices,
) -> None:
    store = FilesystemAssetStore(creative_services.asset_dir)
    run = uuid.uuid4().hex[:8]
    product_id = f"cs-bad-{run}"
    corrupt = make_profile(store, product_id, b"\x89PNG\r\n\x1a\n-corrupt-" + run.encode())
    valid = make_profile(store, product_id, product_png((200, 30, 40)), version=2)

    async with (
        recording(creative_services.bootstrap_servers, CONTENT_PROFILES.dlq) as letters,
        recording(creative_services.bootstrap_servers, CREATIVES) as records,
        EventProducer(creative_services.settings, "creative-services-test") as producer,
    ):
        # Same key: the corrupt and the valid profile share a partition and its order.
        for profile in (corrupt, valid):
            await producer.send(
                CONTENT_PROFILES,
                product_id,
                events_pb2.ContentProfileUpdated(profile=profile, updated_at=now_timestamp()),
            )

        def ours() -> list[events_pb2.DeadLetter]:
            return [e for k, e in letters if k == product_id]

        await wait_until(lambda: bool(ours()), STREAM_TIMEOUT_S, "a dead letter for the corrupt image")
        await wait_until(
            lambda: any(c.product_version == 2 for c in creatives_of(records, product_id, IMAGE)),
            STREAM_TIMEOUT_S,
            "image creatives of the valid profile after the corrupt one",
        )
    letter = ours()[0]
    assert letter.consumer == "imagegen" and letter.source_topic == CONTENT_PROFILES.name
    assert "undecodable product image" in letter.reason
    assert events_pb2.ContentProfileUpdated.FromString(letter.value).profile == corrupt
    assert len(ours()) == 1, "only the corrupt profile is dead-lettered"
    assert not any(c.product_version == 1 for c in creatives_of(records, product_id, IMAGE))


async def test_the_rpcs_of_the_running_services(creative_services: CreativeServices) -> None:
    store = FilesystemAssetStore(creative_services.asset_dir)
    uri, _ = store.put(product_png((20, 140, 60)), "image/png")
    imagegen = creative_services.running["imagegen"].target
    copygen = creative_services.running["copygen"].target
    async with grpc.aio.insecure_channel(imagegen) as channel:
        render = imagegen_pb2_grpc.ImageGenerationServiceStub(channel).RenderCreative
        reply = await render(
            imagegen_pb2.RenderCreativeRequest(
                product_image=common_pb2.Media(uri=uri),
                headline="Relaxed linen, rolled sleeves",
                template_id="hero-bottom",
                size="9:16",
                store=True,
            )
        )
        with Image.open(Path(urlparse(reply.image.uri).path)) as picture:
            assert picture.size == (reply.width, reply.height) == SIZES["9:16"]
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await render(
                imagegen_pb2.RenderCreativeRequest(
                    product_image=common_pb2.Media(uri=uri), template_id="hero-bottom", size="3:1"
                )
            )
        assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "unknown size '3:1'" in (unknown.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await render(
                imagegen_pb2.RenderCreativeRequest(product_image=common_pb2.Media(content=b"not an image"))
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with grpc.aio.insecure_channel(copygen) as channel:
        generate = copygen_pb2_grpc.CopyGenerationServiceStub(channel).GenerateCopy
        copy = await generate(
            copygen_pb2.GenerateCopyRequest(
                profile=make_profile(store, "rpc", product_png((1, 2, 3))), max_length=30
            )
        )
        assert copy.candidates and all(len(c.text) <= 30 for c in copy.candidates)
        assert [e.copy_id for e in copy.explanations] == [c.copy_id for c in copy.candidates]
        assert all(e.compliance_checked for e in copy.explanations) and copy.language == "en"
        has_model = (REPOSITORY / "copy_generator_encoder" / "1" / "model.onnx").is_file()
        assert copy.generator_status.startswith("model ") == has_model, copy.generator_status
        headline = await generate(
            copygen_pb2.GenerateCopyRequest(
                profile=make_profile(store, "rpc", product_png((1, 2, 3))), slot="headline"
            )
        )
        assert headline.candidates and all(len(c.text) <= 30 for c in headline.candidates)
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await generate(copygen_pb2.GenerateCopyRequest())
        assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "missing profile" in (empty.value.details() or "")
