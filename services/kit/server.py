"""The gRPC service runtime every CreativeLoop service runs in.

It adds the standard health service, server reflection, per-RPC Prometheus metrics and a
`/metrics` endpoint, runs the service's background tasks (stream consumers), and shuts down
gracefully on SIGTERM or SIGINT: health turns NOT_SERVING first, in-flight RPCs get
`shutdown_grace_s`, then the tasks are cancelled.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from creativeloop.kit.logs import get_logger
from creativeloop.kit.metrics import MetricsInterceptor, start_metrics_server
from creativeloop.kit.settings import ServiceSettings

log = get_logger(__name__)


@dataclass
class GrpcServicer:
    """One gRPC service implementation and how to attach it to a server."""

    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    #: Full service name, e.g. "creativeloop.v1.RankingService" (for health and reflection).
    name: str


@dataclass
class ServiceRuntime:
    """Serve `servicers`, run `tasks`, stop cleanly on a signal or when `stop()` is called."""

    service: str
    settings: ServiceSettings
    servicers: Sequence[GrpcServicer]
    tasks: Sequence[Callable[[], Awaitable[None]]] = ()
    #: Awaited after the server starts and before health turns SERVING (e.g. warm caches).
    ready_check: Callable[[], Awaitable[None]] | None = None
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()
    health: health.aio.HealthServicer = field(default_factory=health.aio.HealthServicer)
    bound_port: int = 0
    metrics_port: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        self._stop.set()

    async def _set_health(self, status: int) -> None:
        for name in ["", *(s.name for s in self.servicers)]:
            await self.health.set(name, status)

    async def run(self) -> None:
        options = [
            ("grpc.max_receive_message_length", self.settings.max_message_bytes),
            ("grpc.max_send_message_length", self.settings.max_message_bytes),
        ]
        server = grpc.aio.server(interceptors=[MetricsInterceptor()], options=options)
        for s in self.servicers:
            s.add_to_server(s.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            [s.name for s in self.servicers] + [health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.bound_port = server.add_insecure_port(self.settings.grpc_target)
        self.metrics_port = start_metrics_server(self.settings.metrics_port, self.settings.grpc_host)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):
                pass  # not the main thread (tests): callers use stop()
        running = [asyncio.create_task(task(), name=getattr(task, "__name__", "task")) for task in self.tasks]
        stop_wait = asyncio.create_task(self._stop.wait())
        failure: BaseException | None = None
        try:
            if self.ready_check is not None:
                await self.ready_check()
            await self._set_health(health_pb2.HealthCheckResponse.SERVING)
            log.info("serving", grpc_port=self.bound_port, metrics_port=self.metrics_port)
            done, _ = await asyncio.wait([stop_wait, *running], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop_wait and task.exception() is not None:
                    failure = task.exception()
                    log.error("background task failed", task=task.get_name(), error=repr(failure))
        finally:
            log.info("stopping")
            await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
            await server.stop(self.settings.shutdown_grace_s)
            for task in [*running, stop_wait]:
                task.cancel()
            await asyncio.gather(*running, stop_wait, return_exceptions=True)
            for hook in self.on_stop:
                await hook()
            log.info("stopped")
        if failure is not None:
            raise failure
