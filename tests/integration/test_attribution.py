"""`python -m creativeloop.attribution` against a real Tansu broker: creatives, impressions logged
by a non-uniform policy and clicks in; element lifts out, on `element.attribution` and through
`AttributionService` on loopback gRPC, with the right sign for the element made better (red), both
for the logs that were there when it started and for those that arrive while it runs."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, CREATIVES, ELEMENT_ATTRIBUTION
from creativeloop.v1 import attribution_pb2, attribution_pb2_grpc, common_pb2, events_pb2
from tests.integration.helpers import TopicRecorder, spawn_service, wait_until

pytestmark = pytest.mark.integration

PRODUCTS = ["p0", "p1", "p2"]
ELEMENTS = [
    {"layout": layout, "colour": colour} for layout in ("split", "full") for colour in ("red", "blue")
]
#: Click probability: red creatives are clicked much more; the layout does nothing.
CTR = {"red": 0.35, "blue": 0.08}
#: The policy shows blue creatives three times as often as red ones, more so at the side.
SHARE_RED = {"placement=feed": 0.3, "placement=side": 0.15}


def creative_id(product: str, index: int) -> str:
    return f"{product}-c{index}"


def simulate(rng: random.Random, n: int, shown_at: float, start: int) -> tuple[list[Any], list[Any], int]:
    """`n` impressions (ids from `start`) and their clicks; returns them and the red impressions."""
    impressions, clicks, red = [], [], 0
    for i in range(start, start + n):
        product = rng.choice(PRODUCTS)
        placement = rng.choice(list(SHARE_RED))
        share = SHARE_RED[placement]
        probabilities = [share / 2 if e["colour"] == "red" else (1 - share) / 2 for e in ELEMENTS]
        index = rng.choices(range(len(ELEMENTS)), probabilities)[0]
        red += ELEMENTS[index]["colour"] == "red"
        impression = events_pb2.Impression(
            impression_id=f"i{i}",
            user_id=f"u{i % 50}",
            product_id=product,
            creative_id=creative_id(product, index),
            propensity=probabilities[index],
            policy_version="test",
            context={"placement": placement.split("=")[1]},
        )
        impression.shown_at.FromNanoseconds(int(shown_at * 1e9))
        impressions.append((impression.impression_id, impression))
        if rng.random() < CTR[ELEMENTS[index]["colour"]]:
            click = events_pb2.Click(impression_id=impression.impression_id, user_id=impression.user_id)
            click.creative_id = impression.creative_id
            click.clicked_at.FromNanoseconds(int((shown_at + 0.2) * 1e9))
            clicks.append((click.impression_id, click))
    return impressions, clicks, red


async def send_logs(producer: EventProducer, logs: tuple[list[Any], list[Any], int]) -> None:
    impressions, clicks, _ = logs
    await producer.send_batch(AD_IMPRESSIONS, impressions)
    await producer.send_batch(AD_CLICKS, clicks)


async def cli(servers: str, *args: str) -> str:
    """`creativeloop attribution show ARGS` as a user runs it; its output."""
    command = [
        sys.executable,
        "-c",
        "from creativeloop.cli import main; main()",
        "attribution",
        "show",
        *args,
    ]
    env = {**os.environ, "CREATIVELOOP_BOOTSTRAP_SERVERS": servers}
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_element_lifts_on_the_topic_and_through_the_rpc(broker: Any, tmp_path: Path) -> None:
    servers = broker.bootstrap_servers
    rng = random.Random(7)
    async with EventProducer(CommonSettings(bootstrap_servers=servers), "test") as producer:
        creatives = [
            (
                creative_id(product, i),
                events_pb2.CreativeUpdated(
                    creative=common_pb2.Creative(
                        creative_id=creative_id(product, i), product_id=product, elements=elements
                    )
                ),
            )
            for product in PRODUCTS
            for i, elements in enumerate(ELEMENTS)
        ]
        await producer.send_batch(CREATIVES, creatives)
        # Logs from an hour ago, there before the job starts: read when it catches up.
        before = simulate(rng, 1500, time.time() - 3600, start=0)
        await send_logs(producer, before)

        service = spawn_service(
            "attribution",
            {
                "CREATIVELOOP_BOOTSTRAP_SERVERS": servers,
                "CREATIVELOOP_ATTRIBUTION_ATTRIBUTION_WINDOW_S": "1",
                "CREATIVELOOP_ATTRIBUTION_SETTLE_GRACE_S": "0.5",
                "CREATIVELOOP_ATTRIBUTION_PUBLISH_INTERVAL_S": "0.3",
            },
            tmp_path,
        )
        try:
            async with TopicRecorder(servers, ELEMENT_ATTRIBUTION) as recorder:

                def latest(key: str) -> Any:
                    found = [event for k, event in recorder.records if k == key]
                    return found[-1] if found else None

                def counted(n_red: int) -> bool:
                    red = latest("colour/red/")
                    return red is not None and red.impressions_with == n_red

                service.wait_serving(60)
                await wait_until(lambda: counted(before[2]), 60, "the lifts of the earlier logs")
                red, blue = latest("colour/red/"), latest("colour/blue/")
                assert red.products == len(PRODUCTS) and red.impressions_without == 1500 - before[2]
                # Red creatives are clicked more (the policy shows them less): a positive lift, with
                # every product compared, and blue's the opposite.
                assert red.low > 0 and blue.high < 0
                assert abs(red.lift + blue.lift) < 1e-9
                assert latest("colour/red/placement=feed").lift > 0
                assert latest("layout/split/") is not None

                # Logs that arrive while it runs, shown now: settled once their window has passed.
                during = simulate(rng, 1500, time.time(), start=1500)
                await send_logs(producer, during)
                await wait_until(lambda: counted(before[2] + during[2]), 60, "the lifts of the new logs")
                assert latest("colour/red/").low > 0

                async with grpc.aio.insecure_channel(service.target) as channel:
                    stub = attribution_pb2_grpc.AttributionServiceStub(channel)
                    reply = await stub.GetElementAttribution(
                        attribution_pb2.GetElementAttributionRequest(element_kind="colour"), timeout=10
                    )
                    assert [m.element_id for m in reply.lifts] == ["red", "blue"]
                    assert reply.lifts[0].lift == pytest.approx(latest("colour/red/").lift)
                    within = await stub.GetElementAttribution(
                        attribution_pb2.GetElementAttributionRequest(product_id="p1"), timeout=10
                    )
                    by_key = {(m.element_kind, m.element_id): m for m in within.lifts}
                    assert set(by_key) == {(k, v) for e in ELEMENTS for k, v in e.items()}
                    assert by_key[("colour", "red")].products == 1 and by_key[("colour", "red")].lift > 0
                    assert all(m.product_id == "p1" for m in within.lifts)
                    side = await stub.GetElementAttribution(
                        attribution_pb2.GetElementAttributionRequest(
                            element_kind="layout", context_bucket="placement=side"
                        ),
                        timeout=10,
                    )
                    assert {m.element_id for m in side.lifts} == {"split", "full"}
                    assert all(m.context_bucket == "placement=side" for m in side.lifts)

                # The CLI view, from the RPC and from the topic.
                table = await cli(servers, "--target", service.target, "--kind", "colour")
                rows = [line.split() for line in table.splitlines()[1:]]
                assert [row[:2] for row in rows] == [["colour", "red"], ["colour", "blue"]]
                assert float(rows[0][2]) > 0 > float(rows[1][2])
                lines = await cli(servers, "--topic", "--json", "--bucket", "placement=feed")
                shown = [json.loads(line) for line in lines.splitlines()]
                assert {(m["element_kind"], m["element_id"]) for m in shown} == {
                    (k, v) for e in ELEMENTS for k, v in e.items()
                }
                assert all(m["context_bucket"] == "placement=feed" for m in shown)
        finally:
            service.stop()
