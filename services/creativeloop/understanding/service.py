"""The Understand RPC and the product.changes stream handler."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from creativeloop.kit.codec import InvalidEvent, validate
from creativeloop.kit.logs import get_logger
from creativeloop.kit.models import ModelError
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.stage import (
    Keyed,
    ProfileStage,
    RetireHook,
    Subject,
    VersionStore,
    log_retirement,
    product_subject,
)
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES
from creativeloop.understanding.profile import ProfileBuilder
from creativeloop.v1 import common_pb2, events_pb2, understanding_pb2, understanding_pb2_grpc

log = get_logger(__name__)


class ProfileRunner:
    """Runs `ProfileBuilder.build` on worker threads: model calls and OpenCV are CPU-bound."""

    def __init__(self, builder: ProfileBuilder, workers: int) -> None:
        self.builder = builder
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="understanding")

    async def build(self, product: common_pb2.Product) -> common_pb2.ContentProfile:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.builder.build, product)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class UnderstandingServicer(understanding_pb2_grpc.UnderstandingServiceServicer):
    def __init__(self, runner: ProfileRunner) -> None:
        self._runner = runner

    async def Understand(
        self,
        request: understanding_pb2.UnderstandRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> understanding_pb2.UnderstandResponse:
        try:
            # The same domain checks as a product.changes record (ids, price, media uris, sizes).
            validate(events_pb2.ProductChanged(product=request.product))
            profile = await self._runner.build(request.product)
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        except ModelError as exc:
            log.warning("model call failed", model=exc.model, reason=exc.reason)
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return understanding_pb2.UnderstandResponse(profile=profile)


def deleted_profile(subject: Subject) -> list[Keyed]:
    """A deletion passed on to content.profiles: only the product id and the deleting version."""
    profile = common_pb2.ContentProfile(product_id=subject.product_id, product_version=subject.version)
    return [
        (
            subject.product_id,
            events_pb2.ContentProfileUpdated(profile=profile, deleted=True, updated_at=now_timestamp()),
        )
    ]


class ProductChangeHandler:
    """product.changes -> content.profiles through the kit's `ProfileStage`.

    The stage skips versions older than one already handled (persisted with a `TopicVersionStore`)
    and passes deletions on as a `deleted` profile record followed by a tombstone (the deleted
    record tells the generators which version was deleted; the tombstone lets compaction drop
    the profile). Bad products raise InvalidEvent, which the worker dead-letters; a model backend
    that is down raises ModelError, on which the worker pauses the partition and retries.
    """

    def __init__(
        self,
        runner: ProfileRunner,
        producer: EventProducer,
        *,
        versions: VersionStore | None = None,
        retire: RetireHook = log_retirement,
    ) -> None:
        self._runner = runner
        self.stage = ProfileStage(
            "understanding",
            producer,
            CONTENT_PROFILES,
            self.generate,
            product_subject,
            versions=versions,
            retire=retire,
            on_delete=deleted_profile,
            tombstone=True,
        )

    @property
    def profiles_published(self) -> int:
        return self.stage.published

    async def __call__(self, event: events_pb2.ProductChanged) -> None:
        await self.stage(event)

    async def generate(self, event: events_pb2.ProductChanged) -> list[Keyed]:
        profile = await self._runner.build(event.product)
        return [
            (
                event.product.product_id,
                events_pb2.ContentProfileUpdated(profile=profile, updated_at=now_timestamp()),
            )
        ]
