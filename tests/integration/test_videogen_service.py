"""videogen as a real process (`python -m creativeloop.videogen`) on a real Tansu broker.

RPCs over loopback gRPC (SummarizeVideo, AnimateImages, INVALID_ARGUMENT for bad input), and the
stream stage: a profile with a video on content.profiles becomes video creatives on `creatives`
with their assets; a profile whose video is corrupt goes to content.profiles.dlq and the next
profile is still processed; an image-only profile becomes a Ken Burns clip.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from creativeloop.datasets.synthetic_video import default_script, make_video, product_png, to_mp4
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES, CREATIVES, Topic
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.processes import terminate
from creativeloop.v1 import common_pb2, events_pb2, videogen_pb2, videogen_pb2_grpc

pytestmark = pytest.mark.integration

VIDEO = common_pb2.CREATIVE_FORMAT_VIDEO
START_TIMEOUT_S = 60.0
STREAM_TIMEOUT_S = 120.0


@dataclass
class Videogen:
    bootstrap_servers: str
    asset_dir: Path
    target: str
    log_path: Path

    @property
    def settings(self) -> CommonSettings:
        return CommonSettings(bootstrap_servers=self.bootstrap_servers, asset_dir=self.asset_dir)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture(scope="module")
def videogen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Videogen]:
    work = tmp_path_factory.mktemp("videogen")
    broker = TansuBroker(log_path=work / "tansu.log").start()
    process: subprocess.Popen[bytes] | None = None
    try:
        service = Videogen(broker.bootstrap_servers, work / "assets", "", work / "videogen.log")
        asyncio.run(ensure_topics(service.settings))
        port = free_port()
        service.target = f"127.0.0.1:{port}"
        env = {
            **os.environ,
            "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CREATIVELOOP_ASSET_DIR": str(service.asset_dir),
            "CREATIVELOOP_LOG_FORMAT": "console",
            "CREATIVELOOP_VIDEOGEN_GRPC_PORT": str(port),
            "CREATIVELOOP_VIDEOGEN_METRICS_PORT": str(free_port()),
            "CREATIVELOOP_VIDEOGEN_BUDGETS_S": "[2.0, 4.0]",
            "CREATIVELOOP_VIDEOGEN_ASPECTS": '["9:16"]',
            "CREATIVELOOP_VIDEOGEN_ANIMATE_IMAGES": "true",
            "CREATIVELOOP_VIDEOGEN_ANIMATION_S": "2.0",
            "CREATIVELOOP_VIDEOGEN_OUTPUT_LONG_SIDE": "240",
            "CREATIVELOOP_VIDEOGEN_X264_PRESET": "ultrafast",
            "PYTHONUNBUFFERED": "1",
        }
        with open(service.log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "creativeloop.videogen"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=work,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _serving(service.target):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"videogen did not start:\n{service.log_tail()}")
            time.sleep(0.2)
        yield service
    finally:
        if process is not None:
            terminate(process)
        broker.stop()


@asynccontextmanager
async def recording(bootstrap_servers: str, topic: Topic) -> AsyncIterator[list[tuple[str, Any]]]:
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


async def wait_until(predicate: Any, timeout_s: float, what: str, service: Videogen) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{service.log_tail()}")
        await asyncio.sleep(0.2)


def clip(seconds: float = 1.2) -> bytes:
    shots, transitions = default_script(seconds)
    return to_mp4(make_video(shots, transitions, size=(192, 108)), audio=True)


def profile(
    store: FilesystemAssetStore, product_id: str, *, video: bytes | None, version: int = 1
) -> common_pb2.ContentProfile:
    image_uri, image_sha = store.put(product_png(), "image/png")
    message = common_pb2.ContentProfile(
        product_id=product_id,
        product_version=version,
        title="Orange Squeeze Bottle 500 ml",
        price=common_pb2.Price(currency="USD", amount_micros=9_990_000),
        images=[common_pb2.Media(uri=image_uri, sha256=image_sha, mime_type="image/png")],
        admission=common_pb2.Admission(admitted=True),
    )
    if video is not None:
        uri, digest = store.put(video, "video/mp4")
        message.videos.append(common_pb2.Media(uri=uri, sha256=digest, mime_type="video/mp4"))
    return message


def frames_and_size(path: Path) -> tuple[str, int, tuple[int, int]]:
    with av.open(str(path), mode="r") as container:
        stream = container.streams.video[0]
        return (
            stream.codec_context.name,
            sum(1 for _ in container.decode(stream)),
            (stream.width, stream.height),
        )


async def test_summarize_and_animate_rpcs(videogen: Videogen) -> None:
    store = FilesystemAssetStore(videogen.asset_dir)
    async with grpc.aio.insecure_channel(videogen.target) as channel:
        stub = videogen_pb2_grpc.VideoGenerationServiceStub(channel)
        reply = await stub.SummarizeVideo(
            videogen_pb2.SummarizeVideoRequest(
                product_id="rpc",
                video=common_pb2.Media(content=clip()),
                duration_budget_seconds=3.0,
                aspect_ratio="1:1",
                product_image=common_pb2.Media(content=product_png()),
                overlay=videogen_pb2.VideoOverlay(
                    headline="Squeeze me", price=common_pb2.Price(currency="USD", amount_micros=9_990_000)
                ),
            )
        )
        assert reply.frames == 75 and abs(reply.duration_seconds - 3.0) < 1e-9 and reply.has_audio
        assert reply.width == reply.height and reply.aspect_ratio == "1:1"
        with av.open(io.BytesIO(reply.video.content), mode="r") as container:
            assert sum(1 for _ in container.decode(video=0)) == 75
        assert len(reply.shots) >= 6 and any(s.selected for s in reply.shots)
        assert {s.boundary for s in reply.shots} >= {"start", "cut"}
        assert all("product" in s.features for s in reply.shots)
        assert [s.shot_index for s in reply.segments] == sorted(s.shot_index for s in reply.segments)
        assert reply.poster.mime_type == "image/jpeg" and reply.poster.content[:2] == b"\xff\xd8"

        stored = await stub.SummarizeVideo(
            videogen_pb2.SummarizeVideoRequest(
                video=common_pb2.Media(uri=store.put(clip(), "video/mp4")[0]), duration_budget_seconds=2.0,
                width=160, height=200, drop_audio=True, store=True,
            )
        )  # fmt: skip
        codec, frames, size = frames_and_size(Path(urlparse(stored.video.uri).path))
        assert (codec, frames, size) == ("h264", 50, (160, 200)) and not stored.has_audio

        animated = await stub.AnimateImages(
            videogen_pb2.AnimateImagesRequest(
                images=[
                    common_pb2.Media(content=product_png()),
                    common_pb2.Media(content=product_png((300, 200))),
                ],
                duration_seconds=2.0, aspect_ratio="4:5", store=True,
            )
        )  # fmt: skip
        codec, frames, size = frames_and_size(Path(urlparse(animated.video.uri).path))
        assert codec == "h264" and frames == animated.frames == 50 and animated.aspect_ratio == "4:5"

        for bad, reason in [
            (b"", "needs content or uri"),
            (b"\x00\x00\x00\x18ftypmp42 garbage" * 8, "undecodable video"),
            (clip()[:3000], ""),
            (product_png(), "still image"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as rejected:
                await stub.SummarizeVideo(
                    videogen_pb2.SummarizeVideoRequest(video=common_pb2.Media(content=bad))
                )
            assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert reason in (rejected.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as too_long:
            await stub.SummarizeVideo(
                videogen_pb2.SummarizeVideoRequest(
                    video=common_pb2.Media(content=clip()), duration_budget_seconds=10_000
                )
            )
        assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        # Bad budgets are rejected before the video is looked at (the garbage video's own problem
        # is never reported), and no reason names where the server keeps its files.
        garbage = b"\x00\x00\x00\x18ftypmp42" + b"\x07" * 200_000
        for budget in (1e-9, -1.0, 1e6):
            with pytest.raises(grpc.aio.AioRpcError) as bad_budget:
                await stub.SummarizeVideo(
                    videogen_pb2.SummarizeVideoRequest(
                        video=common_pb2.Media(content=garbage), duration_budget_seconds=budget
                    )
                )
            assert bad_budget.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "duration budget" in (bad_budget.value.details() or "")
        for uri in ("file:///etc/hostname", store.put(b"x", "video/mp4")[0].replace(".mp4", "0.mp4")):
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.SummarizeVideo(
                    videogen_pb2.SummarizeVideoRequest(
                        video=common_pb2.Media(uri=uri), duration_budget_seconds=2.0
                    )
                )
            details = unknown.value.details() or ""
            assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert str(videogen.asset_dir) not in details and "file://" not in details, details
        # ...and the service is still serving.
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        again = await stub.SummarizeVideo(
            videogen_pb2.SummarizeVideoRequest(
                video=common_pb2.Media(content=clip()), duration_budget_seconds=2.0
            )
        )
        assert again.frames == 50


async def test_profiles_become_video_creatives_and_a_corrupt_video_is_dead_lettered(
    videogen: Videogen,
) -> None:
    store = FilesystemAssetStore(videogen.asset_dir)
    run = uuid.uuid4().hex[:8]
    product_id = f"vg-{run}"
    corrupt = profile(store, product_id, video=b"\x00\x00\x00\x18ftypmp42-corrupt-" + run.encode() * 20)
    valid = profile(store, product_id, video=clip(), version=2)
    images_only = profile(store, f"vg-img-{run}", video=None)

    async with (
        recording(videogen.bootstrap_servers, CONTENT_PROFILES.dlq) as letters,
        recording(videogen.bootstrap_servers, CREATIVES) as records,
        EventProducer(videogen.settings, "videogen-test") as producer,
    ):
        for message in (corrupt, valid, images_only):
            await producer.send(
                CONTENT_PROFILES,
                message.product_id,
                events_pb2.ContentProfileUpdated(profile=message, updated_at=now_timestamp()),
            )

        def creatives(pid: str) -> list[common_pb2.Creative]:
            return [
                e.creative for _, e in records if e.creative.product_id == pid and e.creative.format == VIDEO
            ]

        await wait_until(
            lambda: any(k == product_id for k, _ in letters), STREAM_TIMEOUT_S, "a dead letter", videogen
        )
        await wait_until(
            lambda: len(creatives(product_id)) >= 2, STREAM_TIMEOUT_S, "video creatives", videogen
        )
        await wait_until(
            lambda: bool(creatives(images_only.product_id)), STREAM_TIMEOUT_S, "an animation", videogen
        )

    [letter] = [e for k, e in letters if k == product_id]
    assert letter.consumer == "videogen" and letter.source_topic == CONTENT_PROFILES.name
    assert "undecodable video" in letter.reason
    assert events_pb2.ContentProfileUpdated.FromString(letter.value).profile == corrupt

    summaries = creatives(product_id)
    assert {c.product_version for c in summaries} == {2}
    assert {c.attributes["budget_s"] for c in summaries} == {"2", "4"}
    for creative in summaries:
        assert creative.template_id == "video-summary" and creative.attributes["aspect"] == "9:16"
        assert creative.attributes["shots"] and creative.attributes["has_audio"] == "true"
        assert creative.headline == "Orange Squeeze Bottle 500 ml"
        codec, frames, size = frames_and_size(Path(urlparse(creative.asset_uri).path))
        assert codec == "h264" and size == (creative.width, creative.height)
        assert frames == round(float(creative.attributes["budget_s"]) * 25)
        assert Path(urlparse(creative.attributes["poster_uri"]).path).is_file()
    [animation] = creatives(images_only.product_id)
    assert animation.template_id == "ken-burns"
    assert frames_and_size(Path(urlparse(animation.asset_uri).path))[1] == 50
