"""Bandit stream throughput against a raw aiokafka consumer reading the same records, in one run.

    python -m bench.bench_bandit_stream [--impressions 50000] [--click-rate 0.1] [--creatives 50]

Starts a local Tansu broker, creates the topics, and pre-produces `--impressions` impressions
(`--creatives` creatives, four context buckets, event times 1 ms apart) and a click for each
with probability `--click-rate` (2 s after its impression, inside the attribution window) to
`ad.impressions` / `ad.clicks` with aiokafka. Then, on the same records:

- ``raw aiokafka consumer``: one consumer assigned every partition of both topics, reading from
  the beginning until it has every record, without processing them (the floor; best of 3);
- ``bandit service``: `python -m creativeloop.bandit` as a process (as deployed), timed from the
  moment its health turns SERVING (tables recovered, consuming) until `bandit.stats` carries the
  expected totals for every creative (over all contexts, decayed with the service's half-life:
  the closed form sum of 2 ** (-(newest - shown_at) / half_life)); and again from the process
  start, which adds its start-up (imports, group join, table recovery).

Prints a markdown table with records/s of both and their ratio, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.bandit.settings import BanditSettings
from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.codec import encode
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS
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


async def produce(bootstrap: str, args: argparse.Namespace) -> tuple[int, dict[str, tuple[float, float]]]:
    """Pre-produce the traffic; returns the number of records and the expected totals."""
    rng = random.Random(args.seed)
    shown: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        pending = []
        clicks: list[tuple[str, events_pb2.Click]] = []
        for n in range(args.impressions):
            impression_id = f"imp-{n:08d}"
            creative_id = f"creative-{rng.randrange(args.creatives):04d}"
            shown_at = T0_NS + n * 1_000_000
            clicked = rng.random() < args.click_rate
            impression = events_pb2.Impression(
                impression_id=impression_id,
                user_id=f"user-{rng.randrange(10_000)}",
                product_id="product-1",
                creative_id=creative_id,
                propensity=1 / args.creatives,
                policy_version="bench",
                shown_at=stamp(shown_at),
                context=rng.choice(CONTEXTS),
            )
            pending.append(
                await producer.send(AD_IMPRESSIONS.name, encode(impression), key=impression_id.encode())
            )
            shown[creative_id].append((shown_at, clicked))
            if clicked:
                click = events_pb2.Click(
                    impression_id=impression_id,
                    user_id=impression.user_id,
                    creative_id=creative_id,
                    clicked_at=stamp(shown_at + 2 * NS_PER_S),
                )
                clicks.append((impression_id, click))
        for impression_id, click in clicks:
            pending.append(await producer.send(AD_CLICKS.name, encode(click), key=impression_id.encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(pending), expected_totals(shown, args.half_life_s)


async def raw_read(bootstrap: str, records: int) -> float:
    """Seconds for one consumer to read every record of both topics from the beginning."""
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
        started = time.perf_counter()
        seen = 0
        while seen < records:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(batch) for batch in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def bandit_run(
    bootstrap: str, args: argparse.Namespace, expected: dict[str, tuple[float, float]], work: Path
) -> dict[str, float]:
    """Start the service, time it from SERVING until bandit.stats has every expected total."""
    latest: dict[str, events_pb2.BanditStats] = {}

    def apply(key: str, event: events_pb2.BanditStats) -> None:
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

    feed = TopicFeed(CommonSettings(bootstrap_servers=bootstrap), BANDIT_STATS, apply)
    follow = asyncio.create_task(feed.run())
    grpc_port, log = free_port(), work / "bandit.log"
    env = {
        **os.environ,
        "CREATIVELOOP_BOOTSTRAP_SERVERS": bootstrap,
        "CREATIVELOOP_TOPIC_PARTITIONS": str(args.partitions),
        "CREATIVELOOP_BANDIT_GRPC_PORT": str(grpc_port),
        "CREATIVELOOP_BANDIT_METRICS_PORT": str(free_port()),
        "CREATIVELOOP_BANDIT_DATA_DIR": str(work / "bandit"),
        "CREATIVELOOP_BANDIT_HALF_LIFE_S": str(args.half_life_s or 0),
        "CREATIVELOOP_LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "creativeloop.bandit"], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        await wait_serving(f"127.0.0.1:{grpc_port}", process, 120, lambda: f"see {log}")
        serving = time.perf_counter()
        deadline = serving + args.timeout_s
        while not done():
            if process.poll() is not None:
                raise SystemExit(f"bandit exited with {process.returncode}; see {log}")
            if time.perf_counter() > deadline:
                missing = sum(1 for c in expected if c not in latest)
                raise SystemExit(
                    f"bandit.stats incomplete after {args.timeout_s}s ({missing} creatives missing)"
                )
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
    finally:
        terminate(process, grace_s=15)
        follow.cancel()
        await asyncio.gather(follow, return_exceptions=True)
    return {"startup_s": serving - started, "processing_s": finished - serving}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-bandit-") as tmp:
        work = Path(tmp)
        with TansuBroker(log_path=work / "tansu.log") as broker:
            bootstrap = broker.bootstrap_servers
            await ensure_topics(CommonSettings(bootstrap_servers=bootstrap, topic_partitions=args.partitions))
            produce_started = time.perf_counter()
            records, expected = await produce(bootstrap, args)
            produce_s = time.perf_counter() - produce_started
            raw_s = min([await raw_read(bootstrap, records) for _ in range(3)])
            bandit = await bandit_run(bootstrap, args, expected, work)
    bandit_rps = records / bandit["processing_s"]
    raw_rps = records / raw_s
    return {
        "bench": "bandit_stream",
        "impressions": args.impressions,
        "clicks": records - args.impressions,
        "records": records,
        "creatives": args.creatives,
        "partitions": args.partitions,
        "half_life_s": args.half_life_s,
        "cpus": os.cpu_count(),
        "produce_s": round(produce_s, 3),
        "raw_s": round(raw_s, 4),
        "raw_records_per_s": round(raw_rps),
        "bandit_startup_s": round(bandit["startup_s"], 2),
        "bandit_s": round(bandit["processing_s"], 3),
        "bandit_records_per_s": round(bandit_rps),
        "bandit_vs_raw": bandit_rps / raw_rps,
        "bandit_total_s": round(bandit["startup_s"] + bandit["processing_s"], 3),
        "bandit_total_records_per_s": round(records / (bandit["startup_s"] + bandit["processing_s"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--impressions", type=int, default=50_000)
    parser.add_argument("--click-rate", type=float, default=0.1)
    parser.add_argument("--creatives", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=CommonSettings().topic_partitions)
    parser.add_argument(
        "--half-life-s",
        type=float,
        default=BanditSettings().half_life_s,
        help="the service's decay half-life (0: no decay)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-s", type=float, default=300.0, help="give up on the bandit after this")
    args = parser.parse_args()
    # Logs (warnings and up) to stderr, so stdout carries only the results.
    configure_logging(CommonSettings(log_level="WARNING", log_format="console"), "bench")
    result = asyncio.run(bench(args))
    lines = [
        f"{result['records']} records ({result['impressions']} impressions, {result['clicks']} clicks), "
        f"{result['creatives']} creatives, {result['partitions']} partitions, {result['cpus']} CPUs",
        "",
        "| path | seconds | records/s |",
        "|---|---:|---:|",
        f"| raw aiokafka consumer (floor, no processing) | {result['raw_s']:.3f} | "
        f"{result['raw_records_per_s']:,} |",
        f"| bandit service, SERVING to last bandit.stats | {result['bandit_s']:.2f} | "
        f"{result['bandit_records_per_s']:,} |",
        f"| bandit service, process start to last bandit.stats | {result['bandit_total_s']:.2f} | "
        f"{result['bandit_total_records_per_s']:,} |",
        "",
        f"bandit / raw: {result['bandit_vs_raw']:.4f} (raw is {1 / result['bandit_vs_raw']:.0f}x faster); "
        f"bandit start-up to SERVING: {result['bandit_startup_s']:.1f} s",
    ]
    print("\n".join(lines))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
