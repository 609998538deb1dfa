"""Small helpers for tests against the real stack: bounded waits, topic readers, images."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import Topic


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate` until true; fail with `what` after `timeout_s` (a bound, not a speed test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


class TopicRecorder:
    """Reads a topic from the beginning in the background and keeps every (key, event)."""

    def __init__(self, bootstrap_servers: str, topic: Topic) -> None:
        self.records: list[tuple[str, Any]] = []
        self._feed: TopicFeed[Any] = TopicFeed(
            CommonSettings(bootstrap_servers=bootstrap_servers),
            topic,
            lambda k, e: self.records.append((k, e)),
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicRecorder:
        self._task = asyncio.create_task(self._feed.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def events(self) -> list[Any]:
        return [event for _, event in self.records]


def product_png(colour: tuple[int, int, int], size: int = 320) -> bytes:
    """A plain product shot: a coloured rounded shape on a light background."""
    canvas = np.full((size, size, 3), 245, dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    inside = ((yy - size / 2) / (size * 0.38)) ** 2 + ((xx - size / 2) / (size * 0.25)) ** 2 <= 1
    canvas[inside] = colour
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()
