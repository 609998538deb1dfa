"""Beta-Thompson choices and their propensities."""

from __future__ import annotations

import numpy as np
import pytest

from creativeloop.ranking.policies import BetaThompson


def test_single_arm_is_certain() -> None:
    choice = BetaThompson(seed=0).pull([5], [1])
    assert (choice.index, choice.propensity) == (0, 1.0)


def test_no_arms_is_an_error() -> None:
    with pytest.raises(ValueError, match="no arms"):
        BetaThompson(seed=0).pull([], [])


def test_untried_arms_are_chosen_uniformly() -> None:
    policy = BetaThompson(seed=1, propensity_samples=2000)
    picks = np.bincount([policy.pull([0, 0, 0, 0], [0, 0, 0, 0]).index for _ in range(4000)], minlength=4)
    # Each arm ~ Binomial(4000, 1/4): sd ~ 27, so 5 sd is 137.
    assert np.all(np.abs(picks - 1000) < 137), picks


def test_propensity_matches_empirical_choice_frequency() -> None:
    """The reported propensity is the probability of the choice: average it against the truth."""
    policy = BetaThompson(seed=2, propensity_samples=4000)
    impressions, clicks = [40, 40, 40], [6, 4, 2]
    pulls = [policy.pull(impressions, clicks) for _ in range(3000)]
    for arm in range(3):
        freq = np.mean([p.index == arm for p in pulls])
        reported = np.mean([p.propensity for p in pulls if p.index == arm])
        # freq has sd <= sqrt(.25/3000) ~ .009; the MC estimate sd <= sqrt(.25/4000) ~ .008.
        assert abs(freq - reported) < 0.05, (arm, freq, reported)


def test_clearly_better_arm_dominates() -> None:
    choice = BetaThompson(seed=3).pull([1000, 1000], [10, 300])
    assert choice.index == 1 and choice.propensity > 0.99


def test_clicks_above_impressions_are_clamped() -> None:
    choice = BetaThompson(seed=4).pull([1, 1000], [50, 500])
    assert choice.index == 1
