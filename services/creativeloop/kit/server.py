"""The gRPC service runtime every CreativeLoop service runs in.

It adds the standard health service, server reflection, per-RPC Prometheus metrics and a
`/metrics` endpoint, runs the service's background tasks (stream consumers), and shuts down
gracefully on SIGTERM or SIGINT: health turns NOT_SERVING first, in-flight RPCs get
`shutdown_grace_s`, then the tasks are cancelled.

Health is SERVING once `ready_check` has passed and while the `availability` board has no source
down: the polled `dependency_check` reports there as "models" (or `dependency_name`), and each
stream worker given the same board reports there while it holds a partition paused on an outage.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from creativeloop.kit.health import Availability
from creativeloop.kit.logs import get_logger
from creativeloop.kit.metrics import DEPENDENCY_UP, MetricsInterceptor, start_metrics_server
from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.settings import ServiceSettings
from creativeloop.kit.tls import add_port

log = get_logger(__name__)


def service_name(pb2_module: Any, service: str) -> str:
    """Full gRPC name of `service` as declared in the proto (e.g. creativeloop.v1.RankingService)."""
    return str(pb2_module.DESCRIPTOR.services_by_name[service].full_name)


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
    tasks: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    #: Awaited after the server starts and before health turns SERVING (e.g. warm caches).
    ready_check: Callable[[], Coroutine[Any, Any, None]] | None = None
    on_stop: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    #: Polled while the service runs (e.g. "is Triton reachable?"): health follows it, turning
    #: NOT_SERVING with the reason logged and `creativeloop_dependency_up` at 0, and back.
    dependency_check: Callable[[], Coroutine[Any, Any, BackendHealth]] | None = None
    dependency_name: str = "models"
    dependency_interval_s: float = 5.0
    #: What keeps the service from serving right now; give the same board to the stream workers
    #: (`EventWorker(availability=...)`) so that a partition paused on an outage shows in health.
    availability: Availability = field(default_factory=Availability)
    health: health.aio.HealthServicer = field(default_factory=health.aio.HealthServicer)
    bound_port: int = 0
    metrics_port: int = 0
    health_port: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        self._stop.set()

    async def _set_health(self, status: int) -> None:
        for name in ["", *(s.name for s in self.servicers)]:
            await self.health.set(name, status)

    async def _watch_dependency(self) -> None:
        """Report the dependency to the availability board, the reason logged on change."""
        assert self.dependency_check is not None
        available: bool | None = None
        while True:
            status = await self.dependency_check()
            DEPENDENCY_UP.labels(self.service, self.dependency_name).set(1 if status.ok else 0)
            if status.ok:
                self.availability.up(self.dependency_name)
            else:
                self.availability.down(self.dependency_name, status.reason)
            if status.ok != available:
                available = status.ok
                if status.ok:
                    log.info("dependency available", dependency=self.dependency_name)
                else:
                    log.warning(
                        "dependency unavailable", dependency=self.dependency_name, reason=status.reason
                    )
            await asyncio.sleep(self.dependency_interval_s)

    async def _follow_availability(self) -> None:
        """Health is SERVING exactly while no source on the availability board is down."""
        serving: bool | None = None
        while True:
            if self.availability.ok != serving:
                serving = self.availability.ok
                if serving:
                    await self._set_health(health_pb2.HealthCheckResponse.SERVING)
                    log.info("health SERVING")
                else:
                    await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
                    log.warning("health NOT_SERVING", down=self.availability.reasons())
            await self.availability.changed()

    @staticmethod
    def _first_failure(done: set[asyncio.Task[Any]]) -> BaseException | None:
        """A background task that ends, with or without an error, ends the service."""
        for task in done:
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                log.error("background task failed", task=task.get_name(), error=repr(error))
                return error
            if task.get_name() not in ("stop", "ready"):
                return RuntimeError(f"background task {task.get_name()} ended")
        return None

    def _health_server(self) -> grpc.aio.Server | None:
        """The plaintext health-only server on `health_port`, sharing this runtime's health."""
        if not self.settings.health_port:
            return None
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        self.health_port = server.add_insecure_port(f"{self.settings.grpc_host}:{self.settings.health_port}")
        return server

    async def run(self) -> None:
        options = [
            ("grpc.max_receive_message_length", self.settings.max_message_bytes),
            ("grpc.max_send_message_length", self.settings.max_message_bytes),
            # Fail on a port already in use instead of silently sharing it with a stale process.
            ("grpc.so_reuseport", 0),
        ]
        server = grpc.aio.server(interceptors=[MetricsInterceptor()], options=options)
        for s in self.servicers:
            s.add_to_server(s.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            [s.name for s in self.servicers] + [health.SERVICE_NAME, reflection.SERVICE_NAME],
            server,
        )
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.bound_port = add_port(server, self.settings.grpc_target, self.settings.tls)
        health_server = self._health_server()
        if health_server is not None:
            await health_server.start()
        self.metrics_port = start_metrics_server(self.settings.metrics_port, self.settings.grpc_host)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):
                pass  # not the main thread (tests): callers use stop()
        running = [asyncio.create_task(task(), name=getattr(task, "__name__", "task")) for task in self.tasks]
        stop_wait = asyncio.create_task(self._stop.wait(), name="stop")
        watchers: list[asyncio.Task[Any]] = []
        failure: BaseException | None = None
        try:
            waiting: list[asyncio.Task[Any]] = [stop_wait, *running]
            if self.ready_check is not None:
                ready = asyncio.create_task(self.ready_check(), name="ready")
                done, _ = await asyncio.wait([ready, *waiting], return_when=asyncio.FIRST_COMPLETED)
                if ready not in done:
                    ready.cancel()
                failure = self._first_failure(done)
            if failure is None and not self._stop.is_set():
                log.info(
                    "serving",
                    grpc_port=self.bound_port,
                    metrics_port=self.metrics_port,
                    tls=("mutual" if self.settings.tls.client_ca_file else "server")
                    if self.settings.tls.server_enabled
                    else "off",
                )
                if self.dependency_check is not None:
                    # NOT_SERVING until the first check says the dependency is there.
                    self.availability.down(self.dependency_name, "not checked yet")
                    watchers.append(asyncio.create_task(self._watch_dependency(), name="dependency"))
                watchers.append(asyncio.create_task(self._follow_availability(), name="availability"))
                done, _ = await asyncio.wait([*waiting, *watchers], return_when=asyncio.FIRST_COMPLETED)
                failure = self._first_failure(done)
        finally:
            log.info("stopping")
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
            await server.stop(self.settings.shutdown_grace_s)
            if health_server is not None:
                await health_server.stop(0)
            for task in [*running, stop_wait]:
                task.cancel()
            await asyncio.gather(*running, stop_wait, return_exceptions=True)
            for hook in self.on_stop:
                await hook()
            log.info("stopped")
        if failure is not None:
            raise failure
