"""`python -m creativeloop.bandit` against a real Tansu broker: counts per context bucket and over all
contexts, the attribution window (late and orphaned clicks in the DLQ), time decay, health, metrics,
and state that survives a restart (counts, and clicks held for their impression)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from creativeloop.kit.codec import encode
from creativeloop.kit.context import stats_key
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, Topic
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.processes import terminate
from creativeloop.v1 import events_pb2
from tests.integration.helpers import TopicRecorder, wait_until

pytestmark = pytest.mark.integration

APP_ID = "creativeloop-bandit"


class BanditProcess:
    """The service as the stack runs it: a subprocess configured by environment variables."""

    def __init__(self, bootstrap_servers: str, work_dir: Path, env: dict[str, str] | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.work_dir = work_dir
        self.env = env or {}
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
            # These tests stamp events at a fixed time (2027-01-15, for exact expected texts), weeks
            # from the records' Kafka timestamps: widen the event-time sanity bound to a year.
            "CREATIVELOOP_BANDIT_MAX_EVENT_LEAD_S": str(365 * 86400),
            "PYTHONUNBUFFERED": "1",
            **self.env,
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

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """The samples of metric `name` this process exports on `/metrics`."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
        return [
            (sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        ]

    def events_processed(self) -> dict[tuple[str, str], float]:
        """`creativeloop_events_total` of this process by (topic, outcome), from `/metrics`."""
        return {
            (labels["topic"], labels["outcome"]): value
            for labels, value in self.samples("creativeloop_events_total")
            if labels["group"] == APP_ID
        }


@pytest.fixture
async def start_bandit(
    broker: TansuBroker, tmp_path: Path
) -> AsyncIterator[Callable[[dict[str, str]], BanditProcess]]:
    """Starts the service with extra environment; stops whatever is still running at the end."""
    started: list[BanditProcess] = []

    def start(env: dict[str, str]) -> BanditProcess:
        service = BanditProcess(broker.bootstrap_servers, tmp_path, env)
        service.start()
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            if service.process is not None:
                service.terminate()


@pytest.fixture
async def bandit(start_bandit: Callable[[dict[str, str]], BanditProcess]) -> BanditProcess:
    return start_bandit({})


#: Event time of the test traffic: any fixed instant will do, the service runs on event time.
T = 1_800_000_000
MOBILE = {"placement": "feed", "device": "mobile", "request": "ignored"}
DESKTOP = {"placement": "feed", "device": "desktop"}
MOBILE_BUCKET = "placement=feed|device=mobile"
DESKTOP_BUCKET = "placement=feed|device=desktop"


def at(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(round((T + seconds) * 1_000_000_000))
    return stamp


def impression(
    iid: str, cid: str, context: dict[str, str] | None = None, seconds: float = 0.0
) -> events_pb2.Impression:
    return events_pb2.Impression(
        impression_id=iid, user_id="u", creative_id=cid, propensity=0.5, shown_at=at(seconds), context=context
    )


def click(iid: str, cid: str = "", seconds: float = 1.0) -> events_pb2.Click:
    return events_pb2.Click(impression_id=iid, user_id="u", creative_id=cid, clicked_at=at(seconds))


def latest(stats: TopicRecorder, cid: str, bucket: str = "") -> tuple[float, float] | None:
    """The newest (impressions, clicks) published for `cid` in `bucket` ("" = all contexts)."""
    found = [e for k, e in stats.records if k == stats_key(cid, bucket)]
    if not found:
        return None
    assert found[-1].creative_id == cid and found[-1].context_bucket == bucket, found[-1]
    return (found[-1].impressions, found[-1].clicks)


async def wait_for_stats(
    stats: TopicRecorder, expected: dict[tuple[str, str], tuple[float, float]], timeout_s: float
) -> None:
    def reached() -> bool:
        return all(latest(stats, cid, bucket) == value for (cid, bucket), value in expected.items())

    def have() -> dict[tuple[str, str], tuple[float, float] | None]:
        return {key: latest(stats, *key) for key in expected}

    try:
        await wait_until(reached, timeout_s, "bandit.stats")
    except AssertionError:
        raise AssertionError(
            f"bandit.stats did not reach {expected} in {timeout_s}s; have {have()}"
        ) from None


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


async def test_counts_per_bucket_dead_letters_health_metrics_and_restart(bandit: BanditProcess) -> None:
    run = uuid.uuid4().hex[:6]
    a, b = f"bandit-{run}-A", f"bandit-{run}-B"

    def iid(n: int) -> str:
        return f"{run}-i{n}"

    settings = CommonSettings(bootstrap_servers=bandit.bootstrap_servers)
    raw = AIOKafkaProducer(bootstrap_servers=bandit.bootstrap_servers, max_request_size=4 * 1024 * 1024)
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

            # Every impression is shown at T, so time decay (on by default) leaves whole counts.
            # i1..i5 shown (i1 twice); i1 clicked twice, i3 clicked (the click names the wrong
            # creative), i5 clicked before its impression, which has no context bucket.
            shown: list[tuple[str, Message]] = [
                (iid(1), impression(iid(1), a, MOBILE)),
                (iid(2), impression(iid(2), a, DESKTOP)),
                (iid(3), impression(iid(3), b, MOBILE)),
                (iid(4), impression(iid(4), b, MOBILE)),
            ]
            await producer.send_batch(AD_IMPRESSIONS, [*shown, (iid(1), impression(iid(1), a, MOBILE))])
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
            # Poison: a record over the 1 MiB cap, and an impression shown on 9999-12-31.
            oversized = b"\x0a\x02i9" + b"\x00" * (1024 * 1024 + 100)
            await raw.send_and_wait(AD_IMPRESSIONS.name, oversized, key=f"{run}-big".encode())
            doomsday = impression(iid(8), a)
            doomsday.shown_at.seconds = 253_402_300_799
            await raw.send_and_wait(AD_IMPRESSIONS.name, doomsday.SerializeToString(), key=iid(8).encode())

            # Clicks are `ok` or `held` depending on which topic faust reads first: only the sum is fixed.
            handled = await wait_for_events(
                bandit,
                lambda seen: sum(seen.values()) == 15,
                60,
                "all 15 records to be handled",
            )
            assert handled.get(("ad.clicks", "ok"), 0) + handled.get(("ad.clicks", "held"), 0) == 3, handled
            assert handled[("ad.clicks", "duplicate")] == 1, handled
            assert handled[("ad.clicks", "dead_lettered")] == 1, handled
            assert handled[("ad.impressions", "ok")] == 5, handled
            assert handled[("ad.impressions", "duplicate")] == 1, handled
            assert handled[("ad.impressions", "dead_lettered")] == 4, handled
            expected = {
                (a, MOBILE_BUCKET): (1.0, 1.0),
                (a, DESKTOP_BUCKET): (1.0, 0.0),
                (a, ""): (2.0, 1.0),
                (b, MOBILE_BUCKET): (2.0, 1.0),
                (b, ""): (3.0, 2.0),  # i5 has no bucket: counted over all contexts only
            }
            await wait_for_stats(stats, expected, 60)
            assert {k for k, _ in stats.records} == {stats_key(cid, bucket) for cid, bucket in expected}
            # Updated as of the event time of the counts, not of publication.
            assert {e.updated_at.seconds for e in stats.events()} == {T}  # 9999-12-31 reached no count
            # A creative's records share a partition, buckets before the aggregate: a reader that
            # keeps one record per creative_id ends on the aggregate.
            for cid in (a, b):
                assert [e for e in stats.events() if e.creative_id == cid][-1].context_bucket == ""

            await wait_until(
                lambda: len(impressions_dlq.records) >= 4, 30, "four letters in ad.impressions.dlq"
            )
            letters = {k: e for k, e in impressions_dlq.records}
            big = letters[f"{run}-big"]
            assert big.reason == f"record value of {len(oversized)} bytes over the 1048576-byte cap"
            assert big.value == oversized[: 64 * 1024]  # truncated: the letter fits the producer's cap
            assert "9999-12-31T23:59:59Z is more than" in letters[iid(8)].reason
            assert "(max_event_lead_s)" in letters[iid(8)].reason
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
            await producer.send(AD_IMPRESSIONS, iid(6), impression(iid(6), a, MOBILE))
            await producer.send(AD_IMPRESSIONS, iid(2), impression(iid(2), a, DESKTOP))  # seen before
            await producer.send(AD_CLICKS, iid(2), click(iid(2)))
            await producer.send(AD_CLICKS, iid(1), click(iid(1)))  # clicked before the restart
            # Exactly the new records: the old ones were committed at SIGTERM, not read again.
            new = {
                ("ad.impressions", "ok"): 1,
                ("ad.impressions", "duplicate"): 1,
                ("ad.clicks", "ok"): 1,
                ("ad.clicks", "duplicate"): 1,
            }
            await wait_for_events(
                bandit, lambda seen: seen == new, 60, "the four new records to be handled once"
            )
            await wait_for_stats(
                stats,
                {(a, MOBILE_BUCKET): (2.0, 1.0), (a, DESKTOP_BUCKET): (1.0, 1.0), (a, ""): (3.0, 2.0)},
                60,
            )
            # B did not change, but was republished after recovery with the recovered counts.
            await wait_until(
                lambda: {k for k, _ in stats.records[published_before:]} >= {b, stats_key(b, MOBILE_BUCKET)},
                30,
                "B to be republished after recovery",
            )
            assert latest(stats, b) == (3.0, 2.0)
            assert latest(stats, b, MOBILE_BUCKET) == (2.0, 1.0)
    finally:
        await raw.stop()


async def test_attribution_window_decay_and_held_clicks_across_a_restart(
    start_bandit: Callable[[dict[str, str]], BanditProcess],
) -> None:
    """A 2 s attribution window and a 1 h half-life, driven by the records' event times."""
    bandit = start_bandit(
        {"CREATIVELOOP_BANDIT_ATTRIBUTION_WINDOW_S": "2", "CREATIVELOOP_BANDIT_HALF_LIFE_S": "3600"}
    )
    a, c = "creative-a", "creative-c"
    raw = AIOKafkaProducer(bootstrap_servers=bandit.bootstrap_servers)
    await raw.start()

    async def send(topic: Topic, key: str, event: Message, partition: int | None = None) -> RecordMetadata:
        return await raw.send_and_wait(topic.name, encode(event), key=key.encode(), partition=partition)

    def unattributed() -> dict[str, float]:
        return {
            labels["reason"]: value
            for labels, value in bandit.samples("creativeloop_bandit_clicks_unattributed_total")
        }

    async def handled(expected: dict[tuple[str, str], float], what: str) -> None:
        await wait_for_events(bandit, lambda seen: seen == expected, 60, what)

    try:
        async with (
            TopicRecorder(bandit.bootstrap_servers, BANDIT_STATS) as stats,
            TopicRecorder(bandit.bootstrap_servers, AD_CLICKS.dlq) as clicks_dlq,
        ):
            await bandit.wait_serving(90)

            # 1. Three impressions at T, read before any click.
            for iid, cid in (("i1", a), ("i2", a), ("i5", c)):
                await send(AD_IMPRESSIONS, iid, impression(iid, cid, MOBILE))
            await handled({("ad.impressions", "ok"): 3}, "three impressions")

            # 2. Clicks: inside the window (i1, i5), 5 s after (i2: late), and one with no impression.
            await send(AD_CLICKS, "i1", click("i1", seconds=1))
            await send(AD_CLICKS, "i2", click("i2", seconds=5))
            await send(AD_CLICKS, "i5", click("i5", seconds=1))
            orphan = await send(AD_CLICKS, "orphan", click("orphan", seconds=1))
            await handled(
                {
                    ("ad.impressions", "ok"): 3,
                    ("ad.clicks", "ok"): 2,
                    ("ad.clicks", "dead_lettered"): 1,
                    ("ad.clicks", "held"): 1,
                },
                "two clicks counted, one late, one held",
            )
            await wait_until(lambda: len(clicks_dlq.records) >= 1, 30, "the late click in ad.clicks.dlq")
            late = clicks_dlq.records[0][1]
            assert late.reason == "click outside attribution window (2s): 5s after its impression"
            assert (late.key, late.value) == (b"i2", encode(click("i2", seconds=5)))
            assert unattributed() == {"no_impression": 0, "outside_window": 1}
            await wait_for_stats(stats, {(a, ""): (2.0, 1.0), (c, ""): (1.0, 1.0)}, 60)

            # 3. Restart while the orphan is held: the held click comes back from its changelog.
            assert bandit.terminate() == 0
            bandit.start()
            await bandit.wait_serving(90)
            assert bandit.samples("creativeloop_bandit_clicks_held")[0][1] == 1

            # 4. An impression one hour later on the orphan's partition passes its window.
            await send(AD_IMPRESSIONS, "i6", impression("i6", c, MOBILE, seconds=3600), orphan.partition)
            await wait_until(lambda: len(clicks_dlq.records) >= 2, 60, "the orphaned click in ad.clicks.dlq")
            letter = clicks_dlq.records[1][1]
            assert letter.reason == (
                "no impression within attribution window (2s): clicked at 2027-01-15T08:00:01Z, "
                f"impressions of partition {orphan.partition} reached 2027-01-15T09:00:00Z"
            )
            assert (letter.source_topic, letter.partition, letter.offset) == (
                AD_CLICKS.name,
                orphan.partition,
                orphan.offset,
            )
            assert (letter.key, letter.value, letter.consumer) == (
                b"orphan",
                encode(click("orphan", seconds=1)),
                APP_ID,
            )
            # Decay: i5 (clicked) weighs 1/2 one half-life later, next to i6: exact in binary.
            await wait_for_stats(stats, {(c, MOBILE_BUCKET): (1.5, 0.5), (c, ""): (1.5, 0.5)}, 60)
            assert [e.updated_at for k, e in stats.records if k == c][-1] == at(3600)

            # 5. Duplicates of both dead-lettered clicks change nothing; then a new late click,
            # whose letter must be the next one (the DLQ has one partition).
            await send(AD_CLICKS, "orphan", click("orphan", seconds=1))
            await send(AD_CLICKS, "i2", click("i2", seconds=5))
            await send(AD_IMPRESSIONS, "i7", impression("i7", a, DESKTOP, seconds=3600))
            await handled(
                {("ad.impressions", "ok"): 2, ("ad.clicks", "duplicate"): 2},
                "the duplicates and i7's impression",
            )
            await send(AD_CLICKS, "i7", click("i7", seconds=3610))
            await wait_until(lambda: len(clicks_dlq.records) >= 3, 60, "i7's late click in ad.clicks.dlq")
            assert [k for k, _ in clicks_dlq.records] == ["i2", "orphan", "i7"]
            assert clicks_dlq.records[2][1].reason == (
                "click outside attribution window (2s): 10s after its impression"
            )
            assert unattributed() == {"no_impression": 1, "outside_window": 1}
            # i7 is one half-life after a's impressions at T: (2 * 1/2 + 1, 1 * 1/2).
            await wait_for_stats(stats, {(a, DESKTOP_BUCKET): (1.0, 0.0), (a, ""): (2.0, 0.5)}, 60)
    finally:
        await raw.stop()
