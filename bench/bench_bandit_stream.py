"""The bandit stream against its floors, in one run: throughput, 1 vs 2 workers, staleness, memory.

    python -m bench.bench_bandit_stream [--impressions 200000] [--workers 1,2] [--rate 1000]
                                        [--staleness-s 20] [--partitions 4]

Starts a local Tansu broker, creates the topics, and pre-produces `--impressions` impressions
(`--creatives` creatives, four context buckets, `--users` users, event times 1 ms apart) and a
click for each with probability `--click-rate` (2 s after its impression) with aiokafka. Then:

1. **Throughput**, on the same records:
   - ``raw aiokafka consumer`` (the floor): one consumer assigned every partition of both topics,
     reading from the beginning until it has every record, without processing them (best of 3);
   - ``bandit, N workers``: N `python -m creativeloop.bandit` processes (as deployed; one consumer
     group, fresh state), timed from the moment all are SERVING until `bandit.stats` carries the
     expected totals for every creative (over all contexts, decayed with the service's
     half-life); their CPU seconds per record come from /proc.
2. **Click-to-ranking staleness** at `--rate` events/s (one worker, fresh state): background
   impressions and clicks, and probe clicks, each on a creative of its own, whose impression
   was produced a second earlier. Staleness is the time from producing the click to the moment
   a `TopicFeed` (ranking's reader) holds the `bandit.stats` record that counts it.
3. ``faust agent`` (`--faust-ceiling`, default on): a faust agent over both topics that only
   counts the records, the ceiling of a bandit written as faust agents.
4. **Memory per entity**, in process (tracemalloc): the bandit's join state per impression, its
   user windows per user, counts per creative; ranking's caches per user and per creative.

Prints markdown tables, then one JSON line. Every ratio is against a floor measured in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.bandit.partition import PartitionState, Rules
from creativeloop.bandit.settings import BanditSettings
from creativeloop.bandit.stats import Outcome
from creativeloop.bandit.streams import stats_partition
from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.behaviour import UserWindow, behaviour_message
from creativeloop.kit.codec import encode
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.stack.local import wait_serving
from creativeloop.stack.processes import terminate
from creativeloop.v1 import events_pb2

NS_PER_S = 1_000_000_000
#: Event time of the first impression (any fixed instant: the service runs on event time).
T0_NS = 1_800_000_000 * NS_PER_S
CONTEXTS = [
    {"placement": placement, "device": device}
    for placement in ("feed", "search")
    for device in ("mobile", "desktop")
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stamp(ns: int) -> Timestamp:
    value = Timestamp()
    value.FromNanoseconds(ns)
    return value


def expected_totals(
    shown: dict[str, list[tuple[int, bool]]], half_life_s: float | None
) -> dict[str, tuple[float, float]]:
    """Per creative over all contexts: the decayed (impressions, clicks) as of its newest impression."""
    totals = {}
    for creative_id, events in shown.items():
        newest = max(t for t, _ in events)
        weights = [
            (2 ** (-(newest - t) / NS_PER_S / half_life_s) if half_life_s else 1.0, clicked)
            for t, clicked in events
        ]
        totals[creative_id] = (sum(w for w, _ in weights), sum(w for w, c in weights if c))
    return totals


def traffic(
    args: argparse.Namespace,
) -> tuple[list[tuple[str, bytes, bytes]], dict[str, tuple[float, float]]]:
    """The records (topic, key, value), encoded, and the expected totals."""
    rng = random.Random(args.seed)
    shown: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    records: list[tuple[str, bytes, bytes]] = []
    clicks: list[tuple[str, bytes, bytes]] = []
    for n in range(args.impressions):
        impression_id = f"imp-{n:08d}"
        creative_id = f"creative-{rng.randrange(args.creatives):04d}"
        shown_at = T0_NS + n * 1_000_000
        clicked = rng.random() < args.click_rate
        impression = events_pb2.Impression(
            impression_id=impression_id,
            user_id=f"user-{rng.randrange(args.users)}",
            product_id="product-1",
            creative_id=creative_id,
            propensity=1 / args.creatives,
            policy_version="bench",
            shown_at=stamp(shown_at),
            context=rng.choice(CONTEXTS),
        )
        records.append((AD_IMPRESSIONS.name, impression_id.encode(), encode(impression)))
        shown[creative_id].append((shown_at, clicked))
        if clicked:
            click = events_pb2.Click(
                impression_id=impression_id,
                user_id=impression.user_id,
                creative_id=creative_id,
                clicked_at=stamp(shown_at + 2 * NS_PER_S),
            )
            clicks.append((AD_CLICKS.name, impression_id.encode(), encode(click)))
    return records + clicks, expected_totals(shown, args.half_life_s)


async def produce(bootstrap: str, records: list[tuple[str, bytes, bytes]], partitions: int) -> float:
    """Send pre-encoded records in record batches per partition (the producer's fast path); seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=512 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        by_partition: dict[tuple[str, int], list[tuple[bytes, bytes]]] = defaultdict(list)
        for topic, key, value in records:
            by_partition[topic, stats_partition(key.decode(), partitions)].append((key, value))
        futures = []
        for (topic, partition), items in by_partition.items():
            batch = producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def raw_read(bootstrap: str, records: int) -> tuple[float, float]:
    """Seconds (and CPU seconds of this process) for one consumer to read every record of both
    topics from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in (AD_IMPRESSIONS, AD_CLICKS)
            for p in sorted(consumer.partitions_for_topic(topic.name) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started, cpu = time.perf_counter(), time.process_time()
        seen = 0
        while seen < records:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(batch) for batch in batches.values())
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await consumer.stop()


async def faust_ceiling(bootstrap: str, records: int, work: Path) -> float:
    """Records/s of a faust agent that only counts the records of both topics (no processing).

    faust's per-message path (consumer thread, conductor, one event per record) is what a faust
    agent pays before any work: the ceiling of a bandit built as faust agents.
    """
    app = faust.App(
        f"bench-faust-ceiling-{time.time_ns()}",
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        store="memory://",
        datadir=str(work / "faust-ceiling"),
        broker_session_timeout=6.0,
        broker_heartbeat_interval=2.0,
        consumer_auto_offset_reset="earliest",
    )
    seen = {"n": 0, "first": 0.0, "last": 0.0}

    async def count(stream: Any) -> None:
        async for _ in stream.events():
            if not seen["n"]:
                seen["first"] = time.perf_counter()
            seen["n"] += 1
            if seen["n"] == records:
                seen["last"] = time.perf_counter()

    app.agent(app.topic(AD_IMPRESSIONS.name, AD_CLICKS.name), name="count")(count)
    await app.start()
    try:
        deadline = time.perf_counter() + 300
        while not seen["last"] and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    return records / (seen["last"] - seen["first"]) if seen["last"] else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Bandits:
    """N bandit processes of one consumer group, as the stack runs them."""

    def __init__(
        self,
        bootstrap: str,
        args: argparse.Namespace,
        work: Path,
        app_id: str,
        workers: int,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.processes: list[tuple[subprocess.Popen[bytes], int, Path]] = []
        for n in range(workers):
            grpc_port, log = free_port(), work / f"{app_id}-{n}.log"
            env = {
                **os.environ,
                "CREATIVELOOP_BOOTSTRAP_SERVERS": bootstrap,
                "CREATIVELOOP_TOPIC_PARTITIONS": str(args.partitions),
                "CREATIVELOOP_BANDIT_APP_ID": app_id,
                "CREATIVELOOP_BANDIT_GRPC_PORT": str(grpc_port),
                "CREATIVELOOP_BANDIT_METRICS_PORT": str(free_port()),
                "CREATIVELOOP_BANDIT_DATA_DIR": str(work / f"{app_id}-{n}"),
                "CREATIVELOOP_BANDIT_HALF_LIFE_S": str(args.half_life_s or 0),
                "CREATIVELOOP_LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            }
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "creativeloop.bandit"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            self.processes.append((process, grpc_port, log))

    async def serving(self, timeout_s: float = 120) -> None:
        for process, port, log in self.processes:
            await wait_serving(f"127.0.0.1:{port}", process, timeout_s, lambda log=log: f"see {log}")  # type: ignore[misc]

    def cpu(self) -> float:
        return sum(cpu_seconds(process.pid) for process, _, _ in self.processes)

    def check(self) -> None:
        for process, _, log in self.processes:
            if process.poll() is not None:
                raise SystemExit(f"bandit exited with {process.returncode}; see {log}")

    def stop(self) -> None:
        for process, _, _ in self.processes:
            terminate(process, grace_s=15)


async def throughput(
    args: argparse.Namespace,
    records: list[tuple[str, bytes, bytes]],
    expected: dict[str, tuple[float, float]],
    work: Path,
    workers: int,
) -> dict[str, float]:
    """On a fresh broker: start `workers` processes, wait until all are SERVING, then send the
    records and time until bandit.stats has every expected total; then the raw floor on them."""
    latest: dict[str, events_pb2.BanditStats] = {}

    def apply(_key: str, event: events_pb2.BanditStats) -> None:
        if not event.context_bucket:
            latest[event.creative_id] = event

    def done() -> bool:
        for creative_id, (impressions, clicks) in expected.items():
            stats = latest.get(creative_id)
            if stats is None or not (
                math.isclose(stats.impressions, impressions, rel_tol=1e-9)
                and math.isclose(stats.clicks, clicks, rel_tol=1e-9, abs_tol=1e-12)
            ):
                return False
        return True

    with TansuBroker(log_path=work / f"tansu-{workers}.log") as broker:
        bootstrap = broker.bootstrap_servers
        await ensure_topics(CommonSettings(bootstrap_servers=bootstrap, topic_partitions=args.partitions))
        feed = TopicFeed(CommonSettings(bootstrap_servers=bootstrap), BANDIT_STATS, apply)
        follow = asyncio.create_task(feed.run())
        started = time.perf_counter()
        bandits = Bandits(bootstrap, args, work, f"bench-{workers}", workers)
        try:
            await bandits.serving()
            serving = time.perf_counter()
            cpu_at_start = bandits.cpu()
            sending = time.perf_counter()
            produce_s = await produce(bootstrap, records, args.partitions)
            deadline = sending + args.timeout_s
            while not done():
                bandits.check()
                if time.perf_counter() > deadline:
                    missing = sum(1 for c in expected if c not in latest)
                    raise SystemExit(f"bandit.stats incomplete after {args.timeout_s}s ({missing} missing)")
                await asyncio.sleep(0.02)
            finished = time.perf_counter()
            cpu = bandits.cpu() - cpu_at_start
        finally:
            bandits.stop()
            follow.cancel()
            await asyncio.gather(follow, return_exceptions=True)
        raw_s, raw_cpu_s = min([await raw_read(bootstrap, len(records)) for _ in range(3)])
        ceiling = (
            await faust_ceiling(bootstrap, len(records), work) if args.faust_ceiling and workers == 1 else 0.0
        )
    return {
        "startup_s": serving - started,
        "processing_s": finished - sending,
        "produce_s": produce_s,
        "cpu_s": cpu,
        "raw_s": raw_s,
        "raw_cpu_s": raw_cpu_s,
        "faust_ceiling_records_per_s": ceiling,
    }


async def staleness(bootstrap: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Click produced -> the bandit.stats record that counts it, read by ranking's feed.

    Twenty busy "probe" creatives take half of the impressions; a tenth of all events are clicks
    on probe impressions of the previous 50 ms tick. Without decay counts are whole numbers, so
    the k-th click of a probe creative is counted once a record shows k clicks. (Clicks of one
    creative from two source partitions may be counted in the other order: the k-th click is
    then timed by when the k-th count appears, which is fair on average.)
    """
    reached: dict[str, list[float]] = defaultdict(list)

    def apply(_key: str, event: events_pb2.BanditStats) -> None:
        if event.creative_id.startswith("probe-") and not event.context_bucket:
            times, now = reached[event.creative_id], time.perf_counter()
            while len(times) < round(event.clicks):
                times.append(now)

    feed = TopicFeed(CommonSettings(bootstrap_servers=bootstrap), BANDIT_STATS, apply, lookback_s=5)
    follow = asyncio.create_task(feed.run())
    bandits = Bandits(bootstrap, args, work, "bench-staleness", 1, {"CREATIVELOOP_BANDIT_HALF_LIFE_S": "0"})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    produced: dict[str, list[float]] = defaultdict(list)
    probe_creatives = [f"probe-{i:02d}" for i in range(20)]
    try:
        await bandits.serving()
        await asyncio.wait_for(feed.caught_up.wait(), 60)
        cpu_before = bandits.cpu()
        rng = random.Random(args.seed + 1)
        tick = 0.05
        per_tick = round(args.rate * tick)
        clicks_per_tick = max(1, per_tick // 10)
        start = time.perf_counter()
        base_ns = T0_NS + 10**6 * NS_PER_S
        n = events = 0
        shown: list[tuple[str, str]] = []  # probe impressions of the last tick: (impression_id, creative)
        while time.perf_counter() - start < args.staleness_s:
            tick_start = time.perf_counter()
            now_ns = base_ns + round((tick_start - start) * NS_PER_S)
            for impression_id, creative_id in rng.sample(shown, min(clicks_per_tick, len(shown))):
                click = events_pb2.Click(impression_id=impression_id, clicked_at=stamp(now_ns))
                produced[creative_id].append(time.perf_counter())
                await producer.send(AD_CLICKS.name, encode(click), key=impression_id.encode())
                events += 1
            shown = []
            for _ in range(per_tick - clicks_per_tick):
                n += 1
                impression_id = f"stale-{n}"
                probe = rng.random() < 0.5
                creative_id = (
                    rng.choice(probe_creatives) if probe else f"creative-{rng.randrange(args.creatives):04d}"
                )
                impression = events_pb2.Impression(
                    impression_id=impression_id,
                    user_id=f"user-{rng.randrange(args.users)}",
                    creative_id=creative_id,
                    propensity=0.5,
                    shown_at=stamp(now_ns),
                    context=rng.choice(CONTEXTS),
                )
                await producer.send(AD_IMPRESSIONS.name, encode(impression), key=impression_id.encode())
                events += 1
                if probe:
                    shown.append((impression_id, creative_id))
            await asyncio.sleep(max(0.0, tick - (time.perf_counter() - tick_start)))
        elapsed = time.perf_counter() - start
        await asyncio.sleep(3)  # the last clicks arrive
        cpu = bandits.cpu() - cpu_before
    finally:
        await producer.stop()
        bandits.stop()
        follow.cancel()
        await asyncio.gather(follow, return_exceptions=True)
    delays: list[float] = []
    missing = 0
    for creative_id, times in produced.items():
        counted = reached.get(creative_id, [])
        delays += [counted[k] - t for k, t in enumerate(times) if k < len(counted)]
        missing += max(0, len(times) - len(counted))
    delays.sort()

    def percentile(q: float) -> float:
        return delays[min(len(delays) - 1, int(q * len(delays)))] if delays else float("nan")

    return {
        "events_per_s": round(events / elapsed),
        "probes": len(delays) + missing,
        "probes_missing": missing,
        "p50_s": round(percentile(0.50), 3),
        "p95_s": round(percentile(0.95), 3),
        "p99_s": round(percentile(0.99), 3),
        "max_s": round(delays[-1], 3) if delays else float("nan"),
        "mean_s": round(statistics.fmean(delays), 3) if delays else float("nan"),
        "bandit_cpu_share": round(cpu / elapsed, 3),
    }


def memory() -> dict[str, float]:
    """Bytes per entity of the bandit's state and ranking's caches (tracemalloc, one process)."""
    rules = Rules(
        partitions=1,
        window_s=1800,
        horizon_s=3600,
        max_clock_lead_s=None,
        half_life_s=21600,
        user_history=200,
        max_users=10**9,
        flush_interval_s=0.1,
        refresh_s=300,
    )
    rng = random.Random(0)
    creatives = [f"creative-{i:06d}" for i in range(2000)]
    events = [
        events_pb2.Impression(
            impression_id=f"{n:032x}",
            user_id=f"user-{n % 5000:08d}",
            creative_id=rng.choice(creatives),
            propensity=0.5,
            shown_at=stamp(T0_NS + n * 1_000_000),
            context=rng.choice(CONTEXTS),
        )
        for n in range(100_000)
    ]
    tracemalloc.start()
    state = PartitionState(0, rules, 0)
    before = tracemalloc.get_traced_memory()[0]
    for event in events:
        state.ledger.admit_impression(event, 0, 0, None)  # type: ignore[arg-type]
    state.ledger.take_changes()
    per_impression = (tracemalloc.get_traced_memory()[0] - before) / len(events)

    def windows(history: int) -> float:
        start = tracemalloc.get_traced_memory()[0]
        kept = [UserWindow(history) for _ in range(500)]
        for u, window in enumerate(kept):
            for k in range(history):
                window.show(f"{u:08d}{k:024x}", creatives[(u * 7 + k) % len(creatives)], T0_NS + k)
        return (tracemalloc.get_traced_memory()[0] - start) / len(kept)

    full, typical = windows(200), windows(20)
    start = tracemalloc.get_traced_memory()[0]
    counter = state.counter
    for i, creative_id in enumerate(creatives):
        for context in [*CONTEXTS, {}]:
            bucket = "|".join(f"{k}={v}" for k, v in context.items())
            counter.add(Outcome(creative_id, bucket, T0_NS + i, 1, 0))
    per_creative = (tracemalloc.get_traced_memory()[0] - start) / len(creatives)
    store = FeatureStore(max_users=10**9)
    start = tracemalloc.get_traced_memory()[0]
    for u in range(2000):
        window = UserWindow(200)
        for k in range(20):
            window.show(f"i{u}-{k}", creatives[(u + k) % len(creatives)], k)
        store.apply_behaviour(f"user-{u}", behaviour_message(f"user-{u}", window))
    ranking_per_user = (tracemalloc.get_traced_memory()[0] - start) / 2000
    catalogue_events, _ = synthetic_catalogue(200, 10, seed=0)
    board, catalogue = StatsBoard(), CreativeCatalogue()
    start = tracemalloc.get_traced_memory()[0]
    for event in catalogue_events:
        catalogue.apply(event.creative.creative_id, event)
        store.apply_creative(event.creative.creative_id, event)
        for bucket in ("", "placement=feed|device=mobile"):
            stats = events_pb2.BanditStats(
                creative_id=event.creative.creative_id, impressions=10, clicks=1, context_bucket=bucket
            )
            board.apply(event.creative.creative_id, stats)
            store.apply_stats(event.creative.creative_id, stats)
    store.matrix("user-1", [e.creative.creative_id for e in catalogue_events])  # encodes every creative
    ranking_per_creative = (tracemalloc.get_traced_memory()[0] - start) / len(catalogue_events)
    tracemalloc.stop()
    return {
        "bandit_bytes_per_impression_in_window": round(per_impression),
        "bandit_bytes_per_user_200": round(full),
        "bandit_bytes_per_user_20": round(typical),
        "bandit_bytes_per_creative_5_buckets": round(per_creative),
        "ranking_bytes_per_user_20_creatives": round(ranking_per_user),
        "ranking_bytes_per_creative": round(ranking_per_creative),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "bench": "bandit_stream",
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    records, expected = traffic(args)
    result.update(
        impressions=args.impressions,
        records=len(records),
        creatives=args.creatives,
        users=args.users,
        partitions=args.partitions,
        half_life_s=args.half_life_s,
    )
    with tempfile.TemporaryDirectory(prefix="bench-bandit-") as tmp:
        work = Path(tmp)
        for workers in args.workers:
            run = await throughput(args, records, expected, work, workers)
            rps = len(records) / run["processing_s"]
            raw_rps = len(records) / run["raw_s"]
            result[f"workers_{workers}"] = {
                "startup_s": round(run["startup_s"], 2),
                "processing_s": round(run["processing_s"], 3),
                "produce_s": round(run["produce_s"], 3),
                "records_per_s": round(rps),
                "raw_s": round(run["raw_s"], 4),
                "raw_records_per_s": round(raw_rps),
                "vs_raw": round(rps / raw_rps, 4),
                "cpu_us_per_record": round(run["cpu_s"] / len(records) * 1e6, 2),
                "raw_cpu_us_per_record": round(run["raw_cpu_s"] / len(records) * 1e6, 2),
                "cpu_vs_raw": round(run["raw_cpu_s"] / run["cpu_s"], 4) if run["cpu_s"] else 0.0,
            }
            if run["faust_ceiling_records_per_s"]:
                result["faust_ceiling"] = {
                    "records_per_s": round(run["faust_ceiling_records_per_s"]),
                    "vs_raw": round(run["faust_ceiling_records_per_s"] / raw_rps, 4),
                }
        if args.staleness_s > 0:
            with TansuBroker(log_path=work / "tansu-staleness.log") as broker:
                await ensure_topics(
                    CommonSettings(
                        bootstrap_servers=broker.bootstrap_servers, topic_partitions=args.partitions
                    )
                )
                result["staleness"] = await staleness(broker.bootstrap_servers, args, work)
    result["memory"] = memory()
    result["load_after"] = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--impressions", type=int, default=200_000)
    parser.add_argument("--click-rate", type=float, default=0.1)
    parser.add_argument("--creatives", type=int, default=50)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=CommonSettings().topic_partitions)
    parser.add_argument(
        "--workers", type=lambda text: [int(w) for w in text.split(",")], default=[1, 2], help="e.g. 1,2"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s of the staleness run")
    parser.add_argument(
        "--staleness-s", type=float, default=20.0, help="length of the staleness run (0: skip)"
    )
    parser.add_argument(
        "--half-life-s",
        type=float,
        default=BanditSettings().half_life_s,
        help="the service's decay half-life (0: no decay)",
    )
    parser.add_argument(
        "--faust-ceiling",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time a faust agent that only counts the records (the per-message path's ceiling)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up on the bandit after this")
    args = parser.parse_args()
    # Logs (warnings and up) to stderr, so stdout carries only the results.
    configure_logging(CommonSettings(log_level="WARNING", log_format="console"), "bench")
    result = asyncio.run(bench(args))
    lines = [
        f"{result['records']} records ({result['impressions']} impressions), "
        f"{result['creatives']} creatives, {result['users']} users, {result['partitions']} partitions, "
        f"{result['cpus']} CPUs, load "
        f"{result['load_before'][0]:.1f} before / {result['load_after'][0]:.1f} after "
        "(1-min average)",
        "",
        "| run | path | seconds | records/s | vs raw (same broker, same records) | CPU µs/record |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for workers in args.workers:
        run = result[f"workers_{workers}"]
        label = f"{workers} worker{'s' if workers > 1 else ''}"
        lines += [
            f"| {label} | raw aiokafka consumer (floor, no processing) | "
            f"{run['raw_s']:.3f} | {run['raw_records_per_s']:,} | 1 | {run['raw_cpu_us_per_record']:.1f} |",
            f"| {label} | bandit: records sent -> last bandit.stats | "
            f"{run['processing_s']:.2f} | {run['records_per_s']:,} | {run['vs_raw']:.3f} | "
            f"{run['cpu_us_per_record']:.1f} |",
        ]
    if "faust_ceiling" in result:
        ceiling = result["faust_ceiling"]
        lines.append(
            f"| 1 worker | faust agent that only counts the records (its per-message path) | | "
            f"{ceiling['records_per_s']:,} | {ceiling['vs_raw']:.3f} | |"
        )
    lines.append("")
    lines.append(
        "records per CPU-second vs the raw consumer's (load-independent): "
        + ", ".join(f"{w} worker(s) {result[f'workers_{w}']['cpu_vs_raw']:.3f}" for w in args.workers)
    )
    lines.append(
        "start-up to SERVING: "
        + ", ".join(f"{w} worker(s) {result[f'workers_{w}']['startup_s']:.1f} s" for w in args.workers)
    )
    if "staleness" in result:
        s = result["staleness"]
        lines += [
            "",
            f"click -> bandit.stats read by ranking's feed, at {s['events_per_s']:,} events/s "
            f"({s['probes']} probe clicks, {s['probes_missing']} never seen; bandit used "
            f"{s['bandit_cpu_share']:.0%} of a core):",
            "",
            "| p50 | p95 | p99 | max |",
            "|---:|---:|---:|---:|",
            f"| {s['p50_s']:.3f} s | {s['p95_s']:.3f} s | {s['p99_s']:.3f} s | {s['max_s']:.3f} s |",
        ]
    m = result["memory"]
    lines += [
        "",
        "bytes per entity (tracemalloc): bandit join state per impression in the window "
        f"{m['bandit_bytes_per_impression_in_window']:,}; user window of 200 "
        f"{m['bandit_bytes_per_user_200']:,}, of 20 {m['bandit_bytes_per_user_20']:,}; creative "
        f"counts (5 buckets) {m['bandit_bytes_per_creative_5_buckets']:,}; ranking per user (20 "
        f"creatives) {m['ranking_bytes_per_user_20_creatives']:,}, per creative (catalogue, features, "
        f"2 stats buckets) {m['ranking_bytes_per_creative']:,}",
    ]
    print("\n".join(lines))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
