"""`python -m creativeloop.understanding`: the understanding service process."""

from __future__ import annotations

import asyncio

from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.topics import PRODUCT_CHANGES
from creativeloop.understanding.service import ProductChangeHandler, UnderstandingServicer
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.v1 import understanding_pb2, understanding_pb2_grpc


async def serve(settings: UnderstandingSettings) -> None:
    producer = EventProducer(settings.common, "understanding")
    await producer.start()
    worker = EventWorker(
        settings.common,
        PRODUCT_CHANGES,
        "understanding",
        ProductChangeHandler(settings, producer),
        producer,
    )

    async def consumer_ready() -> None:
        await worker.ready.wait()

    runtime = ServiceRuntime(
        service="understanding",
        settings=settings,
        servicers=[
            GrpcServicer(
                UnderstandingServicer(settings),
                understanding_pb2_grpc.add_UnderstandingServiceServicer_to_server,
                service_name(understanding_pb2, "UnderstandingService"),
            )
        ],
        tasks=[worker.run],
        ready_check=consumer_ready,
        on_stop=[producer.stop],
    )
    await runtime.run()


def main() -> None:
    settings = UnderstandingSettings()
    configure_logging(settings.common, "understanding")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
