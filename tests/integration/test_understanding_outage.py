"""A model-backend outage pauses the understanding stream; it resumes by itself when the backend is back.

Real processes on loopback: a Tansu broker, a Triton server (the local tritonserver serving the
understanding models through the python backend, `stack.triton.LocalTriton`) and understanding
with ``CREATIVELOOP_MODELS_BACKEND=triton``. Triton is stopped while products arrive: the
stream pauses its partitions, health says NOT_SERVING, nothing is dead-lettered; Triton is
started again on the same ports and the products produced during the outage become profiles,
with no one touching understanding. Needs `creativeloop models build` and
`scripts/install-triton.sh` (as tests/integration/test_model_backends.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES, PRODUCT_CHANGES
from creativeloop.stack.broker import free_port
from creativeloop.stack.triton import LocalTriton, python_backend_repository
from creativeloop.understanding.analyzer import REQUIRED_MODELS
from creativeloop.v1 import common_pb2, events_pb2
from tests.integration.helpers import ServiceProcess, TopicRecorder, product_png, spawn_service, wait_until

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2] / "deploy" / "model-repository"
TIMEOUT_S = 120.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def triton(tmp_path: Path) -> Iterator[LocalTriton]:
    derived = python_backend_repository(REPOSITORY, tmp_path / "triton", REQUIRED_MODELS)
    # Fixed ports: the restarted server must come back where understanding's client looks.
    workspace = tmp_path / "triton-workspace"
    ports = free_port(), free_port(), free_port()
    with LocalTriton(
        derived, workspace, grpc_port=ports[0], http_port=ports[1], metrics_port=ports[2]
    ) as server:
        yield server


@pytest.fixture
def understanding(broker: Any, triton: LocalTriton, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {
        "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CREATIVELOOP_ASSET_DIR": str(tmp_path / "assets"),
        "CREATIVELOOP_MODELS_BACKEND": "triton",
        "CREATIVELOOP_MODELS_TRITON_URL": triton.grpc_url,
        "CREATIVELOOP_MODELS_TRITON_TIMEOUT_S": "5",
        "CREATIVELOOP_MODELS_TRITON_RETRIES": "0",
        "CREATIVELOOP_MODELS_REPOSITORY": str(REPOSITORY),
        "CREATIVELOOP_UNDERSTANDING_CACHE_ANALYSES": "false",  # every product calls the models
        "CREATIVELOOP_STREAM_OUTAGE_BACKOFF_MAX_S": "2",
    }
    service = spawn_service("understanding", env, tmp_path)
    try:
        service.wait_serving(TIMEOUT_S)
        yield service
    finally:
        service.stop()


def change(
    store: FilesystemAssetStore, product_id: str, colour: tuple[int, int, int]
) -> events_pb2.ProductChanged:
    uri, digest = store.put(product_png(colour), "image/png")
    return events_pb2.ProductChanged(
        product=common_pb2.Product(
            product_id=product_id,
            version=1,
            title="Relaxed Linen Shirt with Rolled Sleeves",
            category="Men / Shirts",
            language="en",
            images=[common_pb2.Media(uri=uri, sha256=digest, mime_type="image/png")],
        ),
        changed_at=now_timestamp(),
    )


async def test_a_backend_outage_pauses_the_stream_and_it_resumes_by_itself(
    broker: Any, triton: LocalTriton, understanding: ServiceProcess, tmp_path: Path
) -> None:
    settings = CommonSettings(bootstrap_servers=broker.bootstrap_servers)
    store = FilesystemAssetStore(tmp_path / "assets")
    run = uuid.uuid4().hex[:6]
    before, during = f"before-{run}", [f"during-{run}-{n}" for n in range(3)]

    def paused_partitions() -> float:
        return understanding.metric("creativeloop_stream_paused_partitions", topic=PRODUCT_CHANGES.name)

    async with (
        TopicRecorder(broker.bootstrap_servers, CONTENT_PROFILES) as profiles,
        TopicRecorder(broker.bootstrap_servers, PRODUCT_CHANGES.dlq) as letters,
        EventProducer(settings, "outage-test") as producer,
    ):

        def profiled() -> dict[str, common_pb2.ContentProfile]:
            return {e.profile.product_id: e.profile for e in profiles.events()}

        await producer.send(PRODUCT_CHANGES, before, change(store, before, (30, 90, 200)))
        await wait_until(lambda: before in profiled(), TIMEOUT_S, "the profile before the outage")
        assert profiled()[before].image_analyses, "the models ran (through Triton)"

        triton.stop()
        for n, product_id in enumerate(during):
            await producer.send(
                PRODUCT_CHANGES, product_id, change(store, product_id, (200, 40 + 60 * n, 30))
            )

        await wait_until(lambda: paused_partitions() > 0, TIMEOUT_S, "the stream paused on the outage")
        await wait_until(lambda: understanding.health() == NOT_SERVING, TIMEOUT_S, "NOT_SERVING")
        assert understanding.process.poll() is None, understanding.log_tail()
        assert not set(during) & set(profiled()), "no profile without the models"
        assert letters.records == [], "an outage dead-letters nothing"

        triton.start()
        await wait_until(
            lambda: set(during) <= set(profiled()),
            TIMEOUT_S,
            "the products of the outage profiled after Triton came back",
        )
        await wait_until(lambda: understanding.health() == SERVING, TIMEOUT_S, "SERVING again")
        await wait_until(lambda: paused_partitions() == 0, TIMEOUT_S, "no paused partition")
        for product_id in during:
            assert profiled()[product_id].image_analyses, "profiled with the models, not without them"
        assert letters.records == [], "nothing was dead-lettered"
    assert understanding.process.poll() is None, understanding.log_tail()
