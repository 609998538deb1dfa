"""The OPE gate (`creativeloop.evaluation.ope.gate`): rounds from the logs, estimates, decision.

Logs are simulated with known click rates, so each policy's true value is known: a uniform
logging policy over three creatives, and candidates that are truly better, equal or worse.
"""

from __future__ import annotations

import numpy as np
import pytest

from creativeloop.evaluation.ope.gate import decide, gate_rounds
from creativeloop.v1 import common_pb2, events_pb2

CTR = np.array([0.30, 0.10, 0.10])
BETTER = np.array([0.90, 0.05, 0.05])  # true value 0.28 vs 0.1667 for uniform
WORSE = np.array([0.05, 0.90, 0.05])  # true value 0.12
UNIFORM = np.full(3, 1 / 3)


def simulate(candidate: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rewards, logging propensities and the candidate's probability of the logged creative."""
    rng = np.random.default_rng(seed)
    served = rng.integers(0, 3, n)
    rewards = (rng.random(n) < CTR[served]).astype(float)
    return rewards, np.full(n, 1 / 3), candidate[served]


def test_a_truly_better_candidate_is_promoted_on_enough_data() -> None:
    d = decide(*simulate(BETTER, 5000, seed=1), min_impressions=1000)
    assert d.promote, d.reason
    assert d.lift.low > 0
    assert d.apprentice.low <= float(BETTER @ CTR) <= d.apprentice.high
    assert d.serving.low <= float(UNIFORM @ CTR) <= d.serving.high
    assert d.mean_weight == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("candidate", [UNIFORM, WORSE], ids=["equal", "worse"])
def test_an_equal_or_worse_candidate_is_not_promoted(candidate: np.ndarray) -> None:
    for seed in range(20):
        d = decide(*simulate(candidate, 5000, seed=seed), min_impressions=1000)
        assert not d.promote, (seed, d)
        assert "not above 0" in d.reason


def test_an_equal_candidate_has_exactly_no_lift() -> None:
    d = decide(*simulate(UNIFORM, 3000, seed=0), min_impressions=1)
    assert d.lift.value == pytest.approx(0.0, abs=1e-12) and d.lift.low == pytest.approx(0.0, abs=1e-12)
    assert not d.promote


def test_too_little_data_is_not_promoted_even_when_the_estimate_is_better() -> None:
    rewards, logging, target = simulate(BETTER, 300, seed=2)
    d = decide(rewards, logging, target, min_impressions=1000)
    assert d.lift.value > 0 and not d.promote and "too little data" in d.reason
    # The same estimate on enough rounds is promoted: it was the amount of data that held it back.
    assert decide(rewards, logging, target, min_impressions=300).promote


def test_the_lift_interval_covers_the_true_lift_at_about_its_level() -> None:
    truth = float(BETTER @ CTR - UNIFORM @ CTR)
    covered = [decide(*simulate(BETTER, 2000, seed=s), min_impressions=1).lift for s in range(200)]
    rate = np.mean([i.low <= truth <= i.high for i in covered])
    assert 0.90 <= rate <= 0.99, rate


def impression(
    iid: str, shown: float, propensity: float = 0.5, served: float = 0.5, version: str = "beta-thompson-v1"
) -> tuple[events_pb2.Impression, int]:
    imp = events_pb2.Impression(
        impression_id=iid, creative_id="c", propensity=propensity, policy_version=version
    )
    imp.shown_at.FromMilliseconds(int(shown * 1000))
    imp.apprentice.CopyFrom(
        common_pb2.ApprenticeChoice(
            policy="shared", policy_version="shared-igw-v1", creative_id="c", served_propensity=served
        )
    )
    return imp, 0


def click(iid: str, at: float) -> tuple[events_pb2.Click, int]:
    c = events_pb2.Click(impression_id=iid)
    c.clicked_at.FromMilliseconds(int(at * 1000))
    return c, 0


def test_rounds_apply_the_attribution_window_and_the_default_reward() -> None:
    plain = events_pb2.Impression(impression_id="none", creative_id="c", propensity=1.0)
    impressions = [
        impression("old", 10.0, version="hybrid-thompson-v1+m1"),  # an older pairing
        impression("a", 100.0, version="beta-thompson-v1"),
        impression("b", 101.0),
        impression("c", 102.0, served=0.25),
        impression("b", 101.0),  # a duplicate
        impression("open", 195.0),  # its window is still open at as_of=200
        (plain, 0),
    ]
    clicks = [click("a", 103.0), click("b", 150.0), click("c", 105.0), click("c", 104.0)]
    rounds = gate_rounds(impressions, clicks, reward_wait_s=10.0, as_of=200.0)
    assert rounds is not None
    assert (rounds.serving_version, rounds.apprentice, rounds.apprentice_version) == (
        "beta-thompson-v1",
        "shared",
        "shared-igw-v1",
    )
    assert rounds.rewards.tolist() == [1.0, 0.0, 1.0]  # b clicked after its window: reward 0
    assert rounds.target.tolist() == [0.5, 0.5, 0.25]
    assert (rounds.pending, rounds.other_pairings, rounds.without_apprentice, rounds.late_clicks) == (
        1,
        1,
        1,
        1,
    )
    # The version family ignores the model suffix: hybrid's versions pair with each other.
    hybrid = [
        impression("h1", 1.0, version="hybrid-thompson-v1+m1"),
        impression("h2", 2.0, version="hybrid-thompson-v1+m2"),
    ]
    paired = gate_rounds(hybrid, [], reward_wait_s=1.0, as_of=100.0)
    assert paired is not None and len(paired.rewards) == 2 and paired.other_pairings == 0
    assert gate_rounds([(plain, 0)], [], 1.0) is None
