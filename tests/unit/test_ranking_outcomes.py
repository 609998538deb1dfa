"""`ranking.outcomes.OutcomeJoiner`: what the `shared` policy learns in serving, and when."""

from __future__ import annotations

from creativeloop.ranking.outcomes import OutcomeJoiner
from creativeloop.v1 import events_pb2


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def impression(impression_id: str) -> events_pb2.Impression:
    return events_pb2.Impression(impression_id=impression_id, creative_id="c")


def joiner(clock: Clock, max_pending: int = 100) -> tuple[OutcomeJoiner, list[tuple[str, bool]]]:
    learnt: list[tuple[str, bool]] = []
    return OutcomeJoiner(lambda i, c: learnt.append((i.impression_id, c)), 10.0, max_pending, clock), learnt


def test_a_click_teaches_at_once_and_silence_teaches_a_non_click_after_the_wait() -> None:
    clock = Clock()
    outcomes, learnt = joiner(clock)
    outcomes.impression("a", impression("a"))
    outcomes.impression("b", impression("b"))
    outcomes.click("b", events_pb2.Click(impression_id="b"))
    assert learnt == [("b", True)]
    clock.now = 9.9
    outcomes.flush()
    assert learnt == [("b", True)]
    clock.now = 10.0
    outcomes.flush()
    assert learnt == [("b", True), ("a", False)]
    assert (outcomes.learnt, outcomes.clicks_learnt, outcomes.waiting) == (2, 1, 0)


def test_early_clicks_wait_for_their_impression_and_late_clicks_and_duplicates_teach_nothing() -> None:
    clock = Clock()
    outcomes, learnt = joiner(clock)
    outcomes.click("a", events_pb2.Click(impression_id="a"))
    assert learnt == []
    outcomes.impression("a", impression("a"))
    outcomes.impression("a", impression("a"))  # duplicate
    outcomes.impression("b", impression("b"))
    clock.now = 20.0
    outcomes.flush()
    outcomes.click("b", events_pb2.Click(impression_id="b"))  # after its wait
    outcomes.impression("b", impression("b"))  # duplicate after it was learnt
    outcomes.click("a", events_pb2.Click(impression_id="a"))  # duplicate click
    assert learnt == [("a", True), ("b", False)]
    assert outcomes.late_clicks == 2


def test_waiting_impressions_are_bounded() -> None:
    clock = Clock()
    outcomes, learnt = joiner(clock, max_pending=2)
    for name in "abc":
        outcomes.impression(name, impression(name))
    assert learnt == [("a", False)]
    assert outcomes.waiting == 2
