"""The bandit's consumer-group membership, kept light so that a worker joins its group first.

On Tansu a worker waits about six seconds in JoinGroup before it gets its partitions (static
membership included). `GroupMember.start()` creates the internal topics if they are missing and
subscribes, so the join runs in the background while the process imports and starts the rest
(`creativeloop.bandit.__main__`): restart to SERVING is the join, not the join plus start-up.
The member hands assignments to a `RebalanceHandler` (the engine) once one is attached.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

from creativeloop.bandit.settings import BanditSettings
from creativeloop.kit.admin import ensure_topics, topic_partitions
from creativeloop.kit.kafka import client_options
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, Topic
from creativeloop.v1 import streams_pb2


def outcomes_topic(app_id: str) -> str:
    """Internal: outcome batches, partitioned by the creative or user they are for."""
    return f"{app_id}-outcomes"


def checkpoints_topic(app_id: str) -> str:
    """Internal: per partition, the log of state changes with the offsets they cover."""
    return f"{app_id}-checkpoints"


def internal_topics(app_id: str, partitions: int) -> list[Topic]:
    return [
        Topic(outcomes_topic(app_id), streams_pb2.OutcomeBatch, key="(none)", partitions=partitions),
        Topic(checkpoints_topic(app_id), streams_pb2.CheckpointRecord, key="(none)", partitions=partitions),
    ]


class CopartitionedAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Gives each member whole partition numbers: partition p of every subscribed topic together.

    The bandit's inputs (impressions, clicks, outcomes) must be co-partitioned: partition p's
    state reads partition p of each. Partition numbers go round robin over the members (sorted).
    """

    name = "creativeloop-copartitioned"
    version = 0

    @classmethod
    def assign(
        cls, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        topics = sorted({topic for metadata in members.values() for topic in metadata.subscription})
        counts = {topic: len(cluster.partitions_for_topic(topic) or ()) for topic in topics}
        numbers = max(counts.values(), default=0)
        order = sorted(members)
        assignment: dict[str, dict[str, list[int]]] = {m: collections.defaultdict(list) for m in order}
        for number in range(numbers):
            member = order[number % len(order)]
            for topic in topics:
                if number < counts[topic] and topic in members[member].subscription:
                    assignment[member][topic].append(number)
        return {
            member: ConsumerProtocolMemberAssignment(cls.version, sorted(assignment[member].items()), b"")
            for member in order
        }

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(cls.version, list(topics), b"")

    @classmethod
    def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
        pass


class RebalanceHandler(Protocol):
    async def revoke(self, partitions: set[int]) -> None: ...

    async def assign(self, partitions: set[int]) -> None: ...


class _Forward(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: GroupMember) -> None:
        self._member = member

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        handler = await self._member.handler()
        await handler.revoke({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        handler = await self._member.handler()
        await handler.assign({tp.partition for tp in assigned})


class GroupMember:
    """The bandit worker's consumer: group `<app_id>`, co-partitioned impressions, clicks, outcomes."""

    def __init__(self, settings: BanditSettings) -> None:
        self.settings = settings
        extra: dict[str, Any] = {}
        if settings.instance_id:
            extra["group_instance_id"] = settings.instance_id
        self.consumer = AIOKafkaConsumer(
            **client_options(settings.common),
            group_id=settings.app_id,
            client_id=settings.app_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(CopartitionedAssignor,),
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
            fetch_max_wait_ms=20,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            **extra,
        )
        #: Partitions per source topic (the internal topics have as many).
        self.partitions = 0
        self._handler: RebalanceHandler | None = None
        self._attached = asyncio.Event()

    async def start(self) -> None:
        """Connect, create the internal topics if missing, subscribe: the join goes on in the background."""
        consumer = self.consumer
        await consumer.start()
        self.partitions = await partition_count(consumer, AD_IMPRESSIONS.name)
        internal = internal_topics(self.settings.app_id, self.partitions)
        if not all(consumer.partitions_for_topic(topic.name) for topic in internal):
            await ensure_topics(self.settings.common, internal)  # first start: before subscribing
        topics = [AD_IMPRESSIONS.name, AD_CLICKS.name, outcomes_topic(self.settings.app_id)]
        consumer.subscribe(topics, listener=_Forward(self))

    def attach(self, handler: RebalanceHandler) -> None:
        """Hand assignments (the ones already waiting too) to `handler`."""
        self._handler = handler
        self._attached.set()

    async def handler(self) -> RebalanceHandler:
        await self._attached.wait()
        assert self._handler is not None
        return self._handler


async def partition_count(consumer: AIOKafkaConsumer, topic: str, timeout_s: float = 60.0) -> int:
    """Partitions of `topic`, waiting (bounded) for it to exist."""
    return len(await topic_partitions(consumer, topic, timeout_s))
