"""Every service of the local stack: health, metrics, bad input and the dead-letter queue."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CONTENT_PROFILES, PRODUCT_CHANGES
from creativeloop.stack.local import LocalStack
from creativeloop.v1 import common_pb2, events_pb2, understanding_pb2, understanding_pb2_grpc
from tests.integration.helpers import TopicRecorder, wait_until

pytestmark = pytest.mark.integration


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return str(reply.read().decode())


@pytest.mark.parametrize("name", ["understanding", "copygen", "imagegen", "ranking", "bandit", "attribution"])
async def test_service_is_serving_with_metrics(stack: LocalStack, name: str) -> None:
    service = stack.running[name]
    async with grpc.aio.insecure_channel(service.target) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    text = await asyncio.to_thread(scrape, service.metrics_port)
    assert "# TYPE grpc_server_handled_total counter" in text
    assert "# TYPE grpc_server_handling_seconds histogram" in text


async def test_understand_rpc_counts_codes_per_rpc(stack: LocalStack) -> None:
    service = stack.running["understanding"]
    async with grpc.aio.insecure_channel(service.target) as channel:
        stub = understanding_pb2_grpc.UnderstandingServiceStub(channel)
        ok = await stub.Understand(
            understanding_pb2.UnderstandRequest(
                product=common_pb2.Product(product_id="rpc-1", title="Cropped Wool Cardigan")
            )
        )
        assert {"cropped", "wool", "cardigan"} <= {t.text for t in ok.profile.tags}
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.Understand(
                understanding_pb2.UnderstandRequest(product=common_pb2.Product(product_id="x"))
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "empty product.title" in (bad.value.details() or "")
    text = await asyncio.to_thread(scrape, service.metrics_port)
    assert 'grpc_method="Understand",grpc_service="creativeloop.v1.UnderstandingService"' in text
    assert 'grpc_code="INVALID_ARGUMENT"' in text and 'grpc_code="OK"' in text


async def test_garbage_goes_to_dlq_and_the_next_product_is_still_understood(
    stack: LocalStack,
) -> None:
    run = uuid.uuid4().hex[:6]
    settings = CommonSettings(bootstrap_servers=stack.bootstrap_servers)
    raw = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
    await raw.start()
    try:
        async with (
            TopicRecorder(stack.bootstrap_servers, PRODUCT_CHANGES.dlq) as dlq,
            TopicRecorder(stack.bootstrap_servers, CONTENT_PROFILES) as profiles,
            EventProducer(settings, "dlq-test") as producer,
        ):
            # Same key, so the garbage and the valid record share a partition and its order.
            key = f"dlq-{run}"
            await raw.send_and_wait(PRODUCT_CHANGES.name, b"\x08\x96\x01not-a-protobuf\xff", key=key.encode())
            invalid = events_pb2.ProductChanged(product=common_pb2.Product(product_id=key))  # no title
            await raw.send_and_wait(PRODUCT_CHANGES.name, invalid.SerializeToString(), key=key.encode())
            valid = common_pb2.Product(product_id=key, version=1, title="Relaxed Linen Shirt")
            await producer.send(
                PRODUCT_CHANGES,
                key,
                events_pb2.ProductChanged(product=valid, changed_at=now_timestamp()),
            )

            def letters() -> list[events_pb2.DeadLetter]:
                return [e for k, e in dlq.records if k == key]

            await wait_until(lambda: len(letters()) == 2, 60, "two dead letters")
            await wait_until(
                lambda: any(e.profile.product_id == key for e in profiles.events()),
                60,
                "the valid product after the garbage to be profiled",
            )
    finally:
        await raw.stop()
    garbage, missing_title = letters()
    assert garbage.source_topic == PRODUCT_CHANGES.name and garbage.consumer == "understanding"
    assert "undecodable" in garbage.reason or "missing product" in garbage.reason
    assert garbage.value.startswith(b"\x08\x96\x01not-a-protobuf")
    assert missing_title.reason == "empty product.title"
    assert missing_title.offset > garbage.offset
