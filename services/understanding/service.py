"""The Understand RPC and the product.changes stream handler."""

from __future__ import annotations

from typing import Any

import grpc
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.logs import get_logger
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES
from creativeloop.understanding.profile import build_profile
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.v1 import events_pb2, understanding_pb2, understanding_pb2_grpc

log = get_logger(__name__)


class UnderstandingServicer(understanding_pb2_grpc.UnderstandingServiceServicer):
    def __init__(self, settings: UnderstandingSettings) -> None:
        self._settings = settings

    async def Understand(
        self,
        request: understanding_pb2.UnderstandRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> understanding_pb2.UnderstandResponse:
        try:
            profile = build_profile(request.product, self._settings)
        except InvalidEvent as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        return understanding_pb2.UnderstandResponse(profile=profile)


class ProductChangeHandler:
    """product.changes -> content.profiles, skipping versions older than one already published."""

    def __init__(self, settings: UnderstandingSettings, producer: EventProducer) -> None:
        self._settings = settings
        self._producer = producer
        self._latest_version: dict[str, int] = {}
        self.profiles_published = 0

    async def __call__(self, event: events_pb2.ProductChanged) -> None:
        product = event.product
        if event.deleted:
            log.info("product deleted", product_id=product.product_id)
            return
        if product.version < self._latest_version.get(product.product_id, -1):
            log.info(
                "stale product version skipped",
                product_id=product.product_id,
                version=product.version,
            )
            return
        profile = build_profile(product, self._settings)
        await self._producer.send(
            CONTENT_PROFILES,
            product.product_id,
            events_pb2.ContentProfileUpdated(profile=profile, updated_at=now_timestamp()),
        )
        self._latest_version[product.product_id] = product.version
        self.profiles_published += 1
