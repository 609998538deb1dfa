"""The whole loop through the real broker and real gRPC servers.

product.changes -> understanding -> content.profiles -> copygen + imagegen -> creatives ->
Rank -> ad.impressions / ad.clicks -> bandit -> bandit.stats -> Rank uses the new statistics.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from urllib.parse import urlparse

import grpc
import pytest
from PIL import Image

from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import (
    AD_CLICKS,
    AD_IMPRESSIONS,
    BANDIT_STATS,
    CONTENT_PROFILES,
    CREATIVES,
    PRODUCT_CHANGES,
)
from creativeloop.stack.local import LocalStack
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc
from tests.integration.helpers import TopicRecorder, product_png, wait_until

pytestmark = pytest.mark.integration

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE
COLOURS = [(200, 30, 40), (30, 90, 200), (20, 140, 60)]


def make_product(store: FilesystemAssetStore, index: int, run: str) -> common_pb2.Product:
    uri, digest = store.put(product_png(COLOURS[index % len(COLOURS)]), "image/png")
    return common_pb2.Product(
        product_id=f"e2e-{run}-{index}",
        version=1,
        title=["Flowy Linen Summer Dress", "Soft Cotton Knit Sweater", "Slim Stretch Denim Jeans"][index % 3],
        category="Dresses / Dresses",
        price=common_pb2.Price(currency="USD", amount_micros=59_990_000),
        images=[common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
        language="en",
    )


async def test_product_to_creatives_to_rank_to_bandit_and_back(stack: LocalStack) -> None:
    settings = CommonSettings(bootstrap_servers=stack.bootstrap_servers)
    store = FilesystemAssetStore(stack.asset_dir)
    run = uuid.uuid4().hex[:6]
    products = [make_product(store, i, run) for i in range(3)]
    ids = {p.product_id for p in products}

    async with (
        EventProducer(settings, "e2e-test") as producer,
        TopicRecorder(stack.bootstrap_servers, CONTENT_PROFILES) as profiles,
        TopicRecorder(stack.bootstrap_servers, CREATIVES) as creatives,
        TopicRecorder(stack.bootstrap_servers, BANDIT_STATS) as stats,
        grpc.aio.insecure_channel(stack.running["ranking"].target) as channel,
    ):
        await producer.send_batch(
            PRODUCT_CHANGES,
            [
                (p.product_id, events_pb2.ProductChanged(product=p, changed_at=now_timestamp()))
                for p in products
            ],
        )

        def profiled() -> set[str]:
            return {e.profile.product_id for e in profiles.events()} & ids

        await wait_until(lambda: profiled() == ids, 60, "a content profile for every product")
        profile = next(e.profile for e in profiles.events() if e.profile.product_id == products[0].product_id)
        assert {"flowy", "linen"} <= {t.text for t in profile.tags}
        analysis = profile.image_analyses[0]  # the image models ran (embedded backend)
        assert analysis.sha256 == products[0].images[0].sha256 and analysis.product_mask.uri
        assert analysis.scene != common_pb2.SCENE_CLASS_UNSPECIFIED and 0 < analysis.product_box.width < 1

        def image_creatives(pid: str) -> list[common_pb2.Creative]:
            return [
                e.creative
                for e in creatives.events()
                if e.creative.product_id == pid and e.creative.format == IMAGE
            ]

        await wait_until(
            lambda: all(len({c.creative_id for c in image_creatives(pid)}) >= 2 for pid in ids),
            90,
            "at least two image creatives per product",
        )
        first = image_creatives(products[0].product_id)[0]
        rendered = Image.open(io.BytesIO(Path(urlparse(first.asset_uri).path).read_bytes()))
        assert rendered.size == (first.width, first.height)
        assert first.headline and first.template_id

        # Rank chooses among the product's image creatives and reports a propensity.
        rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
        target = products[0].product_id
        pool = {c.creative_id for c in image_creatives(target)}

        async def ranked() -> ranking_pb2.RankResponse:
            reply: ranking_pb2.RankResponse = await rank(
                ranking_pb2.RankRequest(user_id="u1", product_id=target, format=IMAGE)
            )
            return reply

        response = None
        for _ in range(100):  # ranking follows `creatives` asynchronously
            try:
                response = await ranked()
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                await asyncio.sleep(0.1)
        assert response is not None, "ranking never learned the product's creatives"
        assert response.creative.creative_id in pool
        assert 0 < response.propensity <= 1 and response.impression_id and response.policy_version
        assert response.candidates == len({c.creative_id for c in image_creatives(target)})

        # Traffic: the favourite creative is clicked every time, the others never.
        favourite = sorted(pool)[0]
        events = []
        shown_at = now_timestamp()  # one event time, so time decay leaves the counts exact
        total = 15 * len(pool)  # every creative shown 15 times (a product has templates x sizes x copies)
        for n in range(total):
            creative_id = sorted(pool)[n % len(pool)]
            impression = events_pb2.Impression(
                impression_id=f"{run}-imp-{n}",
                user_id=f"u{n}",
                product_id=target,
                creative_id=creative_id,
                propensity=1 / len(pool),
                policy_version="test",
                shown_at=shown_at,
            )
            events.append(impression)
        await producer.send_batch(AD_IMPRESSIONS, [(e.impression_id, e) for e in events])
        clicks = [e for e in events if e.creative_id == favourite]
        await producer.send_batch(
            AD_CLICKS,
            [
                (
                    e.impression_id,
                    events_pb2.Click(
                        impression_id=e.impression_id,
                        user_id=e.user_id,
                        creative_id=e.creative_id,
                        clicked_at=now_timestamp(),
                    ),
                )
                for e in clicks
            ],
        )

        def latest(cid: str) -> events_pb2.BanditStats | None:
            found = [e for e in stats.events() if e.creative_id == cid]
            return found[-1] if found else None

        shows = 15
        await wait_until(
            lambda: (
                (s := latest(favourite)) is not None and s.clicks == len(clicks) and s.impressions == shows
            ),
            60,
            f"bandit.stats for {favourite} to reach {len(clicks)} clicks / {shows} impressions",
        )

        # Ranking applies bandit.stats live: the favourite now wins nearly always.
        for _ in range(100):
            response = await ranked()
            if response.creative.creative_id == favourite and response.propensity > 0.95:
                break
            await asyncio.sleep(0.1)
        assert response.creative.creative_id == favourite and response.propensity > 0.95, response


async def test_rank_rejects_unknown_product_and_keeps_serving(stack: LocalStack) -> None:
    async with grpc.aio.insecure_channel(stack.running["ranking"].target) as channel:
        rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await rank(ranking_pb2.RankRequest(user_id="u", product_id="no-such-product"))
        assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "no-such-product" in (unknown.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await rank(ranking_pb2.RankRequest(user_id="u"))
        assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert stack.running["ranking"].process is not None
        assert stack.running["ranking"].process.poll() is None


async def test_a_corrupt_product_image_is_dead_lettered_and_understanding_goes_on(stack: LocalStack) -> None:
    settings = CommonSettings(bootstrap_servers=stack.bootstrap_servers)
    run = uuid.uuid4().hex[:6]
    broken = common_pb2.Product(
        product_id=f"broken-{run}",
        version=1,
        title="Linen Shirt",
        images=[common_pb2.Media(content=b"\x89PNG\r\n\x1a\n truncated")],
    )
    good = make_product(FilesystemAssetStore(stack.asset_dir), 1, run)
    async with (
        EventProducer(settings, "e2e-test") as producer,
        TopicRecorder(stack.bootstrap_servers, CONTENT_PROFILES) as profiles,
        TopicRecorder(stack.bootstrap_servers, PRODUCT_CHANGES.dlq) as letters,
    ):
        for product in (broken, good):
            await producer.send(
                PRODUCT_CHANGES,
                product.product_id,
                events_pb2.ProductChanged(product=product, changed_at=now_timestamp()),
            )
        await wait_until(
            lambda: any(e.profile.product_id == good.product_id for e in profiles.events()),
            60,
            "the good product",
        )
        await wait_until(lambda: bool(letters.events()), 30, "a dead letter for the broken product")
        letter = letters.events()[-1]
        assert "images[0]: not a readable image" in letter.reason
        assert not any(e.profile.product_id == broken.product_id for e in profiles.events())
