"""The local stack: Tansu plus every service as its own process, on loopback.

`LocalStack` is what `creativeloop up` and `creativeloop demo` run, and what the integration
and end-to-end tests start, so the tests exercise exactly what a developer runs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic_settings import BaseSettings

from creativeloop.attribution.settings import AttributionSettings
from creativeloop.bandit.settings import BanditSettings
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.settings import (
    CommonSettings,
    GrpcTlsSettings,
    KafkaSecuritySettings,
    ModelSettings,
    ServiceSettings,
)
from creativeloop.kit.tls import aio_channel, sync_channel
from creativeloop.ranking.settings import RankingSettings
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.processes import terminate
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.videogen.settings import VideogenSettings


@dataclass(frozen=True)
class ServiceSpec:
    """A deployable service: its name, its module (`python -m`) and its settings class."""

    name: str
    module: str
    settings: type[ServiceSettings]

    @property
    def env_prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("understanding", "creativeloop.understanding", UnderstandingSettings),
    ServiceSpec("copygen", "creativeloop.copygen", CopygenSettings),
    ServiceSpec("imagegen", "creativeloop.imagegen", ImagegenSettings),
    ServiceSpec("ranking", "creativeloop.ranking", RankingSettings),
    ServiceSpec("bandit", "creativeloop.bandit", BanditSettings),
    ServiceSpec("videogen", "creativeloop.videogen", VideogenSettings),
    ServiceSpec("attribution", "creativeloop.attribution", AttributionSettings),
)


class StackError(RuntimeError):
    pass


@dataclass
class RunningService:
    spec: ServiceSpec
    grpc_port: int
    metrics_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def health_status(target: str, timeout_s: float = 1.0) -> int:
    """The overall gRPC health status of the server at `target` (UNKNOWN if unreachable)."""
    with sync_channel(target, GrpcTlsSettings()) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.RpcError:
            return int(health_pb2.HealthCheckResponse.UNKNOWN)
        return int(reply.status)


async def wait_serving(
    target: str, process: subprocess.Popen[bytes], timeout_s: float, describe: Callable[[], str]
) -> None:
    """Wait (bounded) until the gRPC server at `target` reports SERVING.

    Fails fast with `describe()` (e.g. a log tail) if `process` exits or the time runs out.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with aio_channel(target, GrpcTlsSettings()) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.poll() is not None:
                raise StackError(f"{target}: process exited with {process.returncode}\n{describe()}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if loop.time() > deadline:
                raise StackError(f"{target}: not SERVING after {timeout_s}s\n{describe()}")
            await asyncio.sleep(0.1)


@dataclass
class LocalStack:
    """Broker and services as child processes; `with LocalStack(dir) as stack:` starts and stops them.

    `fixed_ports=True` uses each service's default ports (what docs and `up` print); otherwise free
    ports are picked so several stacks (tests) can run side by side.
    """

    work_dir: Path
    services: tuple[ServiceSpec, ...] = SERVICES
    fixed_ports: bool = False
    broker_port: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: TansuBroker | None = None
    running: dict[str, RunningService] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        if self.broker is None:
            raise StackError("stack not started")
        return self.broker.bootstrap_servers

    @property
    def asset_dir(self) -> Path:
        return self.work_dir / "assets"

    @property
    def model_dir(self) -> Path:
        """Where ranking looks for CTR model versions (its setting, else the default under work_dir)."""
        configured = self.extra_env.get("CREATIVELOOP_RANKING_MODEL_DIR")
        return Path(configured) if configured else self.work_dir / "deploy" / "models" / "ranker"

    def common_env(self) -> dict[str, str]:
        # Services run in work_dir: hand them the caller's model repository and data as absolute paths.
        return {
            "CREATIVELOOP_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "CREATIVELOOP_ASSET_DIR": str(self.asset_dir),
            "CREATIVELOOP_MODELS_REPOSITORY": str(ModelSettings().repository.resolve()),
            "CREATIVELOOP_UNDERSTANDING_DATA_DIR": str(UnderstandingSettings().data_dir.resolve()),
            **self.extra_env,
        }

    def start(self, timeout_s: float = 60.0) -> LocalStack:
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.asset_dir.mkdir(parents=True, exist_ok=True)
        port = self.broker_port or (9092 if self.fixed_ports else None)
        self.broker = TansuBroker(port=port, log_path=logs / "tansu.log").start()
        try:
            asyncio.run(ensure_topics(CommonSettings(bootstrap_servers=self.bootstrap_servers)))
            for spec in self.services:
                self._spawn(spec, logs)
            self.wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, spec: ServiceSpec, logs: Path, ports: tuple[int, int] | None = None) -> None:
        defaults = spec.settings.model_fields
        if ports is not None:
            grpc_port, metrics_port = ports
        elif self.fixed_ports:
            grpc_port, metrics_port = (
                defaults["grpc_port"].default,
                defaults["metrics_port"].default,
            )
        else:
            grpc_port, metrics_port = free_port(), free_port()
        service = RunningService(spec, grpc_port, metrics_port, logs / f"{spec.name}.log")
        env = {
            **os.environ,
            **self.common_env(),
            f"{spec.env_prefix}GRPC_PORT": str(grpc_port),
            f"{spec.env_prefix}METRICS_PORT": str(metrics_port),
            "PYTHONUNBUFFERED": "1",
        }
        if spec.name == "imagegen" and "copygen" in self.running:
            env[f"{spec.env_prefix}COPYGEN_TARGET"] = self.running["copygen"].target
        if spec.name == "bandit":
            env[f"{spec.env_prefix}DATA_DIR"] = str(self.work_dir / "bandit")
        with open(service.log_path, "ab") as log:
            service.process = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.work_dir,
            )
        self.running[spec.name] = service

    def wait_healthy(self, timeout_s: float = 60.0, names: list[str] | None = None) -> None:
        """Block until every (named) service reports SERVING; fail fast if one exits."""
        deadline = time.monotonic() + timeout_s
        pending = set(names or self.running)
        while pending:
            for name in sorted(pending):
                service = self.running[name]
                if service.process is None or service.process.poll() is not None:
                    raise StackError(f"{name} exited during start-up:\n{service.log_tail()}")
                if health_status(service.target) == health_pb2.HealthCheckResponse.SERVING:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                tails = "\n".join(f"--- {n}\n{self.running[n].log_tail()}" for n in sorted(pending))
                raise StackError(f"not healthy after {timeout_s}s: {sorted(pending)}\n{tails}")
            if pending:
                time.sleep(0.2)

    def stop_service(self, name: str, timeout_s: float = 15.0) -> int | None:
        """SIGTERM one service and wait for it; returns its exit code."""
        service = self.running[name]
        process = service.process
        if process is None:
            return None
        terminate(process, timeout_s)
        service.process = None
        return process.returncode

    def restart_service(self, name: str, timeout_s: float = 60.0) -> None:
        self.stop_service(name)
        old = self.running[name]
        self._spawn(old.spec, self.work_dir / "logs", (old.grpc_port, old.metrics_port))
        self.wait_healthy(timeout_s, [name])

    def stop(self) -> None:
        for name in reversed(list(self.running)):
            self.stop_service(name)
        if self.broker is not None:
            self.broker.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class, for the configuration reference."""
    return [
        CommonSettings,
        KafkaSecuritySettings,
        ModelSettings,
        GrpcTlsSettings,
        *(spec.settings for spec in SERVICES),
    ]
