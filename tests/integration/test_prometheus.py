"""A real Prometheus scraping a real service, with the project's rules loaded.

The understanding service runs as its own process (`python -m creativeloop.understanding`) on a
real Tansu broker; a few Understand RPCs (one invalid) give it metrics; `prometheus` (from
scripts/install-ops-tools.sh) scrapes it every second with deploy/prometheus/rules.yml loaded.
The test waits, with bounds, until Prometheus holds the INVALID_ARGUMENT count, then until the
recording rules evaluate over it and every rule of rules.yml evaluates without error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from creativeloop.kit.settings import ModelSettings
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.processes import terminate
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.v1 import common_pb2, understanding_pb2, understanding_pb2_grpc

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
INSTALLER = "scripts/install-ops-tools.sh"
UNDERSTANDING = "creativeloop.v1.UnderstandingService"
T = TypeVar("T")


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_for(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> T:
    """Poll `probe` until it returns something; fail with `what` (and the log) after `timeout_s`.

    A bound for a hung run, not a speed requirement. Fails at once if `process` exits.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result is not None:
            return result
        if process is not None and process.poll() is not None:
            pytest.fail(
                f"process exited with {process.returncode} while waiting for {what}:\n"
                f"{log_tail(log) if log else ''}",
                pytrace=False,
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout_s}s waiting for {what}\n{log_tail(log) if log else ''}",
                pytrace=False,
            )
        time.sleep(0.25)


@dataclass
class Service:
    grpc_port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=1.0
            )
        except grpc.RpcError:
            return int(health_pb2.HealthCheckResponse.UNKNOWN)
        return int(reply.status)


@pytest.fixture
def understanding(broker: TansuBroker, tmp_path: Path) -> Iterator[Service]:
    """`python -m creativeloop.understanding` on free ports, SERVING."""
    prefix = str(UnderstandingSettings.model_config.get("env_prefix", ""))
    grpc_port, metrics_port = free_port(), free_port()
    log = tmp_path / "understanding.log"
    env = {
        **os.environ,
        "CREATIVELOOP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CREATIVELOOP_ASSET_DIR": str(tmp_path / "assets"),
        # It runs in tmp_path: the model repository by absolute path (as LocalStack does).
        "CREATIVELOOP_MODELS_REPOSITORY": str(ModelSettings().repository.resolve()),
        f"{prefix}GRPC_PORT": str(grpc_port),
        f"{prefix}METRICS_PORT": str(metrics_port),
        "PYTHONUNBUFFERED": "1",
    }
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "creativeloop.understanding"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    service = Service(grpc_port, metrics_port, process, log)
    try:
        serving = int(health_pb2.HealthCheckResponse.SERVING)
        wait_for(
            lambda: True if health(service.target) == serving else None,
            90,
            "understanding to report SERVING",
            process,
            log,
        )
        yield service
    finally:
        terminate(process)


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as reply:
                body = json.loads(reply.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None  # not listening yet
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]] | None:
        """The instant vector of `expr`, or None while it is empty (or Prometheus not up)."""
        data = self.api("query", query=expr)
        if data is None or not data["result"]:
            return None
        result: list[dict[str, Any]] = data["result"]
        return result


