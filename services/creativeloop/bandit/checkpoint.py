"""One partition of the bandit's checkpoint topic: a log of state changes and the offsets they cover.

Every checkpoint is a `PartitionCheckpoint` body (split into `CheckpointRecord` parts of bounded
size) holding what changed in the partition's state since the previous one *and* the input
offsets that state covers, so state and offsets are written together, in the same records: no
transaction is needed for the two to agree, on Tansu or on Apache Kafka.

Ownership (fencing without transactions). A worker that gets the partition first appends a
*fence* record and learns its offset `f` from the broker's acknowledgement. Data records carry
the offset of their writer's fence, and a reader counts a data record only while the last fence
before it is its writer's own: a stalled previous owner (a zombie) that wakes up and appends more
is ignored from the new owner's fence on. The new owner then reads the log up to its own fence,
which is also an exact end marker (Tansu's ListOffsets "latest" is wrong, see FIELD_NOTES).

Bounded recovery. Each data record says from where a reader must start (`live_from`, with the
fence in force there): the writer keeps that pointer as late as its state allows (stage 1 state
expires with event time; stage 2 state is rewritten in full at least every `refresh_s`). To find
it, recovery reads the last data record before its fence (a few records back), then reads
forward from `live_from` to the fence. The topic itself may keep everything (Tansu compacts and
deletes nothing): what recovery reads does not grow with the history.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.v1 import streams_pb2

#: Largest body slice per record (well under the 1 MiB default message size of Kafka and Tansu).
PART_BYTES = 512 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint read back: where it starts, the fence in force there, its body."""

    offset: int
    fence: int
    sequence: int
    body: streams_pb2.PartitionCheckpoint


class LogReader:
    """Reads ranges of checkpoint partitions with one group-less consumer (one range at a time)."""

    def __init__(self, consumer: AIOKafkaConsumer, timeout_s: float = 30.0) -> None:
        self._consumer = consumer
        self._lock = asyncio.Lock()
        self._timeout_s = timeout_s
        #: Records read (what recoveries cost, for metrics and tests).
        self.records_read = 0

    async def read(
        self, tp: TopicPartition, start: int, stop: int
    ) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
        """Records of `tp` with offsets in [start, stop), in order; `stop` - 1 must exist."""
        if start >= stop:
            return
        async with self._lock:
            consumer = self._consumer
            consumer.assign([tp])
            consumer.seek(tp, start)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout_s
            while True:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=500)
                records = batch.get(tp, [])
                self.records_read += len(records)
                if records:
                    deadline = loop.time() + self._timeout_s
                for record in records:
                    if record.offset >= stop:
                        return
                    if record.offset >= start:
                        yield record
                    if record.offset == stop - 1:
                        return
                if not records and loop.time() > deadline:
                    raise DependencyUnavailable(
                        "broker", f"{tp.topic}[{tp.partition}] not readable up to offset {stop}"
                    )


class CheckpointLog:
    """Fence, recover and append the checkpoints of one partition as one writer."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        reader: LogReader,
        topic: str,
        partition: int,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self._producer = producer
        self._reader = reader
        self._tp = TopicPartition(topic, partition)
        self._part_bytes = part_bytes
        self.writer = uuid.uuid4().hex
        #: Offset of this writer's fence (-1 until `fence()`).
        self.fence_offset = -1

    async def fence(self) -> int:
        """Append this writer's fence; from its offset on, only this writer's records count."""
        record = streams_pb2.CheckpointRecord(writer=self.writer, fence=True, fence_offset=-1)
        meta = await self._producer.send_and_wait(
            self._tp.topic, record.SerializeToString(), partition=self._tp.partition
        )
        self.fence_offset = int(meta.offset)
        return self.fence_offset

    async def _last_data_record(self) -> streams_pb2.CheckpointRecord | None:
        """The newest data record before our fence (None: the partition has no checkpoint yet)."""
        stop, span = self.fence_offset, 16
        while stop > 0:
            start = max(0, stop - span)
            last = None
            async for raw in self._reader.read(self._tp, start, stop):
                record = streams_pb2.CheckpointRecord.FromString(raw.value)
                if not record.fence:
                    last = record
            if last is not None:
                return last
            stop, span = start, span * 4  # only fences there (owners that died at once): look further
        return None

    async def recover(self) -> AsyncIterator[Checkpoint]:
        """The checkpoints the current state is made of, oldest first (after `fence()`)."""
        if self.fence_offset < 0:
            raise RuntimeError("fence() before recover()")
        last = await self._last_data_record()
        if last is None:
            return
        current = last.live_from_fence
        parts: list[bytes] = []
        first, key = -1, ("", -1)
        async for raw in self._reader.read(self._tp, last.live_from, self.fence_offset):
            record = streams_pb2.CheckpointRecord.FromString(raw.value)
            if record.fence:
                current, parts = raw.offset, []
                continue
            if record.fence_offset != current:
                continue  # written by an owner fenced out before it
            if record.part == 0:
                parts, first, key = [record.body], raw.offset, (record.writer, record.sequence)
            elif (record.writer, record.sequence) == key and record.part == len(parts):
                parts.append(record.body)
            else:
                parts = []  # a checkpoint whose writer died before its last part
                continue
            if len(parts) == record.parts:
                body = streams_pb2.PartitionCheckpoint.FromString(b"".join(parts))
                parts = []
                yield Checkpoint(first, current, record.sequence, body)

    async def append(self, sequence: int, body: bytes, live_from: int, live_from_fence: int) -> int:
        """Append one checkpoint; returns the offset of its first record."""
        size = self._part_bytes
        slices = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        futures = []
        for part, data in enumerate(slices):
            record = streams_pb2.CheckpointRecord(
                writer=self.writer,
                fence_offset=self.fence_offset,
                sequence=sequence,
                part=part,
                parts=len(slices),
                live_from=live_from,
                live_from_fence=live_from_fence,
                body=data,
            )
            futures.append(
                await self._producer.send(
                    self._tp.topic, record.SerializeToString(), partition=self._tp.partition
                )
            )
        offsets = [int((await future).offset) for future in futures]
        return offsets[0]
