"""Idempotent topic creation: create what is missing, leave what exists."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.kit.kafka import client_options
from creativeloop.kit.logs import get_logger
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import ALL_TOPICS, Topic

log = get_logger(__name__)


async def ensure_topics(settings: CommonSettings, topics: Iterable[Topic] = ALL_TOPICS) -> list[str]:
    """Create the missing topics; return the names created. Safe to run any number of times."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=t.name,
                num_partitions=t.partitions or settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs={"cleanup.policy": "compact"} if t.compacted else {},
            )
            for t in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # created concurrently by another process: the goal holds
        log.info("topics created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str, timeout_s: float = 60.0) -> list[int]:
    """The partition numbers of `topic`, waiting (bounded) for it to exist: a consumer that assigns
    partitions itself must not start on a topic the topics job has not created yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        known = consumer.partitions_for_topic(topic)
        if not known:
            await consumer._client.force_metadata_update()
            known = consumer.partitions_for_topic(topic)
        if known:
            return sorted(known)
        if loop.time() > deadline:
            raise DependencyUnavailable("broker", f"topic {topic} is missing (creativeloop topics create)")
        await asyncio.sleep(0.5)
