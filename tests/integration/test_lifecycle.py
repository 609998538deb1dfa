"""The creative lifecycle through the real broker and the real services (the local stack).

Three products go through product.changes -> understanding -> generators -> creatives ->
ranking, then each takes one lifecycle path:

- price change: version 2 retires version 1's creatives once its own are out; Rank never
  serves a version 1 creative after that;
- deletion (a tombstone on product.changes): every creative is retired, the profile is
  tombstoned on content.profiles, Rank fails with FAILED_PRECONDITION;
- admission loss (version 2's title breaks the ad law): the creatives are paused, Rank fails
  with FAILED_PRECONDITION.

And people's controls (SetControl on ranking): pinned and rejected survive a ranking restart.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest

from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.lifecycle import LIVE, PAUSED, RETIRED, creative_state
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES, CREATIVE_CONTROLS, CREATIVES, PRODUCT_CHANGES
from creativeloop.stack.local import LocalStack
from creativeloop.v1 import (
    common_pb2,
    control_pb2,
    control_pb2_grpc,
    events_pb2,
    ranking_pb2,
    ranking_pb2_grpc,
)
from tests.integration.helpers import TopicRecorder, product_png, wait_until

pytestmark = pytest.mark.integration

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE
TIMEOUT_S = 180.0  # a bound on each wait (three products, every generator), not a speed test
PIN, REJECT = events_pb2.CONTROL_ACTION_PIN, events_pb2.CONTROL_ACTION_REJECT


def make_product(
    store: FilesystemAssetStore, product_id: str, colour: tuple[int, int, int], **changes: Any
) -> common_pb2.Product:
    uri, digest = store.put(product_png(colour), "image/png")
    product = common_pb2.Product(
        product_id=product_id,
        version=1,
        title="Flowy Linen Summer Dress",
        category="Dresses / Dresses",
        price=common_pb2.Price(currency="USD", amount_micros=59_990_000),
        images=[common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
        language="en",
    )
    for name, value in changes.items():
        if name == "price_micros":
            product.price.amount_micros = value
        else:
            setattr(product, name, value)
    return product


class Creatives:
    """What the `creatives` topic says per creative: its content (live records) and latest state."""

    def __init__(self, recorder: TopicRecorder) -> None:
        self._recorder = recorder

    def of(
        self, product_id: str
    ) -> tuple[dict[str, common_pb2.Creative], dict[str, events_pb2.CreativeUpdated]]:
        content: dict[str, common_pb2.Creative] = {}
        latest: dict[str, events_pb2.CreativeUpdated] = {}
        for _, event in self._recorder.records:
            if event.creative.product_id != product_id:
                continue
            if creative_state(event) == LIVE:
                content[event.creative.creative_id] = event.creative
            latest[event.creative.creative_id] = event
        return content, latest

    def ids(self, product_id: str, version: int, fmt: int | None = None) -> set[str]:
        content, _ = self.of(product_id)
        return {
            cid
            for cid, c in content.items()
            if c.product_version == version and (fmt is None or c.format == fmt)
        }

    def states(self, product_id: str) -> dict[str, int]:
        _, latest = self.of(product_id)
        return {cid: creative_state(event) for cid, event in latest.items()}

    def reasons(self, product_id: str) -> dict[str, str]:
        _, latest = self.of(product_id)
        return {cid: event.state_reason for cid, event in latest.items()}


async def test_price_change_deletion_and_admission_loss(stack: LocalStack) -> None:
    settings = CommonSettings(bootstrap_servers=stack.bootstrap_servers)
    store = FilesystemAssetStore(stack.asset_dir)
    run = uuid.uuid4().hex[:6]
    priced, deleted, refused = (f"life-{run}-{name}" for name in ("price", "delete", "adlaw"))
    v1 = {
        priced: make_product(store, priced, (200, 30, 40)),
        deleted: make_product(store, deleted, (30, 90, 200)),
        refused: make_product(store, refused, (20, 140, 60)),
    }
    profile_tombstones: list[str] = []
    profile_feed: TopicFeed[Any] = TopicFeed(
        settings, CONTENT_PROFILES, lambda k, e: None, delete=profile_tombstones.append
    )
    profile_task = asyncio.create_task(profile_feed.run())

    async with (
        EventProducer(settings, "lifecycle-test") as producer,
        TopicRecorder(stack.bootstrap_servers, CREATIVES) as recorder,
        grpc.aio.insecure_channel(stack.running["ranking"].target) as channel,
    ):
        creatives = Creatives(recorder)
        rank_rpc = ranking_pb2_grpc.RankingServiceStub(channel).Rank

        async def rank(product_id: str, candidates: set[str] | None = None) -> ranking_pb2.RankResponse:
            reply: ranking_pb2.RankResponse = await rank_rpc(
                ranking_pb2.RankRequest(
                    user_id="u1",
                    product_id=product_id,
                    format=IMAGE,
                    candidate_creative_ids=sorted(candidates or ()),
                )
            )
            return reply

        async def rank_code(product_id: str, candidates: set[str] | None = None) -> grpc.StatusCode:
            try:
                await rank(product_id, candidates)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        async def wait_rank_code(
            product_id: str, code: grpc.StatusCode, what: str, candidates: set[str] | None = None
        ) -> None:
            deadline = asyncio.get_running_loop().time() + TIMEOUT_S
            while (got := await rank_code(product_id, candidates)) != code:
                assert asyncio.get_running_loop().time() < deadline, f"{what}: Rank still answers {got}"
                await asyncio.sleep(0.2)

        # Version 1 of every product: live creatives that ranking serves.
        await producer.send_batch(
            PRODUCT_CHANGES,
            [
                (pid, events_pb2.ProductChanged(product=p, changed_at=now_timestamp()))
                for pid, p in v1.items()
            ],
        )
        await wait_until(
            lambda: all(creatives.ids(pid, 1, IMAGE) for pid in v1), TIMEOUT_S, "version 1 image creatives"
        )
        for pid in v1:
            await wait_rank_code(pid, grpc.StatusCode.OK, f"ranking serves {pid}")

        # The three lifecycle events.
        v2_priced = make_product(store, priced, (200, 30, 40), version=2, price_micros=39_990_000)
        v2_refused = make_product(store, refused, (20, 140, 60), version=2, title="The best dress ever")
        await producer.send_batch(
            PRODUCT_CHANGES,
            [
                (priced, events_pb2.ProductChanged(product=v2_priced, changed_at=now_timestamp())),
                (refused, events_pb2.ProductChanged(product=v2_refused, changed_at=now_timestamp())),
            ],
        )
        await producer.send_tombstone(PRODUCT_CHANGES, deleted)

        # Price change: every version 1 creative retired (superseded), version 2's live.
        def price_retired() -> bool:
            old, states = creatives.ids(priced, 1), creatives.states(priced)
            return bool(creatives.ids(priced, 2, IMAGE)) and all(states.get(c) == RETIRED for c in old)

        await wait_until(price_retired, TIMEOUT_S, "version 1 of the re-priced product retired")
        old_images, new_images = creatives.ids(priced, 1, IMAGE), creatives.ids(priced, 2, IMAGE)
        states, reasons = creatives.states(priced), creatives.reasons(priced)
        assert old_images and not old_images & new_images
        assert {reasons[c] for c in creatives.ids(priced, 1)} == {"superseded"}
        assert all(states[c] == LIVE for c in creatives.ids(priced, 2)), "the replacements are live"
        # Ranking applies the retirements (it follows the topic): then it never serves version 1.
        await wait_rank_code(
            priced, grpc.StatusCode.FAILED_PRECONDITION, "version 1 named as candidates", old_images
        )
        for _ in range(40):
            reply = await rank(priced)
            assert reply.creative.creative_id in new_images, "a retired creative was served"
            assert reply.candidates == len(new_images)
        mixed = await rank(priced, old_images | {min(new_images)})
        assert mixed.creative.creative_id == min(new_images) and mixed.candidates == 1

        # Deletion: every creative retired (deleted), the profile tombstoned, nothing served.
        def all_deleted() -> bool:
            states = creatives.states(deleted)
            return bool(states) and all(s == RETIRED for s in states.values())

        await wait_until(all_deleted, TIMEOUT_S, "the deleted product's creatives retired")
        assert set(creatives.reasons(deleted).values()) == {"deleted"}
        await wait_until(lambda: deleted in profile_tombstones, TIMEOUT_S, "the profile's tombstone")
        await wait_rank_code(deleted, grpc.StatusCode.FAILED_PRECONDITION, "the deleted product")

        # Admission loss: version 1's creatives paused, nothing generated for version 2.
        def all_paused() -> bool:
            states = creatives.states(refused)
            return bool(states) and all(s == PAUSED for s in states.values())

        await wait_until(all_paused, TIMEOUT_S, "the refused product's creatives paused")
        assert all(r.startswith("not_admitted") for r in creatives.reasons(refused).values())
        assert not creatives.ids(refused, 2), "nothing generated for the refused version"
        await wait_rank_code(refused, grpc.StatusCode.FAILED_PRECONDITION, "the refused product")
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await rank(refused)
        assert "CREATIVE_STATE_PAUSED" in (failed.value.details() or "")
        for _ in range(10):
            assert await rank_code(deleted) == grpc.StatusCode.FAILED_PRECONDITION

    profile_task.cancel()
    await asyncio.gather(profile_task, return_exceptions=True)


async def test_pin_and_reject_survive_a_ranking_restart(stack: LocalStack) -> None:
    """SetControl on ranking: the decisions go to creative.controls and a restarted ranking reads
    them back; rejected is never served, pinned is served with propensity 1/k."""
    settings = CommonSettings(bootstrap_servers=stack.bootstrap_servers)
    store = FilesystemAssetStore(stack.asset_dir)
    pid = f"life-{uuid.uuid4().hex[:6]}-control"
    async with (
        EventProducer(settings, "lifecycle-control-test") as producer,
        TopicRecorder(stack.bootstrap_servers, CREATIVES) as recorder,
        TopicRecorder(stack.bootstrap_servers, CREATIVE_CONTROLS) as controls,
    ):
        creatives = Creatives(recorder)
        product = make_product(store, pid, (120, 60, 160))
        await producer.send(PRODUCT_CHANGES, pid, events_pb2.ProductChanged(product=product))
        await wait_until(lambda: len(creatives.ids(pid, 1, IMAGE)) >= 3, TIMEOUT_S, "image creatives")
        rejected, pinned, *_ = sorted(creatives.ids(pid, 1, IMAGE))

        async with grpc.aio.insecure_channel(stack.running["ranking"].target) as channel:
            rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
            set_control = control_pb2_grpc.CreativeControlServiceStub(channel).SetControl
            deadline = asyncio.get_running_loop().time() + TIMEOUT_S
            while True:  # ranking follows `creatives` asynchronously
                try:
                    await rank(ranking_pb2.RankRequest(product_id=pid, format=IMAGE))
                    break
                except grpc.aio.AioRpcError:
                    assert asyncio.get_running_loop().time() < deadline, "ranking never served the product"
                    await asyncio.sleep(0.2)
            for creative_id, action in ((rejected, REJECT), (pinned, PIN)):
                reply = await set_control(
                    control_pb2.SetControlRequest(
                        creative_id=creative_id, product_id=pid, action=action, actor="test"
                    )
                )
                assert reply.live and reply.control.action == action
        await wait_until(
            lambda: {k for k, _ in controls.records} >= {rejected, pinned},
            TIMEOUT_S,
            "the controls on the topic",
        )

        stack.restart_service("ranking")  # SERVING once it has read its topics again
        async with grpc.aio.insecure_channel(stack.running["ranking"].target) as channel:
            rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
            for _ in range(20):
                reply = await rank(ranking_pb2.RankRequest(product_id=pid, format=IMAGE))
                assert reply.creative.creative_id == pinned and reply.propensity == 1.0
                assert reply.policy_version == "pinned-v1"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await rank(
                    ranking_pb2.RankRequest(product_id=pid, format=IMAGE, candidate_creative_ids=[rejected])
                )
            assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "CREATIVE_STATE_REJECTED" in (failed.value.details() or "")
            # Released: the pinned creative goes back to the bandit, with the others.
            await control_pb2_grpc.CreativeControlServiceStub(channel).SetControl(
                control_pb2.SetControlRequest(creative_id=pinned, product_id=pid)
            )
            reply = await rank(ranking_pb2.RankRequest(product_id=pid, format=IMAGE))
            assert reply.policy_version != "pinned-v1" and reply.creative.creative_id != rejected
