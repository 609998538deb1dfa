"""Typed event producer: only a topic's own message type goes to that topic."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message

from creativeloop.kit.codec import dead_letter, dead_letter_headers, encode
from creativeloop.kit.kafka import client_options
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import Topic


class EventProducer:
    """One aiokafka producer per process, shared by every publisher in it."""

    def __init__(self, settings: CommonSettings, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            **client_options(settings),
            client_id=client_id,
            acks="all",
            linger_ms=2,
        )
        self._client_id = client_id

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(self, topic: Topic, key: str, event: Message, *, partition: int | None = None) -> None:
        """Publish `event` under `key` (to `partition`, else the key's) and wait until the broker has it."""
        if not isinstance(event, topic.message):
            raise TypeError(f"{topic.name} carries {topic.message.__name__}, not {type(event).__name__}")
        await self._producer.send_and_wait(topic.name, encode(event), key=key.encode(), partition=partition)

    async def send_tombstone(self, topic: Topic, key: str) -> None:
        """Publish a tombstone (null value) under `key`: the key is deleted (compaction drops it)."""
        await self._producer.send_and_wait(topic.name, None, key=key.encode())

    async def send_batch(self, topic: Topic, items: Sequence[tuple[str, Message]]) -> None:
        """Publish many events, waiting once for all of them (keeps per-key order)."""
        futures = []
        for key, event in items:
            if not isinstance(event, topic.message):
                raise TypeError(f"{topic.name} carries {topic.message.__name__}")
            futures.append(await self._producer.send(topic.name, encode(event), key=key.encode()))
        for future in futures:
            await future

    async def dead_letter(self, topic: Topic, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        """Park an unprocessable record on `<topic>.dlq` with why, so the stream can go on.

        The record's headers go along: a replayed record (`creativeloop.kit.dlq`) that fails
        again keeps the header naming the letter it was replayed from. A letter keeps at most the
        first 64 KiB of the value (headers give the whole value's sha256 and size,
        `kit.codec.dead_letter_headers`), so it fits the producer's cap whatever it rejects.
        """
        letter = dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            reason=reason,
            consumer=self._client_id,
        )
        headers = dead_letter_headers(
            record.key, record.value, [(name, bytes(value)) for name, value in (record.headers or ())]
        )
        await self._producer.send_and_wait(
            topic.dlq.name, letter.SerializeToString(), key=letter.key or None, headers=headers
        )
