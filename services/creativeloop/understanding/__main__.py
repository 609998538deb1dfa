"""`python -m creativeloop.understanding`: the understanding service process."""

from __future__ import annotations

import asyncio

from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.health import Availability
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.stage import TopicVersionStore
from creativeloop.kit.topics import PRODUCT_CHANGES
from creativeloop.understanding.analyzer import REQUIRED_MODELS
from creativeloop.understanding.profile import ProfileBuilder
from creativeloop.understanding.service import ProductChangeHandler, ProfileRunner, UnderstandingServicer
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.v1 import events_pb2, understanding_pb2, understanding_pb2_grpc


async def serve(settings: UnderstandingSettings) -> None:
    client = model_client_from_settings(settings.models) if settings.analyse_images else None
    runner = ProfileRunner(ProfileBuilder(settings, client, settings.models.repository), settings.workers)
    producer = EventProducer(settings.common, "understanding")
    await producer.start()
    availability = Availability()
    handler = ProductChangeHandler(
        runner, producer, versions=TopicVersionStore(settings.common, producer, "understanding")
    )
    worker: EventWorker[events_pb2.ProductChanged] = EventWorker(
        settings.common, PRODUCT_CHANGES, "understanding", handler.stage, producer, availability=availability
    )

    async def models_ready() -> BackendHealth:
        return await client.health(REQUIRED_MODELS) if client is not None else BackendHealth(True)

    async def close_models() -> None:
        runner.close()
        if client is not None:
            client.close()

    async def consumer_ready() -> None:
        await worker.ready.wait()

    runtime = ServiceRuntime(
        service="understanding",
        settings=settings,
        servicers=[
            GrpcServicer(
                UnderstandingServicer(runner),
                understanding_pb2_grpc.add_UnderstandingServiceServicer_to_server,
                service_name(understanding_pb2, "UnderstandingService"),
            )
        ],
        tasks=[worker.run],
        ready_check=consumer_ready,
        on_stop=[producer.stop, close_models],
        dependency_check=models_ready if client is not None else None,
        availability=availability,
    )
    await runtime.run()


def main() -> None:
    settings = UnderstandingSettings()
    configure_logging(settings.common, "understanding")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
