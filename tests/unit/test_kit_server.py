"""The gRPC runtime on a real loopback server: health, reflection, per-RPC metrics, shutdown."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.health import Availability
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.settings import ServiceSettings
from creativeloop.v1 import understanding_pb2, understanding_pb2_grpc


class EchoUnderstanding(understanding_pb2_grpc.UnderstandingServiceServicer):
    async def Understand(self, request: Any, context: Any) -> Any:
        if not request.product.title:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty title")
        if request.product.title == "boom":
            raise KeyError("unexpected")  # a bug: UNKNOWN
        if request.product.title == "invalid":
            raise InvalidEvent("title is invalid")  # a kit.validation.Invalid: INVALID_ARGUMENT
        return understanding_pb2.UnderstandResponse()


NAME = service_name(understanding_pb2, "UnderstandingService")


def metric_value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
async def runtime() -> Any:
    ready = asyncio.Event()

    async def gate() -> None:
        await ready.wait()

    rt = ServiceRuntime(
        "test",
        ServiceSettings(grpc_port=0, metrics_port=0, shutdown_grace_s=0.5),
        [
            GrpcServicer(
                EchoUnderstanding(),
                understanding_pb2_grpc.add_UnderstandingServiceServicer_to_server,
                NAME,
            )
        ],
        ready_check=gate,
    )
    task = asyncio.create_task(rt.run())
    while rt.bound_port == 0:
        await asyncio.sleep(0.01)
    yield rt, ready, task
    rt.stop()
    await asyncio.wait_for(task, 10)


async def test_health_reflection_and_metrics(runtime: Any) -> None:
    rt, ready, _task = runtime
    async with grpc.aio.insecure_channel(f"127.0.0.1:{rt.bound_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        first = await health.Check(health_pb2.HealthCheckRequest(service=NAME))
        assert first.status == health_pb2.HealthCheckResponse.NOT_SERVING  # ready_check pending
        ready.set()
        for _ in range(100):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=NAME))
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                break
            await asyncio.sleep(0.02)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for response in responses:
            services = {s.name for s in response.list_services_response.service}
            break
        assert NAME in services and "grpc.health.v1.Health" in services

        stub = understanding_pb2_grpc.UnderstandingServiceStub(channel)
        await stub.Understand(understanding_pb2.UnderstandRequest(product={"title": "ok"}))
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.Understand(understanding_pb2.UnderstandRequest())
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as boom:
            await stub.Understand(understanding_pb2.UnderstandRequest(product={"title": "boom"}))
        assert boom.value.code() == grpc.StatusCode.UNKNOWN
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.Understand(understanding_pb2.UnderstandRequest(product={"title": "invalid"}))
        assert (invalid.value.code(), invalid.value.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "title is invalid",
        )

    text = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{rt.metrics_port}/metrics").read().decode()
    )
    labels = {"grpc_service": NAME, "grpc_method": "Understand"}
    assert metric_value(text, "grpc_server_handled_total", grpc_code="OK", **labels) >= 1
    assert metric_value(text, "grpc_server_handled_total", grpc_code="INVALID_ARGUMENT", **labels) >= 1
    assert metric_value(text, "grpc_server_handled_total", grpc_code="UNKNOWN", **labels) >= 1
    assert metric_value(text, "grpc_server_handling_seconds_count", **labels) >= 3


async def test_undecodable_request_bytes_are_invalid_argument_and_counted(runtime: Any) -> None:
    rt, ready, _task = runtime
    ready.set()
    method = f"/{NAME}/Understand"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{rt.bound_port}") as channel:
        raw: Any = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await raw(b"\xff\xff\xff\x0f not a protobuf")
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "undecodable Understand request" in (bad.value.details() or "")
        stub = understanding_pb2_grpc.UnderstandingServiceStub(channel)  # and it keeps serving
        await stub.Understand(understanding_pb2.UnderstandRequest(product={"title": "ok"}))
    text = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{rt.metrics_port}/metrics").read().decode()
    )
    labels = {"grpc_service": NAME, "grpc_method": "Understand"}
    assert metric_value(text, "grpc_server_handled_total", grpc_code="INVALID_ARGUMENT", **labels) >= 1


async def test_failed_background_task_stops_the_service() -> None:
    async def crash() -> None:
        raise RuntimeError("consumer died")

    rt = ServiceRuntime("test", ServiceSettings(grpc_port=0, metrics_port=0), [], tasks=[crash])
    with pytest.raises(RuntimeError, match="consumer died"):
        await asyncio.wait_for(rt.run(), 10)


async def test_a_port_in_use_by_another_server_fails_instead_of_sharing(runtime: Any) -> None:
    """gRPC binds with SO_REUSEPORT by default; a stale process must not silently share a port."""
    rt, _ready, _task = runtime
    twin = ServiceRuntime("twin", ServiceSettings(grpc_port=rt.bound_port, metrics_port=0), [])
    with pytest.raises(RuntimeError, match="Failed to bind"):
        await asyncio.wait_for(twin.run(), 10)


async def test_health_follows_the_dependency_check_and_metrics_say_so() -> None:
    """A service whose model backend is gone is NOT_SERVING (reason logged), and recovers."""
    from creativeloop.kit.models.client import BackendHealth

    up = asyncio.Event()

    async def models_available() -> BackendHealth:
        return BackendHealth(True) if up.is_set() else BackendHealth(False, "triton at x unreachable")

    rt = ServiceRuntime(
        "deps",
        ServiceSettings(grpc_port=0, metrics_port=0, shutdown_grace_s=0.2),
        [
            GrpcServicer(
                EchoUnderstanding(), understanding_pb2_grpc.add_UnderstandingServiceServicer_to_server, NAME
            )
        ],
        dependency_check=models_available,
        dependency_interval_s=0.05,
    )
    task = asyncio.create_task(rt.run())
    while rt.bound_port == 0:
        await asyncio.sleep(0.01)

    async def status() -> int:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{rt.bound_port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            return int((await stub.Check(health_pb2.HealthCheckRequest(service=NAME))).status)

    def dependency_up() -> float:
        url = f"http://127.0.0.1:{rt.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        return metric_value(text, "creativeloop_dependency_up", service="deps", dependency="models")

    await asyncio.sleep(0.3)
    assert await status() == health_pb2.HealthCheckResponse.NOT_SERVING
    assert dependency_up() == 0.0
    up.set()
    for _ in range(100):
        if await status() == health_pb2.HealthCheckResponse.SERVING:
            break
        await asyncio.sleep(0.05)
    assert await status() == health_pb2.HealthCheckResponse.SERVING
    assert dependency_up() == 1.0
    up.clear()
    for _ in range(100):
        if await status() == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
        await asyncio.sleep(0.05)
    assert await status() == health_pb2.HealthCheckResponse.NOT_SERVING
    rt.stop()
    await task


async def test_health_follows_the_availability_board() -> None:
    """A stream worker paused on an outage reports on the board: NOT_SERVING until it is back."""
    board = Availability()
    rt = ServiceRuntime(
        "board",
        ServiceSettings(grpc_port=0, metrics_port=0, shutdown_grace_s=0.2),
        [
            GrpcServicer(
                EchoUnderstanding(), understanding_pb2_grpc.add_UnderstandingServiceServicer_to_server, NAME
            )
        ],
        availability=board,
    )
    task = asyncio.create_task(rt.run())
    while rt.bound_port == 0:
        await asyncio.sleep(0.01)

    async def wait_for(status: int) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{rt.bound_port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in range(200):
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=NAME))
                if reply.status == status:
                    return
                await asyncio.sleep(0.02)
        raise AssertionError(f"health never became {status}")

    await wait_for(health_pb2.HealthCheckResponse.SERVING)
    board.down("stream product.changes", "models: triton UNAVAILABLE")
    await wait_for(health_pb2.HealthCheckResponse.NOT_SERVING)
    board.down("stream product.changes", "models: still down")  # a new reason changes nothing
    board.up("stream product.changes")
    await wait_for(health_pb2.HealthCheckResponse.SERVING)
    rt.stop()
    await task
