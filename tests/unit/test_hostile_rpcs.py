"""gRPC fuzzing: random bytes and random, hostile requests to each RPC on a loopback server.

The servers run as in production (`MetricsInterceptor` included) on a loopback port in a thread
of their own; a plain client sends hypothesis-generated requests: garbled bytes, and requests
with random ids (NUL bytes, 600 KB), unknown enum values, inf/NaN boxes and confidences,
negative prices, empty, tiny (9x9) and undecodable images, URIs that are directories, contain NUL
bytes or point outside the store. Every answer must be OK, INVALID_ARGUMENT or NOT_FOUND (never
UNKNOWN or INTERNAL: a bug; RESOURCE_EXHAUSTED is gRPC's own answer to a message over the size
limit), and the server must still answer a valid request afterwards.
`STATUS_COUNTS` keeps the codes per RPC (printed at the end; docs/operations.md quotes them).
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from creativeloop.copygen.service import CopygenServicer
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.imagegen.service import ImagegenServicer, build_renderer
from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.metrics import MetricsInterceptor
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import build_policy
from creativeloop.ranking.service import RankingServicer
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.v1 import (
    common_pb2,
    copygen_pb2,
    copygen_pb2_grpc,
    events_pb2,
    imagegen_pb2,
    imagegen_pb2_grpc,
    ranking_pb2,
    ranking_pb2_grpc,
)

#: RESOURCE_EXHAUSTED is gRPC's own answer to a request over the server's message size limit.
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
STATUS_COUNTS: dict[str, Counter[str]] = {}


class Loopback:
    """A grpc.aio server with the production interceptor, on its own event loop in a thread."""

    def __init__(self, register: Callable[[grpc.aio.Server], None]) -> None:
        self._register = register
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    def __enter__(self) -> Loopback:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> int:
        self._server = grpc.aio.server(interceptors=[MetricsInterceptor()])
        self._register(self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return port

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


def call(channel: grpc.Channel, method: str, request: bytes) -> grpc.StatusCode:
    """Send raw request bytes to `method`; the status code that came back."""
    stub: Any = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        stub(request, timeout=60)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), colour, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- strategies -------------------------------------------------------------------------------------

floats = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 0.5, 1.0, 2.0, 1e30]),
    st.floats(width=32, allow_nan=True, allow_infinity=True),
)
ids = st.one_of(
    st.sampled_from(["", "p1", "c1", "x\x00y", "p" * 300, "u" * 600_000, "../../etc/passwd", "é"]),
    st.text(max_size=20),
)
texts = st.one_of(
    st.sampled_from(["", "Knit top", "a\x00b", "x" * 5000, "针织上衣 半价"]), st.text(max_size=40)
)
enums = st.one_of(st.integers(-3, 5), st.sampled_from([77, 2**31 - 1, -(2**31)]))
ints = st.one_of(st.integers(-5, 5000), st.sampled_from([0, -1, 2**31 - 1, -(2**31), 100_000]))


def media(asset_dir: Path) -> st.SearchStrategy[common_pb2.Media]:
    inside = asset_dir.as_uri()
    uris = st.sampled_from(
        ["", inside, inside + "/", inside + "/missing.png", inside + "/a\x00b.png", "file:///etc/passwd",
         "s3://bucket/x", "http://example.com/x.png", "file://" + "/x" * 3000, "\x00"]
    )  # fmt: skip
    contents = st.one_of(
        st.sampled_from([b"", png(9, 9), png(1, 1), png(64, 48), png(240, 320), b"GIF89a", b"\x89PNG\r\n"]),
        st.binary(max_size=64),
    )
    return st.builds(common_pb2.Media, uri=uris, content=contents)


def boxes() -> st.SearchStrategy[common_pb2.Box]:
    return st.builds(common_pb2.Box, x=floats, y=floats, width=floats, height=floats)


def prices() -> st.SearchStrategy[common_pb2.Price]:
    return st.builds(
        common_pb2.Price,
        currency=st.sampled_from(["", "EUR", "USD", "CNY", "XXXXXXXXXXXX", "\x00"]),
        amount_micros=st.one_of(st.integers(-(10**12), 10**12), st.sampled_from([-(2**63), 2**63 - 1])),
    )


def garbled(seed: Message) -> st.SearchStrategy[bytes]:
    raw = seed.SerializeToString()

    def mutate(edits: list[tuple[int, int]]) -> bytes:
        data = bytearray(raw)
        for position, byte in edits:
            data[position % len(data)] = byte
        return bytes(data)

    return st.one_of(
        st.binary(max_size=256),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6).map(mutate),
    )


def fuzz(
    name: str, port: int, method: str, requests: st.SearchStrategy[Message], seed: Message, valid: Message
) -> Counter[str]:
    """Send random requests and garbled bytes; assert only allowed codes and a live server after."""
    counts: Counter[str] = Counter()
    with grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:

        @FUZZ
        @given(request=requests)
        def structured(request: Message) -> None:
            code = call(channel, method, request.SerializeToString())
            counts[code.name] += 1
            assert code in ALLOWED, (code, request)

        @FUZZ
        @given(data=garbled(seed))
        def raw(data: bytes) -> None:
            code = call(channel, method, data)
            counts[code.name] += 1
            assert code in ALLOWED, (code, data)

        structured()
        raw()
        assert call(channel, method, valid.SerializeToString()) is grpc.StatusCode.OK
    STATUS_COUNTS[name] = counts
    print(f"\nfuzz {name}: {sum(counts.values())} requests, {dict(sorted(counts.items()))}")
    return counts


# -- per RPC ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("assets")
    (root / "sub").mkdir()
    return root


def test_rank(asset_dir: Path) -> None:
    settings_ = RankingSettings(policy="thompson", seed=0)
    catalogue, stats = CreativeCatalogue(), StatsBoard()
    for n in range(3):
        creative = common_pb2.Creative(
            creative_id=f"c{n}", product_id="p1", format=common_pb2.CREATIVE_FORMAT_IMAGE
        )
        catalogue.apply(f"c{n}", events_pb2.CreativeUpdated(creative=creative))
    servicer = RankingServicer(settings_, catalogue, build_policy(settings_, stats))

    def register(server: grpc.aio.Server) -> None:
        ranking_pb2_grpc.add_RankingServiceServicer_to_server(servicer, server)

    requests = st.builds(
        ranking_pb2.RankRequest,
        user_id=ids,
        product_id=st.one_of(st.just("p1"), ids),
        candidate_creative_ids=st.lists(st.one_of(st.sampled_from(["c0", "c1", "c2"]), ids), max_size=4),
        format=enums,
        context=st.dictionaries(texts, texts, max_size=4),
        slots=st.one_of(st.integers(-3, 5), st.sampled_from([-(2**31), 2**31 - 1])),
    )
    valid = ranking_pb2.RankRequest(user_id="u1", product_id="p1")
    with Loopback(register) as server:
        counts = fuzz("Rank", server.port, "/creativeloop.v1.RankingService/Rank", requests, valid, valid)
    assert counts["OK"] > 0 and counts["INVALID_ARGUMENT"] > 0


def test_generate_copy() -> None:
    servicer = CopygenServicer(CopygenSettings())

    def register(server: grpc.aio.Server) -> None:
        copygen_pb2_grpc.add_CopyGenerationServiceServicer_to_server(servicer, server)

    tags = st.lists(st.builds(common_pb2.Tag, text=texts, confidence=floats, source=enums), max_size=4)
    profiles = st.builds(
        common_pb2.ContentProfile,
        product_id=ids,
        product_version=ints,
        title=texts,
        category=texts,
        price=prices(),
        tags=tags,
        selling_points=st.lists(texts, max_size=3),
        language=st.sampled_from(["", "en", "zh", "xx", "\x00"]),
    )
    requests = st.builds(
        copygen_pb2.GenerateCopyRequest,
        profile=profiles,
        max_candidates=ints,
        max_length=ints,
        language=enums,
        slot=st.sampled_from(["", "headline", "subline", "badge", "nope", "\x00"]),
        templates_only=st.booleans(),
    )
    valid = copygen_pb2.GenerateCopyRequest(
        profile=common_pb2.ContentProfile(product_id="p1", title="Knit top", category="tops"),
        max_candidates=3,
    )
    with Loopback(register) as server:
        counts = fuzz(
            "GenerateCopy",
            server.port,
            "/creativeloop.v1.CopyGenerationService/GenerateCopy",
            requests,
            valid,
            valid,
        )
    assert counts["OK"] > 0 and counts["INVALID_ARGUMENT"] > 0


def test_render_creative(asset_dir: Path) -> None:
    imagegen_settings = ImagegenSettings(max_image_bytes=256 * 1024)
    store = FilesystemAssetStore(asset_dir)
    servicer = ImagegenServicer(imagegen_settings, build_renderer(imagegen_settings), store)

    def register(server: grpc.aio.Server) -> None:
        imagegen_pb2_grpc.add_ImageGenerationServiceServicer_to_server(servicer, server)

    requests = st.builds(
        imagegen_pb2.RenderCreativeRequest,
        product_id=ids,
        product_image=media(asset_dir),
        headline=texts,
        price=prices(),
        template_id=st.sampled_from(["", "nope", "\x00"]),
        width=st.one_of(st.just(0), ints),
        height=st.one_of(st.just(0), ints),
        encoding=enums,
        size=st.sampled_from(["", "1:1", "9:16", "huge", "\x00"]),
        subline=texts,
        badge_text=texts,
        product_mask=media(asset_dir),
        product_confidence=floats,
        product_box=boxes(),
    )
    valid = imagegen_pb2.RenderCreativeRequest(
        product_id="p1", product_image=common_pb2.Media(content=png(240, 320)), headline="Knit top"
    )
    with Loopback(register) as server:
        counts = fuzz(
            "RenderCreative",
            server.port,
            "/creativeloop.v1.ImageGenerationService/RenderCreative",
            requests,
            valid,
            valid,
        )
    assert counts["OK"] > 0 and counts["INVALID_ARGUMENT"] > 0


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    for name, counts in STATUS_COUNTS.items():
        print(f"fuzz {name}: {sum(counts.values())} requests, {dict(sorted(counts.items()))}")


@pytest.mark.parametrize(
    "change",
    [
        {"product_box": common_pb2.Box(x=math.nan, y=0.1, width=0.5, height=0.5)},
        {"product_box": common_pb2.Box(x=0.1, y=0.1, width=math.inf, height=0.5)},
        {"product_box": common_pb2.Box(x=-1e30, y=0.1, width=1e30, height=0.5)},
        {"product_confidence": math.nan},
        {"product_image": common_pb2.Media(content=png(9, 9))},
        {"product_image": common_pb2.Media(content=png(1, 400))},
        {"product_image": common_pb2.Media(uri="DIR")},
        {"product_image": common_pb2.Media(uri="DIR/a\x00b.png")},
        {"product_mask": common_pb2.Media(content=png(9, 9))},
        {"product_mask": common_pb2.Media(uri="DIR")},
        {"price": common_pb2.Price(currency="EUR", amount_micros=-5)},
        {"price": common_pb2.Price(currency="EUR", amount_micros=2**63 - 1)},
        {"headline": "a\x00b"},
        {"product_id": "p" * 600_000},
    ],
)
def test_render_creative_hostile_fields(asset_dir: Path, change: dict[str, Any]) -> None:
    """The cases that came back UNKNOWN before: each is OK or INVALID_ARGUMENT now."""
    imagegen_settings = ImagegenSettings(max_image_bytes=256 * 1024)
    servicer = ImagegenServicer(
        imagegen_settings, build_renderer(imagegen_settings), FilesystemAssetStore(asset_dir)
    )

    def register(server: grpc.aio.Server) -> None:
        imagegen_pb2_grpc.add_ImageGenerationServiceServicer_to_server(servicer, server)

    for media_field in ("product_image", "product_mask"):
        if media_field in change and change[media_field].uri.startswith("DIR"):
            uri = change[media_field].uri.replace("DIR", (asset_dir / "sub").as_uri())
            change = {**change, media_field: common_pb2.Media(uri=uri)}
    request = imagegen_pb2.RenderCreativeRequest(
        product_id="p1", product_image=common_pb2.Media(content=png(240, 320)), headline="Knit top"
    )
    for field, value in change.items():
        if isinstance(value, Message):
            getattr(request, field).CopyFrom(value)
        else:
            setattr(request, field, value)
    with Loopback(register) as server, grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        code = call(
            channel, "/creativeloop.v1.ImageGenerationService/RenderCreative", request.SerializeToString()
        )
    assert code in {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}, code


@pytest.fixture(scope="module")
def understanding(asset_dir: Path) -> Iterator[Loopback]:
    from creativeloop.kit.models.embedded import EmbeddedModelClient
    from creativeloop.kit.settings import CommonSettings
    from creativeloop.understanding.profile import ProfileBuilder
    from creativeloop.understanding.service import ProfileRunner, UnderstandingServicer
    from creativeloop.understanding.settings import UnderstandingSettings
    from creativeloop.v1 import understanding_pb2_grpc

    repository = Path(__file__).resolve().parents[2] / "deploy" / "model-repository"
    settings_ = UnderstandingSettings(common=CommonSettings(asset_dir=asset_dir))
    runner = ProfileRunner(ProfileBuilder(settings_, EmbeddedModelClient(repository), repository), workers=1)

    def register(server: grpc.aio.Server) -> None:
        understanding_pb2_grpc.add_UnderstandingServiceServicer_to_server(
            UnderstandingServicer(runner), server
        )

    with Loopback(register) as server:
        yield server
    runner.close()


UNDERSTAND = "/creativeloop.v1.UnderstandingService/Understand"


def understand_request(**product: Any) -> Message:
    from creativeloop.v1 import understanding_pb2

    base: dict[str, Any] = {"product_id": "p1", "version": 1, "title": "Knit top", "category": "tops"}
    base.update(product)
    return understanding_pb2.UnderstandRequest(product=common_pb2.Product(**base))


@pytest.mark.parametrize(
    "product",
    [
        {"images": [common_pb2.Media(content=png(9, 9))]},
        {"images": [common_pb2.Media(content=png(8, 300))]},
        {"images": [common_pb2.Media(content=png(2000, 9))]},
        {"images": [common_pb2.Media(uri="DIR")]},
        {"images": [common_pb2.Media(uri="DIR/a\x00b.png")]},
        {"images": [common_pb2.Media(uri="file:///etc/passwd")]},
        {"images": [common_pb2.Media(content=b"GIF89a")]},
        {"price": common_pb2.Price(currency="EUR", amount_micros=-1)},
        {"product_id": "p" * 600_000},
        {"title": "a\x00b"},
        {"attributes": {f"k{n}": "v" for n in range(500)}},
    ],
)
def test_understand_hostile_fields(understanding: Loopback, asset_dir: Path, product: dict[str, Any]) -> None:
    """The cases that came back UNKNOWN before: each is OK or INVALID_ARGUMENT now."""
    images = product.get("images", [])
    if images and images[0].uri.startswith("DIR"):
        product = {
            **product,
            "images": [common_pb2.Media(uri=images[0].uri.replace("DIR", (asset_dir / "sub").as_uri()))],
        }
    with grpc.insecure_channel(f"127.0.0.1:{understanding.port}") as channel:
        code = call(channel, UNDERSTAND, understand_request(**product).SerializeToString())
        assert code in {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}, code
        assert call(channel, UNDERSTAND, understand_request().SerializeToString()) is grpc.StatusCode.OK


def test_understand_fuzz(understanding: Loopback, asset_dir: Path) -> None:
    from creativeloop.v1 import understanding_pb2

    products = st.builds(
        common_pb2.Product,
        product_id=ids,
        version=ints,
        title=texts,
        category=texts,
        price=prices(),
        images=st.lists(media(asset_dir), max_size=2),
        attributes=st.dictionaries(texts, texts, max_size=3),
        language=st.sampled_from(["", "en", "zh", "xx"]),
    )
    requests = st.builds(understanding_pb2.UnderstandRequest, product=products)
    valid = understand_request(images=[common_pb2.Media(content=png(240, 320))])
    counts = fuzz("Understand", understanding.port, UNDERSTAND, requests, valid, valid)
    assert counts["INVALID_ARGUMENT"] > 0


@pytest.fixture(scope="module")
def videogen(asset_dir: Path) -> Iterator[Loopback]:
    from creativeloop.v1 import videogen_pb2_grpc
    from creativeloop.videogen.pipeline import VideoPipeline
    from creativeloop.videogen.service import VideogenServicer
    from creativeloop.videogen.settings import VideogenSettings

    settings_ = VideogenSettings(x264_preset="ultrafast", output_long_side=160, max_image_pixels=1_000_000)
    servicer = VideogenServicer(settings_, VideoPipeline(settings_), FilesystemAssetStore(asset_dir))

    def register(server: grpc.aio.Server) -> None:
        videogen_pb2_grpc.add_VideoGenerationServiceServicer_to_server(servicer, server)

    with Loopback(register) as server:
        yield server


ANIMATE = "/creativeloop.v1.VideoGenerationService/AnimateImages"


@pytest.mark.parametrize(
    "change",
    [
        {"product_boxes": [common_pb2.Box(x=math.nan, y=0.1, width=0.5, height=0.5)]},
        {"product_boxes": [common_pb2.Box(x=0.1, y=0.1, width=math.inf, height=0.5)]},
        {"duration_seconds": math.inf},
        {"duration_seconds": -3.0},
        {"overlay_logo": png(1500, 1000)},  # over max_image_pixels
        {"overlay_logo": b"GIF89a-not-a-logo"},
        {"overlay_price": common_pb2.Price(currency="EUR", amount_micros=-1)},
        {"images": [common_pb2.Media(content=png(9, 9))]},
        {"images": [common_pb2.Media(uri="DIR")]},
        {"images": [common_pb2.Media(uri="DIR/a\x00b.png")]},
        {"product_id": "p" * 600_000},
    ],
)
def test_animate_images_hostile_fields(videogen: Loopback, asset_dir: Path, change: dict[str, Any]) -> None:
    """The cases that came back UNKNOWN before: each is OK or INVALID_ARGUMENT now."""
    from creativeloop.v1 import videogen_pb2

    def request(**fields: Any) -> bytes:
        message = videogen_pb2.AnimateImagesRequest(
            product_id="p1", images=[common_pb2.Media(content=png(120, 160))], duration_seconds=1.0
        )
        for field, value in fields.items():
            if field == "overlay_logo":
                message.overlay.logo.content = value
            elif field == "overlay_price":
                message.overlay.price.CopyFrom(value)
            elif field in ("images", "product_boxes"):
                del getattr(message, field)[:]
                for item in value:
                    if isinstance(item, common_pb2.Media) and item.uri.startswith("DIR"):
                        item = common_pb2.Media(uri=item.uri.replace("DIR", (asset_dir / "sub").as_uri()))
                    getattr(message, field).append(item)
            else:
                setattr(message, field, value)
        return message.SerializeToString()

    with grpc.insecure_channel(f"127.0.0.1:{videogen.port}") as channel:
        code = call(channel, ANIMATE, request(**change))
        assert code in {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}, code
        assert call(channel, ANIMATE, request()) is grpc.StatusCode.OK


def test_videogen_fuzz(videogen: Loopback, asset_dir: Path) -> None:
    from creativeloop.datasets.synthetic_video import ShotSpec, make_video, to_mp4
    from creativeloop.v1 import videogen_pb2

    clip = to_mp4(make_video([ShotSpec(1.0, seed=1)], [], size=(96, 64)))
    overlays = st.builds(videogen_pb2.VideoOverlay, headline=texts, price=prices(), logo=media(asset_dir))
    durations = st.one_of(floats.map(float), st.sampled_from([0.0, 1.0, 3.0]))
    sizes = st.one_of(st.just(0), st.sampled_from([-1, 1, 17, 99_999]))
    aspects = st.sampled_from(["", "1:1", "9:16", "16:9", "0:0", "x", "\x00"])
    animate = st.builds(
        videogen_pb2.AnimateImagesRequest,
        product_id=ids,
        images=st.lists(
            st.one_of(media(asset_dir), st.just(common_pb2.Media(content=png(120, 160)))), max_size=2
        ),
        duration_seconds=durations,
        width=sizes,
        height=sizes,
        aspect_ratio=aspects,
        overlay=overlays,
        product_boxes=st.lists(boxes(), max_size=2),
    )
    videos = st.one_of(
        media(asset_dir),
        st.just(common_pb2.Media(content=clip)),
        st.binary(max_size=64).map(lambda tail: common_pb2.Media(content=clip[:200] + tail)),
    )
    summarize = st.builds(
        videogen_pb2.SummarizeVideoRequest,
        product_id=ids,
        video=videos,
        duration_budget_seconds=durations,
        width=sizes,
        height=sizes,
        aspect_ratio=aspects,
        product_image=media(asset_dir),
        overlay=overlays,
        drop_audio=st.booleans(),
    )
    valid_animate = videogen_pb2.AnimateImagesRequest(
        product_id="p1", images=[common_pb2.Media(content=png(120, 160))], duration_seconds=1.0
    )
    valid_summary = videogen_pb2.SummarizeVideoRequest(
        product_id="p1", video=common_pb2.Media(content=clip), duration_budget_seconds=1.0
    )
    prefix = "/creativeloop.v1.VideoGenerationService/"
    counts = fuzz(
        "AnimateImages", videogen.port, prefix + "AnimateImages", animate, valid_animate, valid_animate
    )
    assert counts["INVALID_ARGUMENT"] > 0
    counts = fuzz(
        "SummarizeVideo", videogen.port, prefix + "SummarizeVideo", summarize, valid_summary, valid_summary
    )
    assert counts["INVALID_ARGUMENT"] > 0


def test_rank_shared_with_typed_features() -> None:
    """The `shared` policy reads typed request features: hostile ones are refused or served."""
    settings_ = RankingSettings(policy="shared", seed=0)
    catalogue, stats, features = CreativeCatalogue(), StatsBoard(), FeatureStore()
    for n in range(3):
        creative = common_pb2.Creative(
            creative_id=f"c{n}",
            product_id="p1",
            format=common_pb2.CREATIVE_FORMAT_IMAGE,
            elements={"template": f"t{n}"},
            numeric_attributes={"text_ratio": 0.1 * n},
        )
        event = events_pb2.CreativeUpdated(creative=creative)
        catalogue.apply(f"c{n}", event)
        features.apply_creative(f"c{n}", event)
    servicer = RankingServicer(settings_, catalogue, build_policy(settings_, stats, features))

    def register(server: grpc.aio.Server) -> None:
        ranking_pb2_grpc.add_RankingServiceServicer_to_server(servicer, server)

    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1e308, -1e308, float("nan")])
    )
    requests = st.builds(
        ranking_pb2.RankRequest,
        user_id=ids,
        product_id=st.one_of(st.just("p1"), ids),
        context=st.dictionaries(texts, texts, max_size=4),
        features=st.builds(
            common_pb2.RequestFeatures,
            categorical=st.dictionaries(texts, texts, max_size=4),
            numeric=st.dictionaries(texts, numbers, max_size=4),
        ),
        slots=st.integers(-2, 4),
    )
    valid = ranking_pb2.RankRequest(
        user_id="u1",
        product_id="p1",
        features=common_pb2.RequestFeatures(categorical={"device": "mobile"}, numeric={"age": 30.0}),
    )
    with Loopback(register) as server:
        counts = fuzz(
            "Rank (shared)", server.port, "/creativeloop.v1.RankingService/Rank", requests, valid, valid
        )
    assert counts["OK"] > 0 and counts["INVALID_ARGUMENT"] > 0
