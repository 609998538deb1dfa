"""Small helpers for tests against the real stack: bounded waits, topic readers, images, processes."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import CREATIVES, Topic
from creativeloop.stack.broker import free_port
from creativeloop.stack.processes import terminate


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate` until true; fail with `what` after `timeout_s` (a bound, not a speed test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


class TopicRecorder:
    """Reads a topic from the beginning in the background and keeps every (key, event)."""

    def __init__(self, bootstrap_servers: str, topic: Topic) -> None:
        self.records: list[tuple[str, Any]] = []
        self._feed: TopicFeed[Any] = TopicFeed(
            CommonSettings(bootstrap_servers=bootstrap_servers),
            topic,
            lambda k, e: self.records.append((k, e)),
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicRecorder:
        self._task = asyncio.create_task(self._feed.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def events(self) -> list[Any]:
        return [event for _, event in self.records]


def product_png(colour: tuple[int, int, int], size: int = 320) -> bytes:
    """A plain product shot: a coloured rounded shape on a light background."""
    canvas = np.full((size, size, 3), 245, dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    inside = ((yy - size / 2) / (size * 0.38)) ** 2 + ((xx - size / 2) / (size * 0.25)) ** 2 <= 1
    canvas[inside] = colour
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class ServiceProcess:
    """A service started as `python -m creativeloop.<name>` on free loopback ports."""

    name: str
    process: subprocess.Popen[bytes]
    target: str
    metrics_url: str
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def health(self) -> int:
        """The gRPC health status for the empty service name (UNKNOWN when it does not answer)."""
        with grpc.insecure_channel(self.target) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2.0
                )
            except grpc.RpcError:
                return int(health_pb2.HealthCheckResponse.UNKNOWN)
            return int(reply.status)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on `/metrics` (0 when absent)."""
        text = urllib.request.urlopen(self.metrics_url, timeout=5).read().decode()
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.health() != health_pb2.HealthCheckResponse.SERVING:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not SERVING after {timeout_s}s:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        terminate(self.process)


def spawn_service(name: str, env: dict[str, str], work: Path) -> ServiceProcess:
    """Start service `name` with `env` (added to this process's environment), logging to work/<name>.log."""
    prefix = f"CREATIVELOOP_{name.upper()}_"
    grpc_port, metrics_port = free_port(), free_port()
    log_path = work / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"creativeloop.{name}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "CREATIVELOOP_LOG_FORMAT": "console",
                "PYTHONUNBUFFERED": "1",
                **env,
                f"{prefix}GRPC_PORT": str(grpc_port),
                f"{prefix}METRICS_PORT": str(metrics_port),
            },
            cwd=work,
        )
    return ServiceProcess(
        name, process, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{metrics_port}/metrics", log_path
    )


async def publish_element_creatives(
    settings: CommonSettings, client_id: str, numeric: dict[str, float] | None = None
) -> tuple[str, list[str]]:
    """One product's three creatives with typed features (templates t1-t3, colours red, blue,
    green, category shoes, optional numeric attributes) on `creatives`: (product id, creative ids)."""
    events, _ = synthetic_catalogue(1, 3, seed=3)
    for event, (template, colour) in zip(
        events, [("t1", "red"), ("t2", "blue"), ("t3", "green")], strict=True
    ):
        event.creative.elements.update({"template": template, "colour": colour})
        event.creative.numeric_attributes.update(numeric or {})
        event.creative.category = "shoes"
    async with EventProducer(settings, client_id) as producer:
        await producer.send_batch(CREATIVES, [(e.creative.creative_id, e) for e in events])
    return events[0].creative.product_id, [e.creative.creative_id for e in events]
