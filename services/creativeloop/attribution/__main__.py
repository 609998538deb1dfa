"""`python -m creativeloop.attribution`: the element attribution job and its RPC, one process."""

from __future__ import annotations

import asyncio

from creativeloop.attribution.job import AttributionJob
from creativeloop.attribution.service import AttributionServicer
from creativeloop.attribution.settings import AttributionSettings
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.v1 import attribution_pb2, attribution_pb2_grpc


async def serve(settings: AttributionSettings) -> None:
    job = AttributionJob(settings)

    async def caught_up() -> None:
        await job.ready.wait()

    runtime = ServiceRuntime(
        service="attribution",
        settings=settings,
        servicers=[
            GrpcServicer(
                AttributionServicer(job),
                attribution_pb2_grpc.add_AttributionServiceServicer_to_server,
                service_name(attribution_pb2, "AttributionService"),
            )
        ],
        tasks=[job.run],
        ready_check=caught_up,
    )
    await runtime.run()


def main() -> None:
    settings = AttributionSettings()
    configure_logging(settings.common, "attribution")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
