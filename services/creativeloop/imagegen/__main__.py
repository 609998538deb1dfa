"""`python -m creativeloop.imagegen`: the image generation service process."""

from __future__ import annotations

import asyncio

from creativeloop.imagegen.service import CopyClient, ImagegenServicer, ProfileHandler, build_renderer
from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.kit.assets import asset_store_from_settings
from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.health import Availability
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.stage import TopicVersionStore
from creativeloop.kit.topics import CONTENT_PROFILES
from creativeloop.v1 import events_pb2, imagegen_pb2, imagegen_pb2_grpc


async def serve(settings: ImagegenSettings) -> None:
    renderer = build_renderer(settings)  # loads and validates the templates: fails fast
    store = asset_store_from_settings(settings.common)
    copy = CopyClient(settings.copygen_target, settings.copygen_timeout_s, settings.tls)
    producer = EventProducer(settings.common, "imagegen")
    await producer.start()
    availability = Availability()
    versions = TopicVersionStore(settings.common, producer, "imagegen")
    handler = ProfileHandler(settings, producer, store, renderer, copy, versions=versions)
    worker: EventWorker[events_pb2.ContentProfileUpdated] = EventWorker(
        settings.common,
        CONTENT_PROFILES,
        "imagegen",
        handler.stage,
        producer,
        availability=availability,
        max_attempts=settings.max_attempts,
        retry_backoff_s=settings.retry_backoff_s,
    )

    async def ready() -> None:
        await worker.ready.wait()

    runtime = ServiceRuntime(
        service="imagegen",
        settings=settings,
        servicers=[
            GrpcServicer(
                ImagegenServicer(settings, renderer, store),
                imagegen_pb2_grpc.add_ImageGenerationServiceServicer_to_server,
                service_name(imagegen_pb2, "ImageGenerationService"),
            )
        ],
        tasks=[worker.run],
        ready_check=ready,
        on_stop=[producer.stop, copy.close],
        availability=availability,
    )
    await runtime.run()


def main() -> None:
    settings = ImagegenSettings()
    configure_logging(settings.common, "imagegen")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
