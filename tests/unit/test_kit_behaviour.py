"""kit.behaviour: a user's recent impressions, the same whatever order they arrive in."""

from __future__ import annotations

import random

import pytest

from creativeloop.kit.behaviour import UserWindow, behaviour_message, tallies_of, within_window
from creativeloop.kit.codec import InvalidEvent, decode, encode
from creativeloop.v1 import streams_pb2


def test_the_window_keeps_the_newest_impressions_whatever_the_arrival_order() -> None:
    rng = random.Random(1)
    shown = [(f"i{n:03d}", f"c{n % 4}", 1_000 + n * 10, n % 3 == 0) for n in range(60)]
    windows = []
    for _ in range(5):
        order = shown[:]
        rng.shuffle(order)
        window = UserWindow(history=20)
        for impression_id, creative_id, at, clicked in order:
            window.show(impression_id, creative_id, at, clicked)
        windows.append(window)
    newest = shown[-20:]
    for window in windows:
        assert window.entries() == newest
        assert (window.impressions, window.clicks) == (20, sum(1 for e in newest if e[3]))
        assert window.tallies == windows[0].tallies


def test_duplicates_clicks_and_what_leaves() -> None:
    window = UserWindow(history=2)
    assert window.show("a", "c1", 10)
    assert not window.show("a", "c1", 10)  # a duplicate
    assert window.click("a") and not window.click("a")
    assert not window.click("nope")
    assert window.show("b", "c2", 20) and window.show("c", "c2", 30)
    assert "a" not in window and window.tallies == {"c2": [2, 0]} and window.clicks == 0
    assert not window.show("old", "c3", 5)  # older than everything kept: leaves at once
    assert UserWindow.from_entries(2, window.entries()).entries() == window.entries()
    with pytest.raises(ValueError):
        UserWindow(0)


def test_the_record_round_trips_and_is_validated() -> None:
    window = UserWindow(history=10)
    window.show("a", "c1", 1_800_000_000_000_000_000, clicked=True)
    window.show("b", "c1", 1_800_000_001_000_000_000)
    window.show("c", "c0", 1_800_000_002_000_000_000)
    message = decode(streams_pb2.UserBehaviour, encode(behaviour_message("u1", window)))
    assert message.user_id == "u1" and message.updated_at.seconds == 1_800_000_002
    assert tallies_of(message) == {"c0": (1, 0), "c1": (2, 1)}
    bad = streams_pb2.UserBehaviour(user_id="u1")
    bad.creatives.add(creative_id="c1", impressions=1, clicks=2)
    with pytest.raises(InvalidEvent, match="more clicks"):
        encode(bad)
    with pytest.raises(InvalidEvent, match="user_id"):
        encode(streams_pb2.UserBehaviour())


def test_the_attribution_window_rule() -> None:
    assert within_window(100, 100, 10) and within_window(100, 110, 10) and within_window(100, 90, 10)
    assert not within_window(100, 111, 10) and not within_window(100, 89, 10)
