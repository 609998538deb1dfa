"""The Understand RPC and the product.changes stream handler."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.logs import get_logger
from creativeloop.kit.models import ModelError
from creativeloop.kit.producer import EventProducer
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
            profile = await self._runner.build(request.product)
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        except ModelError as exc:
            log.warning("model call failed", model=exc.model, reason=exc.reason)
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return understanding_pb2.UnderstandResponse(profile=profile)


class ProductChangeHandler:
    """product.changes -> content.profiles, skipping versions older than one already published.

    Bad products raise InvalidEvent, which the worker turns into a dead letter; a model backend
    that is down raises ModelError, which the worker retries.
    """

    def __init__(self, runner: ProfileRunner, producer: EventProducer) -> None:
        self._runner = runner
        self._producer = producer
        self._latest_version: dict[str, int] = {}
        self.profiles_published = 0

    async def __call__(self, event: events_pb2.ProductChanged) -> None:
        product = event.product
        if event.deleted:
            log.info("product deleted", product_id=product.product_id)
            return
        if product.version < self._latest_version.get(product.product_id, -1):
            log.info("stale product version skipped", product_id=product.product_id, version=product.version)
            return
        profile = await self._runner.build(product)
        await self._producer.send(
            CONTENT_PROFILES,
            product.product_id,
            events_pb2.ContentProfileUpdated(profile=profile, updated_at=now_timestamp()),
        )
        self._latest_version[product.product_id] = product.version
        self.profiles_published += 1
