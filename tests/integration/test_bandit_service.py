"""`python -m creativeloop.bandit` against a real Tansu broker: counts, DLQ, health, metrics, restart."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.broker import TansuBroker, free_port
from creativeloop.kit.processes import terminate
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS
from creativeloop.v1 import events_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import TopicRecorder, wait_until

pytestmark = pytest.mark.integration

APP_ID = "creativeloop-bandit"


class BanditProcess:
    """The service as the stack runs it: a subprocess configured by environment variables."""

    def __init__(self, bootstrap_servers: str, work_dir: Path) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.work_dir = work_dir
        self.grpc_port, self.metrics_port = free_port(), free_port()
        self.log_path = work_dir / "bandit.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        env = {
            **os.environ,
            "CREATIVELOOP_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "CREATIVELOOP_BANDIT_GRPC_PORT": str(self.grpc_port),
            "CREATIVELOOP_BANDIT_METRICS_PORT": str(self.metrics_port),
            "CREATIVELOOP_BANDIT_DATA_DIR": str(self.work_dir / "state"),
            "PYTHONUNBUFFERED": "1",
        }
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "creativeloop.bandit"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.work_dir,
            )

    def log_events(self) -> list[str]:
        """The `event` of each JSON log line this run wrote."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            lines = log.read().decode(errors="replace").splitlines()
        events = []
        for line in lines:
            try:
                events.append(str(json.loads(line).get("event")))
            except ValueError:
                continue  # tracebacks, if any
        return events

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def health(self) -> int:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{self.grpc_port}") as channel:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1
                )
            except grpc.aio.AioRpcError:
                return int(health_pb2.HealthCheckResponse.UNKNOWN)
        return int(reply.status)

    async def wait_serving(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self.health() != health_pb2.HealthCheckResponse.SERVING:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"bandit exited with {self.process.returncode}:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise AssertionError(f"bandit not SERVING after {timeout_s}s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    def terminate(self, timeout_s: float = 30) -> int:
        """SIGTERM and wait (bounded); returns the exit code."""
        assert self.process is not None
        process, self.process = self.process, None
        if not terminate(process, timeout_s):
            raise AssertionError(f"bandit ignored SIGTERM for {timeout_s}s:\n{self.log_tail()}")
        return int(process.returncode)

    def events_processed(self) -> dict[tuple[str, str], float]:
        """`creativeloop_events_total` of this process by (topic, outcome), from `/metrics`."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
        counts: dict[tuple[str, str], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "creativeloop_events_total" and sample.labels["group"] == APP_ID:
                    counts[sample.labels["topic"], sample.labels["outcome"]] = sample.value
        return counts


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    logs = tmp_path_factory.mktemp("bandit-broker")
    with TansuBroker(log_path=logs / "tansu.log") as running:
        asyncio.run(ensure_topics(CommonSettings(bootstrap_servers=running.bootstrap_servers)))
        yield running


@pytest.fixture
async def bandit(broker: TansuBroker, tmp_path: Path) -> AsyncIterator[BanditProcess]:
    service = BanditProcess(broker.bootstrap_servers, tmp_path)
    service.start()
    try:
        yield service
    finally:
        if service.process is not None:
            service.terminate()


def impression(iid: str, cid: str) -> events_pb2.Impression:
    return events_pb2.Impression(impression_id=iid, user_id="u", creative_id=cid, propensity=0.5)


def click(iid: str, cid: str = "") -> events_pb2.Click:
    return events_pb2.Click(impression_id=iid, user_id="u", creative_id=cid)


async def wait_for_events(
    service: BanditProcess,
    check: Callable[[dict[tuple[str, str], float]], bool],
    timeout_s: float,
    what: str,
) -> dict[tuple[str, str], float]:
    """Poll the bandit's event counters until `check` holds (a bound, not a speed test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        seen = {k: v for k, v in (await asyncio.to_thread(service.events_processed)).items() if v}
        if check(seen):
            return seen
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}: saw {seen}")
        await asyncio.sleep(0.2)


