"""`python -m creativeloop.copygen`: the copy generation service process."""

from __future__ import annotations

import asyncio

from creativeloop.copygen.generator import MODELS
from creativeloop.copygen.service import CopygenServicer, Generators, ProfileHandler
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.health import Availability
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.stage import TopicVersionStore
from creativeloop.kit.topics import CONTENT_PROFILES
from creativeloop.v1 import copygen_pb2, copygen_pb2_grpc, events_pb2


async def serve(settings: CopygenSettings) -> None:
    generators = Generators(settings)
    generators.model()  # load, or log why not, before serving
    producer = EventProducer(settings.common, "copygen")
    await producer.start()
    availability = Availability()
    handler = ProfileHandler(
        settings, producer, generators, versions=TopicVersionStore(settings.common, producer, "copygen")
    )
    worker: EventWorker[events_pb2.ContentProfileUpdated] = EventWorker(
        settings.common, CONTENT_PROFILES, "copygen", handler.stage, producer, availability=availability
    )

    async def consumer_ready() -> None:
        await worker.ready.wait()

    async def model_ready() -> BackendHealth:
        await asyncio.to_thread(generators.model)  # retries a failed load now and then
        client = generators.client
        if client is None or not generators.loaded:
            return BackendHealth(False, generators.status)
        return await client.health(MODELS)

    async def close_models() -> None:
        generators.close()

    runtime = ServiceRuntime(
        service="copygen",
        settings=settings,
        servicers=[
            GrpcServicer(
                CopygenServicer(settings, generators),
                copygen_pb2_grpc.add_CopyGenerationServiceServicer_to_server,
                service_name(copygen_pb2, "CopyGenerationService"),
            )
        ],
        tasks=[worker.run],
        ready_check=consumer_ready,
        on_stop=[producer.stop, close_models],
        # An optional model never makes the service unhealthy; a required one does.
        dependency_check=model_ready if settings.require_model else None,
        availability=availability,
    )
    await runtime.run()


def main() -> None:
    settings = CopygenSettings()
    configure_logging(settings.common, "copygen")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
