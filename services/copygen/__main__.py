"""`python -m creativeloop.copygen`: the copy generation service process."""

from __future__ import annotations

import asyncio

from creativeloop.copygen.service import CopygenServicer, ProfileHandler
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.topics import CONTENT_PROFILES
from creativeloop.v1 import copygen_pb2, copygen_pb2_grpc


async def serve(settings: CopygenSettings) -> None:
    producer = EventProducer(settings.common, "copygen")
    await producer.start()
    worker = EventWorker(
        settings.common,
        CONTENT_PROFILES,
        "copygen",
        ProfileHandler(settings, producer),
        producer,
    )

    async def consumer_ready() -> None:
        await worker.ready.wait()

    runtime = ServiceRuntime(
        service="copygen",
        settings=settings,
        servicers=[
            GrpcServicer(
                CopygenServicer(settings),
                copygen_pb2_grpc.add_CopyGenerationServiceServicer_to_server,
                service_name(copygen_pb2, "CopyGenerationService"),
            )
        ],
        tasks=[worker.run],
        ready_check=consumer_ready,
        on_stop=[producer.stop],
    )
    await runtime.run()


def main() -> None:
    settings = CopygenSettings()
    configure_logging(settings.common, "copygen")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
