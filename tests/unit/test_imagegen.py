"""The RenderCreative RPC and the imagegen stream stage, over real loopback gRPC servers."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message
from PIL import Image

from creativeloop.copygen.service import CopygenServicer
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.imagegen.service import (
    CopyClient,
    CopygenUnavailable,
    ImagegenServicer,
    ProfileHandler,
    build_renderer,
    choose_image,
    image_creative_id,
)
from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.imagegen.templates import SIZES, load_catalogue
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.topics import CREATIVES, Topic
from creativeloop.stack.broker import free_port
from creativeloop.v1 import common_pb2, copygen_pb2_grpc, events_pb2, imagegen_pb2, imagegen_pb2_grpc

SETTINGS = ImagegenSettings(max_image_bytes=64 * 1024, copygen_timeout_s=2.0)
RENDERER = build_renderer(SETTINGS)


def encode(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png(colour: tuple[int, int, int] = (10, 200, 30), size: tuple[int, int] = (240, 320)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), colour, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> FilesystemAssetStore:
    return FilesystemAssetStore(tmp_path / "assets")


@pytest.fixture
async def imagegen(
    store: FilesystemAssetStore,
) -> AsyncIterator[imagegen_pb2_grpc.ImageGenerationServiceStub]:
    server = grpc.aio.server()
    imagegen_pb2_grpc.add_ImageGenerationServiceServicer_to_server(
        ImagegenServicer(SETTINGS, RENDERER, store), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield imagegen_pb2_grpc.ImageGenerationServiceStub(channel)
    finally:
        await server.stop(None)


@pytest.fixture
async def copygen_target() -> AsyncIterator[str]:
    server = grpc.aio.server()
    copygen_pb2_grpc.add_CopyGenerationServiceServicer_to_server(CopygenServicer(CopygenSettings()), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


def request(**fields: Any) -> imagegen_pb2.RenderCreativeRequest:
    base: dict[str, Any] = {
        "product_id": "p1",
        "product_image": common_pb2.Media(content=png()),
        "headline": "Flowy Linen Summer Dress",
        "price": common_pb2.Price(currency="USD", amount_micros=59_990_000),
    }
    base.update(fields)
    return imagegen_pb2.RenderCreativeRequest(**base)


async def test_render_inline_image(imagegen: imagegen_pb2_grpc.ImageGenerationServiceStub) -> None:
    reply = await imagegen.RenderCreative(
        request(template_id="hero-bottom", encoding=imagegen_pb2.IMAGE_ENCODING_PNG)
    )
    image = Image.open(io.BytesIO(reply.image.content))
    assert image.format == "PNG" and image.size == (800, 800) == (reply.width, reply.height)
    assert reply.image.sha256 == hashlib.sha256(reply.image.content).hexdigest()
    assert reply.image.mime_type == "image/png" and not reply.image.uri
    assert reply.template_id == "hero-bottom" and reply.size == "1:1"
    assert reply.attributes["template"] == "hero-bottom" and reply.attributes["background"].startswith("#")
    assert reply.attributes["layout_region"] and float(reply.attributes["min_text_contrast"]) >= 4.5


async def test_render_defaults_sizes_and_encodings(
    imagegen: imagegen_pb2_grpc.ImageGenerationServiceStub,
) -> None:
    default = await imagegen.RenderCreative(request())
    assert default.template_id == SETTINGS.default_template
    assert default.image.mime_type == f"image/{SETTINGS.default_encoding}"
    assert Image.open(io.BytesIO(default.image.content)).format == SETTINGS.default_encoding.upper()
    wide = await imagegen.RenderCreative(
        request(width=1200, height=628, encoding=imagegen_pb2.IMAGE_ENCODING_JPEG)
    )
    assert Image.open(io.BytesIO(wide.image.content)).size == (1200, 628)
    assert wide.image.mime_type == "image/jpeg"
    webp = await imagegen.RenderCreative(request(encoding=imagegen_pb2.IMAGE_ENCODING_WEBP))
    assert Image.open(io.BytesIO(webp.image.content)).format == "WEBP"
    for name, dims in SIZES.items():
        slot = await imagegen.RenderCreative(request(size=name, template_id="soft-focus"))
        assert Image.open(io.BytesIO(slot.image.content)).size == dims == (slot.width, slot.height)
        assert slot.size == name == slot.attributes["size"]


async def test_render_with_copy_overrides_and_a_mask(
    imagegen: imagegen_pb2_grpc.ImageGenerationServiceStub,
) -> None:
    picture = np.full((320, 480, 3), 235, np.uint8)
    picture[40:300, 30:200] = (10, 200, 30)
    mask = np.zeros((320, 480), np.uint8)
    mask[40:300, 30:200] = 255
    confident = await imagegen.RenderCreative(
        request(
            product_image=common_pb2.Media(content=encode(picture)),
            product_mask=common_pb2.Media(content=encode(mask)),
            product_confidence=0.9,
            template_id="split-left",
            subline="Breathable linen",
            badge_text="-20%",
        )
    )
    assert confident.attributes["product_placement"] == "cutout"
    assert confident.attributes["badge"] == "-20%"
    weak = await imagegen.RenderCreative(
        request(
            product_image=common_pb2.Media(content=encode(picture)),
            product_mask=common_pb2.Media(content=encode(mask)),
            product_confidence=0.1,
            product_box=common_pb2.Box(x=30 / 480, y=40 / 320, width=170 / 480, height=260 / 320),
            template_id="split-left",
            hide_badge=True,
        )
    )
    assert weak.attributes["product_placement"] == "picture" and weak.attributes["badge"] == ""


async def test_render_from_the_asset_store_and_store_the_result(
    imagegen: imagegen_pb2_grpc.ImageGenerationServiceStub, store: FilesystemAssetStore
) -> None:
    uri, digest = store.put(png(), "image/png")
    reply = await imagegen.RenderCreative(
        request(product_image=common_pb2.Media(uri=uri, sha256=digest), store=True)
    )
    assert reply.image.uri and not reply.image.content
    stored = Path(urlparse(reply.image.uri).path).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == reply.image.sha256
    assert Image.open(io.BytesIO(stored)).size == (800, 800)
    again = await imagegen.RenderCreative(
        request(product_image=common_pb2.Media(uri=uri, sha256=digest), store=True)
    )
    assert again.image.uri == reply.image.uri, "same inputs, same content-addressed asset"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"product_image": common_pb2.Media(content=b"\x89PNG\r\n\x1a\nnot-a-png")},
            "undecodable product image",
        ),
        ({"product_image": common_pb2.Media(content=b"GIF89a" + b"\0" * 30)}, "undecodable product image"),
        ({"product_image": common_pb2.Media()}, "product_image needs content or uri"),
        ({"product_image": common_pb2.Media(content=b"x" * (70 * 1024))}, "bytes, limit 65536"),
        ({"product_image": common_pb2.Media(uri="file:///etc/passwd")}, "outside the asset store"),
        ({"product_image": common_pb2.Media(uri="s3://bucket/key.png")}, "unsupported asset uri scheme"),
        ({"template_id": "no-such-template"}, "unknown template 'no-such-template'"),
        ({"size": "2:1"}, "unknown size '2:1'"),
        ({"size": "1:1", "width": 400}, "not both"),
        ({"badge_text": "x" * 13}, "badge_text has 13 characters"),
        ({"product_mask": common_pb2.Media(content=b"not a png"), "product_confidence": 0.9}, "PNG"),
        ({"width": 8000}, "canvas 8000x8000 outside"),
        ({"width": 800, "height": 5000}, "canvas 800x5000 outside"),
        ({"width": -5}, "negative canvas size"),
        ({"headline": "x" * 201}, "headline has 201 characters, limit 200"),
        ({"encoding": 42}, "unknown encoding 42"),
    ],
)
async def test_render_rejects_bad_input(
    imagegen: imagegen_pb2_grpc.ImageGenerationServiceStub, fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await imagegen.RenderCreative(request(**fields))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (error.value.details() or "")


async def test_a_missing_asset_is_invalid(
    imagegen: imagegen_pb2_grpc.ImageGenerationServiceStub, store: FilesystemAssetStore
) -> None:
    missing = (store.root / "ab" / "missing.png").as_uri()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await imagegen.RenderCreative(request(product_image=common_pb2.Media(uri=missing)))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no asset at" in (error.value.details() or "")


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message]] = []

    async def send_batch(self, topic: Topic, items: list[tuple[str, Message]]) -> None:
        self.sent += [(topic.name, key, event) for key, event in items]

    def creatives(self) -> list[common_pb2.Creative]:
        return [cast(events_pb2.CreativeUpdated, event).creative for _, _, event in self.sent]


def profile(
    store: FilesystemAssetStore, image: bytes | None = None, **fields: Any
) -> common_pb2.ContentProfile:
    uri, digest = store.put(png() if image is None else image, "image/png")
    base: dict[str, Any] = {
        "product_id": "p1",
        "product_version": 3,
        "title": "Flowy Linen Summer Dress",
        "category": "Women / Dresses",
        "selling_points": ["linen", "flowy", "summer"],
        "price": common_pb2.Price(currency="USD", amount_micros=59_990_000),
        "images": [common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
        "admission": common_pb2.Admission(admitted=True),
        "language": "en",
    }
    base.update(fields)
    return common_pb2.ContentProfile(**base)


@pytest.fixture
async def copy_client(copygen_target: str) -> AsyncIterator[CopyClient]:
    client = CopyClient(copygen_target, SETTINGS.copygen_timeout_s)
    try:
        yield client
    finally:
        await client.close()


def handler(store: FilesystemAssetStore, copy: CopyClient) -> tuple[ProfileHandler, FakeProducer]:
    fake = FakeProducer()
    return ProfileHandler(SETTINGS, cast(EventProducer, fake), store, RENDERER, copy), fake


async def test_stream_renders_every_template_with_the_top_copies(
    store: FilesystemAssetStore, copy_client: CopyClient
) -> None:
    stage, fake = handler(store, copy_client)
    event = events_pb2.ContentProfileUpdated(profile=profile(store))
    await stage(event)
    creatives = fake.creatives()
    slots = sum(len(t.sizes) for t in load_catalogue().values())
    assert len(creatives) == slots * SETTINGS.copies_per_product
    assert len({c.creative_id for c in creatives}) == len(creatives)
    assert {topic for topic, _, _ in fake.sent} == {CREATIVES.name}
    assert all(key == c.creative_id for (_, key, _), c in zip(fake.sent, creatives, strict=True))
    assert {c.template_id for c in creatives} == set(load_catalogue())
    assert len({c.copy_id for c in creatives}) == SETTINGS.copies_per_product
    for creative in creatives:
        assert creative.format == common_pb2.CREATIVE_FORMAT_IMAGE
        assert creative.product_id == "p1" and creative.product_version == 3
        size = creative.attributes["size"]
        assert creative.creative_id == image_creative_id(
            "p1", 3, creative.template_id, creative.copy_id, size
        )
        assert creative.headline and len(creative.headline) <= SETTINGS.copy_max_length
        image = Image.open(io.BytesIO(store.get(creative.asset_uri)))
        assert image.size == (creative.width, creative.height) == SIZES[size]
        assert creative.attributes["template"] == creative.template_id
        assert creative.attributes["layout"] and creative.attributes["background"].startswith("#")
        assert creative.attributes["copy_generator"] == "template"
        assert creative.attributes["copy_id"] == creative.copy_id
        for key in ("background_kind", "text_color", "layout_region", "aspect", "accent"):
            assert creative.attributes[key], key
    await stage(event)  # replay: same ids, same assets
    replayed = fake.creatives()[len(creatives) :]
    assert [(c.creative_id, c.asset_uri) for c in replayed] == [
        (c.creative_id, c.asset_uri) for c in creatives
    ]


async def test_stream_skips_profiles_it_cannot_use(
    store: FilesystemAssetStore, copy_client: CopyClient
) -> None:
    stage, fake = handler(store, copy_client)
    await stage(events_pb2.ContentProfileUpdated(profile=profile(store, images=[])))
    refused = profile(store, admission=common_pb2.Admission(admitted=False, reason_codes=["X"]))
    await stage(events_pb2.ContentProfileUpdated(profile=refused))
    assert fake.sent == []
    await stage(events_pb2.ContentProfileUpdated(profile=profile(store, product_version=9)))
    published = len(fake.sent)
    await stage(events_pb2.ContentProfileUpdated(profile=profile(store, product_version=8)))
    assert len(fake.sent) == published, "an older version must not publish"


@pytest.mark.parametrize(
    ("image", "uri", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n-corrupt-", None, "undecodable product image"),
        (None, "file:///nowhere/x.png", "outside the asset store"),
        (None, "", "has no uri"),
    ],
)
async def test_stream_rejects_unusable_images_for_the_dlq(
    store: FilesystemAssetStore, copy_client: CopyClient, image: bytes | None, uri: str | None, reason: str
) -> None:
    stage, fake = handler(store, copy_client)
    source = profile(store, image)
    if uri is not None:
        source.images[0].uri = uri
    with pytest.raises(InvalidEvent) as error:
        await stage(events_pb2.ContentProfileUpdated(profile=source))
    assert reason in error.value.reason
    assert fake.sent == []


async def test_copygen_rejection_is_invalid_but_copygen_outage_is_retryable(
    store: FilesystemAssetStore, copy_client: CopyClient
) -> None:
    stage, _ = handler(store, copy_client)
    with pytest.raises(InvalidEvent, match="copygen rejected the profile: empty profile"):
        await stage(events_pb2.ContentProfileUpdated(profile=profile(store, title=" ")))
    down = CopyClient(f"127.0.0.1:{free_port()}", timeout_s=0.3)
    try:
        stage, _ = handler(store, down)
        with pytest.raises(CopygenUnavailable, match=r"DEADLINE_EXCEEDED|UNAVAILABLE") as error:
            await stage(events_pb2.ContentProfileUpdated(profile=profile(store)))
        assert not isinstance(error.value, InvalidEvent)
    finally:
        await down.close()


async def test_stream_uses_the_best_admitted_image_and_its_mask(
    store: FilesystemAssetStore, copy_client: CopyClient
) -> None:
    picture = np.full((320, 480, 3), 235, np.uint8)
    picture[40:300, 30:200] = (10, 200, 30)
    mask = np.zeros((320, 480), np.uint8)
    mask[40:300, 30:200] = 255
    good_uri, good_sha = store.put(encode(picture), "image/png")
    mask_uri, mask_sha = store.put(encode(mask), "image/png")
    source = profile(store)  # images[0]: a plain green picture, refused by its analysis
    source.images.append(common_pb2.Media(uri=good_uri, sha256=good_sha, mime_type="image/png"))
    source.image_analyses.extend(
        [
            common_pb2.ImageAnalysis(image_index=0, admission=common_pb2.Admission(admitted=False)),
            common_pb2.ImageAnalysis(
                image_index=1,
                aesthetic_score=70,
                product_box=common_pb2.Box(x=30 / 480, y=40 / 320, width=170 / 480, height=260 / 320),
                product_mask=common_pb2.Media(uri=mask_uri, sha256=mask_sha, mime_type="image/png"),
                product_confidence=0.9,
                admission=common_pb2.Admission(admitted=True),
            ),
        ]
    )
    assert choose_image(source)[0] == 1
    settings = SETTINGS.model_copy(update={"stream_sizes": ["1:1"], "copies_per_product": 1})
    fake = FakeProducer()
    stage = ProfileHandler(settings, cast(EventProducer, fake), store, RENDERER, copy_client)
    await stage(events_pb2.ContentProfileUpdated(profile=source))
    creatives = fake.creatives()
    assert len(creatives) == len(load_catalogue())
    assert {c.attributes["product_placement"] for c in creatives} == {"cutout"}
    assert {c.attributes["size"] for c in creatives} == {"1:1"}
    source.image_analyses[1].product_confidence = 0.1  # a weak mask: the whole picture instead
    fake.sent.clear()
    await stage(events_pb2.ContentProfileUpdated(profile=source))
    assert {c.attributes["product_placement"] for c in fake.creatives()} == {"picture"}
    source.image_analyses[1].product_mask.uri = (store.root / "ab" / "gone.png").as_uri()
    with pytest.raises(InvalidEvent, match="product_mask"):
        await stage(events_pb2.ContentProfileUpdated(profile=source))