@pytest.fixture
def prometheus(understanding: Service, tmp_path: Path) -> Iterator[Prometheus]:
    """Prometheus scraping the service every second, with deploy/prometheus/rules.yml loaded."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            f"prometheus not found on PATH: run {INSTALLER} (as root on Debian 12) first", pytrace=False
        )
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "creativeloop",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{understanding.metrics_port}"],
                        "labels": {"service": "understanding"},
                    }
                ],
            }
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
    port = free_port()
    log = tmp_path / "prometheus.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(lambda: server.api("status/buildinfo"), 60, "the Prometheus API", process, log)
        yield server
    finally:
        terminate(process)


def understand(target: str, titles: list[str]) -> list[grpc.StatusCode]:
    """One Understand RPC per title; the status code of each."""
    codes = []
    with grpc.insecure_channel(target) as channel:
        stub = understanding_pb2_grpc.UnderstandingServiceStub(channel)
        for i, title in enumerate(titles):
            request = understanding_pb2.UnderstandRequest(
                product=common_pb2.Product(product_id=f"prom-{i}", title=title)
            )
            try:
                stub.Understand(request, timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
    return codes


def test_prometheus_scrapes_a_service_and_evaluates_the_rules(
    understanding: Service, prometheus: Prometheus
) -> None:
    codes = understand(understanding.target, ["Cropped Wool Cardigan", "Relaxed Linen Shirt", ""])
    assert codes == [grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT]

    invalid = wait_for(
        lambda: prometheus.query('grpc_server_handled_total{grpc_code="INVALID_ARGUMENT"}'),
        60,
        "Prometheus to scrape grpc_server_handled_total{grpc_code=INVALID_ARGUMENT}",
        prometheus.process,
        prometheus.log,
    )
    (sample,) = invalid
    assert sample["metric"]["grpc_service"] == UNDERSTANDING
    assert sample["metric"]["grpc_method"] == "Understand"
    assert sample["metric"]["job"] == "creativeloop"
    assert sample["metric"]["service"] == "understanding"
    assert float(sample["value"][1]) == 1.0
    up = prometheus.query('up{job="creativeloop"}')
    assert up is not None and float(up[0]["value"][1]) == 1.0

    # More traffic after the first scrape, so the 5-minute rates have an increase to see.
    assert understand(understanding.target, ["Striped Cotton Tee"] * 5) == [grpc.StatusCode.OK] * 5
    selector = f'{{grpc_service="{UNDERSTANDING}", grpc_method="Understand"}}'
    rate = wait_for(
        lambda: prometheus.query(f"grpc_service_method:grpc_server_handled:rate5m{selector} > 0"),
        60,
        "the recording rule grpc_service_method:grpc_server_handled:rate5m to see the RPCs",
        prometheus.process,
        prometheus.log,
    )
    assert set(rate[0]["metric"]) == {"__name__", "grpc_service", "grpc_method"}
    # No server-side errors: the error ratio is recorded as 0, not left absent.
    errors = wait_for(
        lambda: prometheus.query(f"grpc_service_method:grpc_server_errors:ratio_rate5m{selector}"),
        60,
        "the recording rule grpc_service_method:grpc_server_errors:ratio_rate5m",
        prometheus.process,
        prometheus.log,
    )
    assert float(errors[0]["value"][1]) == 0.0
    by_code = wait_for(
        lambda: prometheus.query(
            'grpc_service_method_code:grpc_server_handled:ratio_rate5m{grpc_code="INVALID_ARGUMENT"}'
        ),
        60,
        "the recording rule grpc_service_method_code:grpc_server_handled:ratio_rate5m",
        prometheus.process,
        prometheus.log,
    )
    assert 0.0 <= float(by_code[0]["value"][1]) < 1.0
    # Health checks (counted by the service too) are not CreativeLoop RPCs.
    assert prometheus.query('grpc_server_handled_total{grpc_service="grpc.health.v1.Health"}') is not None
    handled = prometheus.query("grpc_service_method:grpc_server_handled:rate5m")
    assert handled is not None and {s["metric"]["grpc_service"] for s in handled} == {UNDERSTANDING}

    # Every rule of rules.yml was loaded and evaluates without error.
    def evaluated_rules() -> list[dict[str, Any]] | None:
        data = prometheus.api("rules")
        rules = [rule for group in (data or {}).get("groups", []) for rule in group["rules"]]
        if not rules or any(rule["health"] == "unknown" for rule in rules):
            return None
        return rules

    rules = wait_for(evaluated_rules, 60, "every rule to be evaluated", prometheus.process, prometheus.log)
    unhealthy = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert not unhealthy, unhealthy
    assert {rule["name"] for rule in rules} >= {
        "grpc_service_method:grpc_server_handled:rate5m",
        "grpc_service_method:grpc_server_handling_seconds:p99_5m",
        "topic_group:creativeloop_events_dead_lettered:rate5m",
        "CreativeLoopHighErrorRatio",
        "CreativeLoopRankLatencyHigh",
        "CreativeLoopDeadLetters",
        "CreativeLoopTargetDown",
    }
    firing = prometheus.api("alerts")
    assert firing is not None
    assert not [a for a in firing["alerts"] if a["state"] == "firing"], firing["alerts"]
