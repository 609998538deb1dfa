"""A user's recent behaviour: the one definition the bandit publishes and ranking's features read.

`UserWindow` keeps a user's most recent impressions, at most `history` of them: the newest by
(shown_at, impression_id), whatever order they arrive in, so a replay or a recovery that applies
the same impressions in another order ends with the same window. Clicks mark their impression
while it is in the window. `tallies` sums the window per creative: what `user.behaviour` carries
(`behaviour_message`) and what ranking turns into affinity features
(`creativeloop.ranking.features`).

The bandit (the one stream job that joins clicks to impressions) feeds windows from its joined
outcomes and publishes them; ranking's offline feature store (training, the simulator) feeds the
same class from logged impressions and clicks. Either way the features come from one definition.

>>> window = UserWindow(history=2)
>>> window.show("i1", "c1", 10), window.show("i2", "c2", 20), window.click("i1")
(True, True, True)
>>> window.show("i3", "c1", 30), sorted(window.tallies.items()), (window.impressions, window.clicks)
(True, [('c1', [1, 0]), ('c2', [1, 0])], (2, 0))
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.v1 import streams_pb2

#: One impression in a window: (impression_id, creative_id, shown_at_ns, clicked).
Entry = tuple[str, str, int, bool]

#: The attribution window the bandit defaults to (its `attribution_window_s`).
DEFAULT_ATTRIBUTION_WINDOW_S = 1800.0


def within_window(shown_at_ns: int, clicked_at_ns: int, window_ns: int) -> bool:
    """Whether a click counts for its impression: at most one window after it (or, by clock skew
    between the servers that log them, before it)."""
    return -window_ns <= clicked_at_ns - shown_at_ns <= window_ns


class UserWindow:
    """The newest `history` impressions of one user, their clicks, and both summed per creative."""

    __slots__ = ("_order", "_shown", "clicks", "history", "tallies")

    def __init__(self, history: int) -> None:
        if history < 1:
            raise ValueError(f"history must be at least 1, not {history}")
        self.history = history
        #: (shown_at_ns, impression_id), oldest first.
        self._order: list[tuple[int, str]] = []
        #: impression_id -> (creative_id, clicked); tuples, which the garbage collector stops tracking
        self._shown: dict[str, tuple[str, bool]] = {}
        #: creative_id -> [impressions, clicks] over the window.
        self.tallies: dict[str, list[int]] = {}
        self.clicks = 0

    @property
    def impressions(self) -> int:
        return len(self._order)

    @property
    def newest_ns(self) -> int:
        """shown_at of the newest impression (0 when empty)."""
        return self._order[-1][0] if self._order else 0

    def __contains__(self, impression_id: object) -> bool:
        return impression_id in self._shown

    def show(self, impression_id: str, creative_id: str, shown_at_ns: int, clicked: bool = False) -> bool:
        """Add an impression (already clicked or not); False if it is here already or too old to stay."""
        if impression_id in self._shown:
            return False
        key = (shown_at_ns, impression_id)
        order = self._order
        if len(order) >= self.history and key < order[0]:
            return False  # older than every impression kept: it would leave at once
        if not order or key > order[-1]:
            order.append(key)
        else:
            bisect.insort(order, key)
        self._shown[impression_id] = (creative_id, clicked)
        tally = self.tallies.get(creative_id)
        if tally is None:
            self.tallies[creative_id] = [1, int(clicked)]
        else:
            tally[0] += 1
            tally[1] += int(clicked)
        self.clicks += int(clicked)
        while len(order) > self.history:
            _, oldest = order.pop(0)
            self._forget(oldest)
        return True

    def click(self, impression_id: str) -> bool:
        """Mark an impression of the window clicked; False if it is not here or was clicked already."""
        entry = self._shown.get(impression_id)
        if entry is None or entry[1]:
            return False
        self._shown[impression_id] = (entry[0], True)
        self.tallies[entry[0]][1] += 1
        self.clicks += 1
        return True

    def _forget(self, impression_id: str) -> None:
        creative_id, clicked = self._shown.pop(impression_id)
        tally = self.tallies[creative_id]
        tally[0] -= 1
        tally[1] -= int(clicked)
        self.clicks -= int(clicked)
        if tally[0] <= 0:
            del self.tallies[creative_id]

    def entries(self) -> list[Entry]:
        """The window, oldest first (what a checkpoint stores)."""
        shown = self._shown
        return [(iid, shown[iid][0], at, shown[iid][1]) for at, iid in self._order]

    @classmethod
    def from_entries(cls, history: int, entries: Iterable[Entry]) -> UserWindow:
        window = cls(history)
        for impression_id, creative_id, shown_at_ns, clicked in entries:
            window.show(impression_id, creative_id, shown_at_ns, clicked)
        return window


def behaviour_message(user_id: str, window: UserWindow) -> streams_pb2.UserBehaviour:
    """The `user.behaviour` record of a window (creatives in id order)."""
    message = streams_pb2.UserBehaviour(user_id=user_id)
    for creative_id in sorted(window.tallies):
        impressions, clicks = window.tallies[creative_id]
        message.creatives.add(creative_id=creative_id, impressions=impressions, clicks=clicks)
    if window.newest_ns:
        stamp = Timestamp()
        try:
            stamp.FromNanoseconds(window.newest_ns)
        except (ValueError, OverflowError):
            return message  # outside Timestamp's range: leave it unset
        message.updated_at.CopyFrom(stamp)
    return message


def tallies_of(message: streams_pb2.UserBehaviour) -> dict[str, tuple[int, int]]:
    """creative_id -> (impressions, clicks) of a `user.behaviour` record."""
    return {tally.creative_id: (tally.impressions, tally.clicks) for tally in message.creatives}
