"""The test-set scorer's rules, on made-up labels (never on the test set itself)."""

from __future__ import annotations

from creativeloop.evaluation.video import ShotTally, match_windows, score_test_clip


def test_windows_match_one_to_one_and_maximally() -> None:
    # 11 could take either window; taking the one that ends first leaves the other for 13.
    matched, unmatched = match_windows([11, 13], [(9, 15), (8, 12)])
    assert matched == {0, 1} and unmatched == []
    matched, unmatched = match_windows([10, 11], [(8, 12)])
    assert matched == {0} and unmatched == [11]  # a second detection in one span is a false positive


def test_cuts_gradual_spans_ignore_spans_and_flashes() -> None:
    tally = ShotTally()
    boundaries = [
        ("cut", 20, 20, 20),
        ("dissolve", 60, 55, 66),
        ("fade", 100, 95, 104),
        ("cut", 150, 150, 150),
    ]
    events = [("flash", 120, 121), ("flash", 170, 170), ("caption", 30, 40)]
    detected = [22, 53, 68, 123, 135, 153]
    # 22: the cut at 20; 53: the dissolve (55 - 2); 68: outside the fade (95..104) and the dissolve
    # (already taken): a false positive; 123: a flash cut and a false positive; 135: ignored;
    # 153: too far from the cut at 150.
    score_test_clip(detected, boundaries, events, [(130, 140)], 2, tally)
    summary = tally.summary()
    assert (summary["tp"], summary["fp"], summary["fn"]) == (2, 3, 2)
    assert summary["gradual_recall"] == 0.5
    assert summary["recall_by_kind"] == {"cut": 0.5, "dissolve": 1.0, "fade": 0.0}
    assert (summary["flashes"], summary["flashes_cut"], summary["detections_at_flashes"]) == (2, 1, 1)
