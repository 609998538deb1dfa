"""`python -m creativeloop.videogen`: the video generation service process."""

from __future__ import annotations

import asyncio

from creativeloop.kit.assets import asset_store_from_settings
from creativeloop.kit.consumer import EventWorker
from creativeloop.kit.health import Availability
from creativeloop.kit.logs import configure_logging, get_logger
from creativeloop.kit.models.client import BackendHealth, ModelClient
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.stage import TopicVersionStore
from creativeloop.kit.topics import CONTENT_PROFILES
from creativeloop.v1 import events_pb2, videogen_pb2, videogen_pb2_grpc
from creativeloop.videogen.embed import Embedder, HistogramEmbedder, ModelEmbedder
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.service import ProfileHandler, VideogenServicer
from creativeloop.videogen.settings import VideogenSettings

log = get_logger(__name__)


def build_embedder(settings: VideogenSettings) -> tuple[Embedder, ModelClient | None]:
    """The model embedder and its client when `use_model`, else colour histograms and no client."""
    if not settings.use_model:
        return HistogramEmbedder(), None
    client = model_client_from_settings()
    return ModelEmbedder(client, settings.embedding_model), client


async def serve(settings: VideogenSettings) -> None:
    embedder, client = build_embedder(settings)
    pipeline = VideoPipeline(settings, embedder)
    if not settings.haar_cascade.is_file():
        log.warning("face cascade missing: faces score 0", path=str(settings.haar_cascade))
    store = asset_store_from_settings(settings.common)
    jobs = asyncio.Semaphore(settings.max_concurrent_jobs)
    producer = EventProducer(settings.common, "videogen")
    await producer.start()
    availability = Availability()
    versions = TopicVersionStore(settings.common, producer, "videogen")
    handler = ProfileHandler(settings, producer, store, pipeline, jobs, versions=versions)
    worker: EventWorker[events_pb2.ContentProfileUpdated] = EventWorker(
        settings.common,
        CONTENT_PROFILES,
        "videogen",
        handler.stage,
        producer,
        availability=availability,
        max_attempts=settings.max_attempts,
        retry_backoff_s=settings.retry_backoff_s,
    )

    async def ready() -> None:
        await worker.ready.wait()

    async def models_up() -> BackendHealth:
        assert client is not None
        return await client.health([settings.embedding_model])

    async def close_client() -> None:
        if client is not None:
            client.close()

    runtime = ServiceRuntime(
        service="videogen",
        settings=settings,
        servicers=[
            GrpcServicer(
                VideogenServicer(settings, pipeline, store, jobs),
                videogen_pb2_grpc.add_VideoGenerationServiceServicer_to_server,
                service_name(videogen_pb2, "VideoGenerationService"),
            )
        ],
        tasks=[worker.run],
        ready_check=ready,
        # With the model on, health follows the model backend (NOT_SERVING while it is down).
        dependency_check=models_up if client is not None else None,
        on_stop=[producer.stop, close_client],
        availability=availability,
    )
    await runtime.run()


def main() -> None:
    settings = VideogenSettings()
    configure_logging(settings.common, "videogen")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
