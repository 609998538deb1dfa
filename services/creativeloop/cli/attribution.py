"""`creativeloop attribution show`: each creative element's lift on CTR (see
creativeloop.attribution.estimator for what it means), from the attribution service's RPC or, with
`--topic`, from the compacted `element.attribution` topic."""

from __future__ import annotations

import asyncio
import json
import math

import click
from google.protobuf.json_format import MessageToDict

from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.settings import CommonSettings, GrpcTlsSettings
from creativeloop.kit.tls import sync_channel
from creativeloop.kit.topics import ELEMENT_ATTRIBUTION
from creativeloop.v1 import attribution_pb2, attribution_pb2_grpc


@click.group("attribution")
def attribution() -> None:
    """Element attribution: which templates, layouts, copies, colours... earn clicks."""


def _from_topic(kind: str, bucket: str, timeout_s: float) -> list[attribution_pb2.ElementLift]:
    latest: dict[str, attribution_pb2.ElementLift] = {}

    def apply(key: str, event: attribution_pb2.ElementLift) -> None:
        latest[key] = event

    def delete(key: str) -> None:
        latest.pop(key, None)

    async def read() -> None:
        feed: TopicFeed[attribution_pb2.ElementLift] = TopicFeed(
            CommonSettings(), ELEMENT_ATTRIBUTION, apply, delete=delete
        )
        task = asyncio.create_task(feed.run())
        try:
            await asyncio.wait_for(feed.caught_up.wait(), timeout_s)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(read())
    lifts = [
        m for m in latest.values() if m.context_bucket == bucket and (not kind or m.element_kind == kind)
    ]
    return sorted(lifts, key=lambda m: (m.element_kind, -m.lift, m.element_id))


def _interval(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "(no comparison)"
    return f"[{low:+.4f}, {high:+.4f}]"


@attribution.command("show")
@click.option("--target", default="127.0.0.1:50057", show_default=True, help="The attribution service.")
@click.option("--product", default="", help="Within this product only (RPC only); default: pooled.")
@click.option("--kind", default="", help="One element kind (template, layout, copy, colour...).")
@click.option("--bucket", default="", help="Context bucket, e.g. placement=feed|device=mobile; default: all.")
@click.option("--topic", "use_topic", is_flag=True, help="Read element.attribution instead of the RPC.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per element.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the answer.")
def show(
    target: str, product: str, kind: str, bucket: str, use_topic: bool, as_json: bool, timeout: float
) -> None:
    """Each element's lift on CTR with its 95 % interval, highest first per kind."""
    if use_topic:
        if product:
            raise click.UsageError("--product needs the RPC (the topic pools products)")
        lifts = _from_topic(kind, bucket, timeout)
    else:
        request = attribution_pb2.GetElementAttributionRequest(
            product_id=product, element_kind=kind, context_bucket=bucket
        )
        with sync_channel(target, GrpcTlsSettings()) as channel:
            reply = attribution_pb2_grpc.AttributionServiceStub(channel).GetElementAttribution(
                request, timeout=timeout
            )
        lifts = list(reply.lifts)
    if as_json:
        for lift in lifts:
            click.echo(json.dumps(MessageToDict(lift, preserving_proto_field_name=True)))
        return
    header = f"{'kind':<12} {'element':<24} {'lift':>8} {'95% interval':<20} {'with':>7} {'without':>7}"
    click.echo(header + f" {'naive':>7} {'shown':>8} {'products':>8}")
    for m in lifts:
        click.echo(
            f"{m.element_kind:<12} {m.element_id[:24]:<24} {m.lift:>+8.4f} {_interval(m.low, m.high):<20} "
            f"{m.ctr_with:>7.4f} {m.ctr_without:>7.4f} {m.naive_ctr:>7.4f} {m.impressions_with:>8} "
            f"{m.products:>8}"
        )
