"""Why a service cannot serve right now: one board that every part of a process reports to.

The runtime's dependency check reports "models" (is the model backend up?), and each stream worker
reports "stream <topic>" while it holds a partition paused on an outage. `ServiceRuntime` turns the
gRPC health NOT_SERVING while any source is down, and SERVING again once every one is back.

>>> board = Availability()
>>> board.down("models", "triton at 127.0.0.1:8001 unreachable")
>>> board.ok, board.reasons()
(False, {'models': 'triton at 127.0.0.1:8001 unreachable'})
>>> board.up("models")
>>> board.ok
True
"""

from __future__ import annotations

import asyncio


class Availability:
    """Sources that are down, each with its latest reason; ``ok`` while there is none."""

    def __init__(self) -> None:
        self._down: dict[str, str] = {}
        self._changed = asyncio.Event()

    @property
    def ok(self) -> bool:
        return not self._down

    def reasons(self) -> dict[str, str]:
        """Down sources and why (a copy)."""
        return dict(self._down)

    def down(self, source: str, reason: str) -> None:
        """Mark `source` down; a new reason for a source already down only updates the text."""
        was_down = source in self._down
        self._down[source] = reason
        if not was_down:
            self._changed.set()

    def up(self, source: str) -> None:
        if self._down.pop(source, None) is not None:
            self._changed.set()

    async def changed(self) -> None:
        """Wait until a source goes down or comes back (changes of reason do not count)."""
        await self._changed.wait()
        self._changed.clear()
