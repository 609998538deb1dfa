"""Outcomes for policies that learn from every impression in serving (``shared``).

The counting policies read `bandit.stats`; a model such as ``shared`` needs each impression with
its request features and whether it was clicked. `OutcomeJoiner` joins the `ad.impressions` and
`ad.clicks` streams in the ranking process for such a policy: a click teaches its impression as
clicked at once; an impression without a click within `reward_wait_s` of its arrival is taught as
not clicked (the default reward). A click that comes after that is counted in `late_clicks` and
not learnt (the model has already taken the impression as a non-click). A click that arrives
before its impression (the two topics are read independently) waits for it, at most
`max_pending` of them.

>>> learnt = []
>>> clock = iter([0.0, 0.0, 0.5, 2.0]).__next__
>>> joiner = OutcomeJoiner(lambda i, c: learnt.append((i.impression_id, c)), 1.0, clock=clock)
>>> joiner.impression("a", events_pb2.Impression(impression_id="a", creative_id="x"))
>>> joiner.impression("b", events_pb2.Impression(impression_id="b", creative_id="y"))
>>> joiner.click("a", events_pb2.Click(impression_id="a"))
>>> joiner.flush()
>>> learnt, joiner.waiting
([('a', True), ('b', False)], 0)
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

from creativeloop.v1 import events_pb2

Learn = Callable[[events_pb2.Impression, bool], None]


class OutcomeJoiner:
    """Joins impressions and clicks into (impression, clicked) for `learn` (module doc)."""

    def __init__(
        self,
        learn: Learn,
        reward_wait_s: float,
        max_pending: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._learn = learn
        self.reward_wait_s = reward_wait_s
        self.max_pending = max_pending
        self._clock = clock
        #: impression_id -> (deadline, impression), in arrival order (so deadlines are ordered).
        self._waiting: OrderedDict[str, tuple[float, events_pb2.Impression]] = OrderedDict()
        #: ids of impressions already learnt (duplicates, late clicks), bounded.
        self._done: OrderedDict[str, None] = OrderedDict()
        self._early_clicks: OrderedDict[str, None] = OrderedDict()
        self.learnt = 0
        self.clicks_learnt = 0
        self.late_clicks = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def impression(self, _key: str, event: events_pb2.Impression) -> None:
        now = self._clock()
        impression_id = event.impression_id
        if impression_id in self._waiting or impression_id in self._done:
            self._expire(now)
            return  # duplicate
        if impression_id in self._early_clicks:
            del self._early_clicks[impression_id]
            self._teach(event, True)
        else:
            self._waiting[impression_id] = (now + self.reward_wait_s, event)
            while len(self._waiting) > self.max_pending:
                _, (_, oldest) = self._waiting.popitem(last=False)
                self._teach(oldest, False)
        self._expire(now)

    def click(self, _key: str, event: events_pb2.Click) -> None:
        impression_id = event.impression_id
        waiting = self._waiting.pop(impression_id, None)
        if waiting is not None:
            self._teach(waiting[1], True)
        elif impression_id in self._done:
            self.late_clicks += 1
        else:
            self._early_clicks[impression_id] = None
            while len(self._early_clicks) > self.max_pending:
                self._early_clicks.popitem(last=False)
        self._expire(self._clock())

    def flush(self) -> None:
        """Teach every impression whose wait is over as not clicked."""
        self._expire(self._clock())

    async def run(self, interval_s: float = 0.5) -> None:
        """Flush every `interval_s` (impressions expire even when traffic stops)."""
        while True:
            await asyncio.sleep(interval_s)
            self.flush()

    def _expire(self, now: float) -> None:
        while self._waiting:
            impression_id, (deadline, impression) = next(iter(self._waiting.items()))
            if deadline > now:
                return
            del self._waiting[impression_id]
            self._teach(impression, False)

    def _teach(self, impression: events_pb2.Impression, clicked: bool) -> None:
        self._done[impression.impression_id] = None
        while len(self._done) > self.max_pending:
            self._done.popitem(last=False)
        self._learn(impression, clicked)
        self.learnt += 1
        self.clicks_learnt += int(clicked)
