"""Micro-batching for the embedded backend: many small concurrent calls become one session run.

Triton's dynamic batcher does this server-side; doing the same in-process gives embedded callers
the same throughput win when a service answers many concurrent RPCs with one-row inputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from creativeloop.kit.models.spec import ModelSpec

Runner = Callable[[str, Mapping[str, np.ndarray], Sequence[str] | None], dict[str, np.ndarray]]


@dataclass
class _Pending:
    inputs: Mapping[str, np.ndarray]
    outputs: tuple[str, ...] | None
    future: asyncio.Future[dict[str, np.ndarray]]

    @property
    def rows(self) -> int:
        return int(next(iter(self.inputs.values())).shape[0])

    def key(self) -> tuple[object, ...]:
        """Calls can share a run only if every non-batch shape, dtype and output list agree."""
        shapes = tuple((name, a.dtype.str, a.shape[1:]) for name, a in sorted(self.inputs.items()))
        return (shapes, self.outputs)


@dataclass
class _Queue:
    items: list[_Pending] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None


class MicroBatcher:
    """Collect calls for up to ``wait_s`` or ``max_rows`` rows, run them together, split results."""

    def __init__(self, run: Runner, max_rows: int, wait_s: float, executor: Executor) -> None:
        self._run = run
        self._max_rows = max_rows
        self._wait_s = wait_s
        self._executor = executor
        self._queues: dict[str, _Queue] = {}
        self._running: set[asyncio.Task[None]] = set()  # a reference, so no batch is garbage-collected

    async def submit(
        self, spec: ModelSpec, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        loop = asyncio.get_running_loop()
        pending = _Pending(inputs, tuple(outputs) if outputs is not None else None, loop.create_future())
        queue = self._queues.setdefault(spec.name, _Queue())
        queue.items.append(pending)
        limit = min(self._max_rows, spec.max_batch_size)
        if sum(p.rows for p in queue.items) >= limit:
            self._flush(spec, limit)
        elif queue.flusher is None:
            queue.flusher = asyncio.create_task(self._flush_later(spec, limit))
        return await pending.future

    async def _flush_later(self, spec: ModelSpec, limit: int) -> None:
        await asyncio.sleep(self._wait_s)
        self._queues[spec.name].flusher = None
        self._flush(spec, limit)

    def _flush(self, spec: ModelSpec, limit: int) -> None:
        queue = self._queues[spec.name]
        items, queue.items = queue.items, []
        if queue.flusher is not None:
            queue.flusher.cancel()
            queue.flusher = None
        groups: dict[tuple[object, ...], list[list[_Pending]]] = {}
        for item in items:
            batches = groups.setdefault(item.key(), [[]])
            if batches[-1] and sum(p.rows for p in batches[-1]) + item.rows > limit:
                batches.append([])
            batches[-1].append(item)
        for batches in groups.values():
            for batch in batches:
                task = asyncio.create_task(self._run_batch(spec, batch))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run_batch(self, spec: ModelSpec, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        names = list(batch[0].inputs)
        joined = {name: np.concatenate([p.inputs[name] for p in batch]) for name in names}
        try:
            outputs = batch[0].outputs
            result = await loop.run_in_executor(self._executor, self._run, spec.name, joined, outputs)
        except Exception as error:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        start = 0
        for pending in batch:
            stop = start + pending.rows
            if not pending.future.done():
                pending.future.set_result({name: value[start:stop] for name, value in result.items()})
            start = stop