async def test_counts_dead_letters_health_metrics_and_restart(bandit: BanditProcess) -> None:
    run = uuid.uuid4().hex[:6]
    a, b = f"bandit-{run}-A", f"bandit-{run}-B"

    def iid(n: int) -> str:
        return f"{run}-i{n}"

    settings = CommonSettings(bootstrap_servers=bandit.bootstrap_servers)
    raw = AIOKafkaProducer(bootstrap_servers=bandit.bootstrap_servers)
    await raw.start()
    try:
        async with (
            EventProducer(settings, "bandit-test") as producer,
            TopicRecorder(bandit.bootstrap_servers, BANDIT_STATS) as stats,
            TopicRecorder(bandit.bootstrap_servers, AD_IMPRESSIONS.dlq) as impressions_dlq,
            TopicRecorder(bandit.bootstrap_servers, AD_CLICKS.dlq) as clicks_dlq,
        ):
            await bandit.wait_serving(90)
            events = bandit.log_events()
            assert events.index("tables recovered, consuming") < events.index("serving"), events

            def latest(cid: str) -> tuple[float, float] | None:
                found = [e for e in stats.events() if e.creative_id == cid]
                return (found[-1].impressions, found[-1].clicks) if found else None

            # i1..i5 shown; i1 clicked (twice), i3 clicked (the click names the wrong creative),
            # i5 clicked before its impression; i1 shown twice.
            shown: list[tuple[str, Message]] = [
                (iid(n), impression(iid(n), a if n <= 2 else b)) for n in (1, 2, 3, 4)
            ]
            await producer.send_batch(AD_IMPRESSIONS, [*shown, (iid(1), impression(iid(1), a))])
            clicked: list[tuple[str, Message]] = [
                (iid(1), click(iid(1))),
                (iid(1), click(iid(1))),
                (iid(3), click(iid(3), a)),
            ]
            await producer.send_batch(AD_CLICKS, clicked)
            await producer.send(AD_CLICKS, iid(5), click(iid(5)))
            await producer.send(AD_IMPRESSIONS, iid(5), impression(iid(5), b))
            # Garbage, an invalid impression, and a click keyed by something else than its impression.
            garbage = b"\x08\x96\x01not-a-protobuf\xff"
            await raw.send_and_wait(AD_IMPRESSIONS.name, garbage, key=f"{run}-garbage".encode())
            invalid = events_pb2.Impression(impression_id=iid(9), propensity=0.5)  # no creative_id
            await raw.send_and_wait(AD_IMPRESSIONS.name, invalid.SerializeToString(), key=iid(9).encode())
            misrouted = click(iid(2)).SerializeToString()
            await raw.send_and_wait(AD_CLICKS.name, misrouted, key=f"{run}-x".encode())

            # Clicks are `ok` or `held` depending on which topic faust reads first: only the sum is fixed.
            handled = await wait_for_events(
                bandit,
                lambda seen: sum(seen.values()) == 13,
                60,
                "all 13 records to be handled",
            )
            assert handled.get(("ad.clicks", "ok"), 0) + handled.get(("ad.clicks", "held"), 0) == 3, handled
            assert handled[("ad.clicks", "duplicate")] == 1, handled
            assert handled[("ad.clicks", "dead_lettered")] == 1, handled
            assert handled[("ad.impressions", "ok")] == 5, handled
            assert handled[("ad.impressions", "duplicate")] == 1, handled
            assert handled[("ad.impressions", "dead_lettered")] == 2, handled
            await wait_until(
                lambda: latest(a) == (2, 1) and latest(b) == (3, 2),
                60,
                f"bandit.stats to reach A=(2, 1), B=(3, 2); have A={latest(a)}, B={latest(b)}",
            )

            await wait_until(
                lambda: len(impressions_dlq.records) >= 2, 30, "two letters in ad.impressions.dlq"
            )
            letters = {k: e for k, e in impressions_dlq.records}
            assert letters[f"{run}-garbage"].value == garbage
            assert letters[f"{run}-garbage"].source_topic == AD_IMPRESSIONS.name
            assert letters[f"{run}-garbage"].consumer == APP_ID
            assert "undecodable creativeloop.v1.Impression" in letters[f"{run}-garbage"].reason
            assert letters[iid(9)].reason == "missing creative_id"
            await wait_until(lambda: len(clicks_dlq.records) >= 1, 30, "a letter in ad.clicks.dlq")
            assert "is not the impression_id" in clicks_dlq.records[0][1].reason

            # Restart: the state comes back from the changelogs and counting goes on from it.
            assert bandit.terminate() == 0
            assert bandit.log_events()[-1] == "stopped"
            published_before = len(stats.records)
            bandit.start()
            await bandit.wait_serving(90)
            await producer.send(AD_IMPRESSIONS, iid(6), impression(iid(6), a))
            await producer.send(AD_IMPRESSIONS, iid(2), impression(iid(2), a))  # seen before the restart
            await producer.send(AD_CLICKS, iid(2), click(iid(2)))
            await producer.send(AD_CLICKS, iid(1), click(iid(1)))  # clicked before the restart
            # Exactly the new records: the old ones were committed at SIGTERM, not read again.
            expected = {
                ("ad.impressions", "ok"): 1,
                ("ad.impressions", "duplicate"): 1,
                ("ad.clicks", "ok"): 1,
                ("ad.clicks", "duplicate"): 1,
            }
            await wait_for_events(
                bandit, lambda seen: seen == expected, 60, "the four new records to be handled once"
            )
            await wait_until(
                lambda: latest(a) == (3, 2),
                60,
                f"bandit.stats for A to continue from (2, 1) to (3, 2); have {latest(a)}",
            )
            # B did not change, but was republished after recovery with the recovered counts.
            await wait_until(
                lambda: any(e.creative_id == b for _, e in stats.records[published_before:]),
                30,
                "B to be republished after recovery",
            )
            assert latest(b) == (3, 2)
    finally:
        await raw.stop()
