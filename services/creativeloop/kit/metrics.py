"""Prometheus metrics per RPC (count, latency, status codes) and the `/metrics` endpoint.

Metric names follow go-grpc-prometheus, so stock Grafana dashboards and alert rules apply.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from creativeloop.kit.validation import Invalid

DEPENDENCY_UP = Gauge(
    "creativeloop_dependency_up",
    "1 while a dependency the service needs to serve (e.g. its model backend) answers, else 0.",
    ["service", "dependency"],
)
STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", ["grpc_service", "grpc_method"])
HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time to handle an RPC on the server.",
    ["grpc_service", "grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every unary RPC and records its final status code.

    It also decodes the request itself: gRPC would answer bytes that are not the method's request
    message with INTERNAL before any handler or metric saw them; here they are INVALID_ARGUMENT,
    with the reason, and counted like any other RPC. A `creativeloop.kit.validation.Invalid`
    raised by a handler (the shared domain checks) is INVALID_ARGUMENT with its reason too.
    """

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # streaming RPCs (health Watch, reflection) pass through untimed
        service, method = _split(handler_call_details.method)
        inner: Any = handler.unary_unary
        deserialize: Callable[[bytes], Any] | None = handler.request_deserializer

        async def timed(raw: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            STARTED.labels(service, method).inc()
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                try:
                    request = raw if deserialize is None else deserialize(raw)
                except Exception as error:  # protobuf's DecodeError, or a bad UTF-8 string field
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    await context.abort(code, f"undecodable {method} request ({len(raw)} bytes): {error}")
                try:
                    return await inner(request, context)
                except Invalid as error:  # a domain check (`kit.validation`) the servicer let through
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    await context.abort(code, error.reason)
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.UNKNOWN
                raise
            finally:
                if code is grpc.StatusCode.OK and context.code() not in (None, grpc.StatusCode.OK):
                    code = context.code()
                LATENCY.labels(service, method).observe(time.perf_counter() - start)
                HANDLED.labels(service, method, code.name).inc()

        return grpc.unary_unary_rpc_method_handler(
            timed, request_deserializer=None, response_serializer=handler.response_serializer
        )


def start_metrics_server(port: int, host: str = "127.0.0.1") -> int:
    """Serve `/metrics` from a background thread; return the bound port."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_address[1])
