"""The SetControl RPC: a person pins, rejects or releases a creative.

Each decision goes to the compacted `creative.controls` topic (key creative_id; a release is a
tombstone), which every ranking replica follows into its `CreativeCatalogue`; the replica that
took the call applies it at once. Rank then never serves a rejected creative, and serves a
pinned live candidate whenever there is one, outside the bandit: uniformly among the pinned
candidates, with that propensity (1/k) and the policy version `PINNED_POLICY_VERSION`, so the
logged impressions stay honest for off-policy evaluation.
"""

from __future__ import annotations

from typing import Any, Protocol

import grpc
from google.protobuf.message import Message

from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CREATIVE_CONTROLS, Topic
from creativeloop.ranking.state import CreativeCatalogue
from creativeloop.v1 import control_pb2, control_pb2_grpc, events_pb2

#: The policy version Rank reports when it served a pinned creative.
PINNED_POLICY_VERSION = "pinned-v1"


class ControlProducer(Protocol):
    """What SetControl needs of `EventProducer`."""

    async def send(self, topic: Topic, key: str, event: Message, *, partition: int | None = None) -> None: ...

    async def send_tombstone(self, topic: Topic, key: str) -> None: ...


class CreativeControlServicer(control_pb2_grpc.CreativeControlServiceServicer):
    def __init__(self, catalogue: CreativeCatalogue, producer: ControlProducer) -> None:
        self._catalogue = catalogue
        self._producer = producer

    async def SetControl(
        self, request: control_pb2.SetControlRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> control_pb2.SetControlResponse:
        if not request.creative_id or not request.product_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "missing creative_id or product_id")
        if self._catalogue.state(request.creative_id, request.product_id) is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no creative {request.creative_id!r} for product {request.product_id!r}",
            )
        live = self._catalogue.published_live(request.creative_id, request.product_id)
        if request.action == events_pb2.CONTROL_ACTION_UNSPECIFIED:
            await self._producer.send_tombstone(CREATIVE_CONTROLS, request.creative_id)
            self._catalogue.release(request.creative_id)
            return control_pb2.SetControlResponse(live=live)
        control = events_pb2.CreativeControl(
            creative_id=request.creative_id,
            product_id=request.product_id,
            action=request.action,
            actor=request.actor,
            note=request.note,
            updated_at=now_timestamp(),
        )
        await self._producer.send(CREATIVE_CONTROLS, request.creative_id, control)
        self._catalogue.apply_control(request.creative_id, control)
        return control_pb2.SetControlResponse(control=control, live=live)


__all__ = ["PINNED_POLICY_VERSION", "ControlProducer", "CreativeControlServicer"]
