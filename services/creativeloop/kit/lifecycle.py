"""The creative lifecycle: live, paused, retired, rejected; read and written on `creatives`.

A generator publishes a creative with its content (state unspecified, which reads as LIVE). When
a newer product version, a deletion or a loss of admission supersedes it, the generator's stage
(`creativeloop.kit.stage.ProfileStage`) calls its retirement hook after the replacements are
out; `CreativeRetirer` is that hook: it publishes, under each superseded creative id, a
`CreativeUpdated` that carries only the creative's id, product and version, the new `state` and
why (`state_reason`), with ``retired`` set for readers that predate `state`. Readers keep the
content they already have and apply the state (`creative_state`, `is_live`).

============  =================================================  ============================
state         when                                               written by
============  =================================================  ============================
LIVE          published for the product's newest admitted        the generator (copygen,
              version                                            imagegen, videogen)
PAUSED        the product's newest version is not admitted       the generator's stage hook
RETIRED       a newer version replaced it, or the product was    the generator's stage hook
              deleted
============  =================================================  ============================

>>> from creativeloop.kit.stage import Retirement
>>> def show(retirement):
...     for key, event in retirement_changes(retirement):
...         print(key, events_pb2.CreativeState.Name(event.state), event.state_reason, event.retired)
>>> show(Retirement("imagegen", "p1", 1, 2, False, ("img-a",)))
img-a CREATIVE_STATE_RETIRED superseded True
>>> show(Retirement("imagegen", "p1", 2, 3, False, ("img-b",), paused=True, reasons=("X",)))
img-b CREATIVE_STATE_PAUSED not_admitted:X True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from google.protobuf.message import Message

from creativeloop.kit.logs import get_logger
from creativeloop.kit.stage import Retirement
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CREATIVES, Topic
from creativeloop.v1 import common_pb2, events_pb2

log = get_logger(__name__)

LIVE = events_pb2.CREATIVE_STATE_LIVE
PAUSED = events_pb2.CREATIVE_STATE_PAUSED
RETIRED = events_pb2.CREATIVE_STATE_RETIRED
REJECTED = events_pb2.CREATIVE_STATE_REJECTED

SUPERSEDED = "superseded"
DELETED = "deleted"
NOT_ADMITTED = "not_admitted"


def creative_state(event: events_pb2.CreativeUpdated) -> events_pb2.CreativeState:
    """The record's state; an unspecified one (older writers) is RETIRED if ``retired``, else LIVE."""
    if event.state != events_pb2.CREATIVE_STATE_UNSPECIFIED:
        return event.state
    return RETIRED if event.retired else LIVE


def is_live(event: events_pb2.CreativeUpdated) -> bool:
    """Whether the creative may be served."""
    return creative_state(event) == LIVE


def state_change(
    creative_id: str,
    product_id: str,
    product_version: int,
    state: events_pb2.CreativeState,
    reason: str = "",
) -> events_pb2.CreativeUpdated:
    """A state record: the creative's identity only, so readers keep the content they have."""
    return events_pb2.CreativeUpdated(
        creative=common_pb2.Creative(
            creative_id=creative_id, product_id=product_id, product_version=product_version
        ),
        updated_at=now_timestamp(),
        retired=state != LIVE,
        state=state,
        state_reason=reason,
    )


def retirement_changes(retirement: Retirement) -> list[tuple[str, events_pb2.CreativeUpdated]]:
    """The state records a `Retirement` stands for: paused (admission lost) or retired."""
    if retirement.paused:
        state, reason = PAUSED, ":".join((NOT_ADMITTED, *retirement.reasons[:1]))
    else:
        state, reason = RETIRED, DELETED if retirement.deleted else SUPERSEDED
    version = retirement.old_version or 0
    return [
        (key, state_change(key, retirement.product_id, version, state, reason))
        for key in retirement.output_ids
    ]


class _Producer(Protocol):
    async def send_batch(self, topic: Topic, items: Sequence[tuple[str, Message]]) -> None: ...


class CreativeRetirer:
    """The generators' retirement hook: superseded creatives become PAUSED or RETIRED on `creatives`.

    Idempotent (the stage calls it again after a failure): the same retirement publishes the
    same states under the same keys of a compacted topic.
    """

    def __init__(self, producer: _Producer, topic: Topic = CREATIVES) -> None:
        self._producer = producer
        self._topic = topic
        self.published = 0

    async def __call__(self, retirement: Retirement) -> None:
        changes = retirement_changes(retirement)
        if changes:
            await self._producer.send_batch(self._topic, changes)
            self.published += len(changes)
        log.info(
            "creatives paused" if retirement.paused else "creatives retired",
            stage=retirement.stage,
            product_id=retirement.product_id,
            old_version=retirement.old_version,
            new_version=retirement.new_version,
            deleted=retirement.deleted,
            creatives=len(changes),
        )


__all__ = [
    "DELETED",
    "LIVE",
    "NOT_ADMITTED",
    "PAUSED",
    "REJECTED",
    "RETIRED",
    "SUPERSEDED",
    "CreativeRetirer",
    "creative_state",
    "is_live",
    "retirement_changes",
    "state_change",
]
