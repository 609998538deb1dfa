"""The policy interface, for every policy: pull's propensity is the probability it chooses with.

Each policy is built by the factory from settings, over a synthetic product's four creatives,
and taught through `update` (the offline path). Monte Carlo tolerances: an estimate from m
draws has standard deviation at most sqrt(0.25 / m); the checks allow at least 4 of them.
"""

from __future__ import annotations

import doctest
import typing
from collections.abc import Sequence

import numpy as np
import pytest

from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.ranking import settings as ranking_settings
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import (
    HYBRID_VERSION,
    LINTS_VERSION,
    POLICIES,
    POLICY_VERSION,
    HybridPolicy,
    LinTSPolicy,
    Policy,
    ThompsonPolicy,
    base,
    build_policy,
    linear,
    thompson,
)
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import events_pb2
from tests.unit.test_ranking_policy import holder_with

KINDS = ("thompson", "hybrid", "lints")
MOBILE = {"placement": "feed", "device": "mobile"}
MOBILE_BUCKET = "placement=feed|device=mobile"
#: True click rates of the four creatives the policies are taught with.
CTRS = (0.05, 0.12, 0.08, 0.10)


def impression(
    n: int, creative_id: str, user: str = "", context: dict[str, str] | None = None
) -> events_pb2.Impression:
    return events_pb2.Impression(
        impression_id=f"imp-{n}",
        user_id=user or f"u{n % 40}",
        product_id=creative_id.rsplit("-", 1)[0],
        creative_id=creative_id,
        context=MOBILE if context is None else context,
    )


def teach(policy: Policy, ids: Sequence[str], ctrs: Sequence[float], n: int, seed: int = 1) -> None:
    """`n` impressions in turn over `ids`, each clicked with its creative's rate in `ctrs`."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        k = i % len(ids)
        policy.update(impression(i, ids[k]), bool(rng.random() < ctrs[k]))


def build(
    kind: str, seed: int = 0, samples: int = 2000, taught: int = 400, lints_scale: float = 0.05
) -> tuple[Policy, list[str]]:
    """A `kind` policy over one product's four creatives, taught `taught` outcomes."""
    creatives, profiles = synthetic_catalogue(1, 4, seed=0)
    features = FeatureStore()
    for event in creatives:
        features.apply_creative(event.creative.creative_id, event)
    for profile in profiles:
        features.apply_profile(profile.profile.product_id, profile)
    settings = RankingSettings(policy=kind, seed=seed, propensity_samples=samples, lints_scale=lints_scale)
    models = holder_with([0.06, 0.09, 0.07, 0.08]) if kind == "hybrid" else None
    policy = build_policy(settings, StatsBoard(), features, models)
    ids = [e.creative.creative_id for e in creatives]
    teach(policy, ids, CTRS, taught)
    return policy, ids


def test_doctests() -> None:
    for module in (base, thompson, linear):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_the_factory_builds_one_class_per_setting() -> None:
    assert set(POLICIES) == set(typing.get_args(ranking_settings.Policy))
    classes = {"thompson": ThompsonPolicy, "hybrid": HybridPolicy, "lints": LinTSPolicy}
    for kind, cls in classes.items():
        policy = build_policy(RankingSettings(policy=kind, seed=0))
        assert type(policy) is cls
        assert policy.needs_behaviour == (kind != "thompson")


@pytest.mark.parametrize("kind", KINDS)
def test_pull_chooses_with_the_probabilities_it_reports(kind: str) -> None:
    policy, ids = build(kind)
    version = {"thompson": POLICY_VERSION, "hybrid": f"{HYBRID_VERSION}+v-test", "lints": LINTS_VERSION}[kind]
    probabilities = policy.probabilities(ids, "u1", MOBILE)
    assert probabilities.shape == (4,) and probabilities.sum() == pytest.approx(1.0)
    assert probabilities.max() < 0.95, "a policy that no longer explores tests nothing here"
    pulls = [policy.pull(ids, "u1", MOBILE) for _ in range(1000)]
    assert {p.policy_version for p in pulls} == {version}
    frequency = np.bincount([p.index for p in pulls], minlength=4) / len(pulls)
    # Frequency over 1,000 pulls (sd <= .016) against 2,000 Monte Carlo draws (sd <= .011).
    np.testing.assert_allclose(frequency, probabilities, atol=0.08)
    for p in pulls[:50]:
        # Two Monte Carlo estimates of the same probability, 2,000 draws each.
        assert abs(p.propensity - probabilities[p.index]) < 0.07, (p, probabilities)


@pytest.mark.parametrize("kind", KINDS)
def test_slate_probabilities(kind: str) -> None:
    policy, ids = build(kind, samples=4000)
    slate = policy.slate_probabilities(ids, 3, "u1", MOBILE)
    assert slate.shape == (4, 3)
    np.testing.assert_allclose(slate.sum(axis=0), 1.0)
    assert np.all(slate.sum(axis=1) <= 1.0 + 1e-12)  # a creative fills at most one slot per draw
    np.testing.assert_allclose(slate[:, 0], policy.probabilities(ids, "u1", MOBILE), atol=0.05)
    np.testing.assert_allclose(policy.slate_probabilities(ids, 4, "u1", MOBILE).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="slots"):
        policy.slate_probabilities(ids, 5, "u1", MOBILE)
    with pytest.raises(ValueError, match="no arms"):
        policy.pull([], "u1", MOBILE)


@pytest.mark.parametrize("kind", KINDS)
def test_one_candidate_is_exact(kind: str) -> None:
    policy, ids = build(kind)
    decision = policy.pull(ids[:1], "u1", MOBILE)
    assert (decision.index, decision.propensity) == (0, 1.0)
    assert policy.probabilities(ids[:1], "u1", MOBILE).tolist() == [1.0]
    assert policy.slate_probabilities(ids[:1], 1, "u1", MOBILE).tolist() == [[1.0]]


@pytest.mark.parametrize("kind", ["thompson", "hybrid"])
def test_the_same_posterior_for_every_candidate_is_exact(kind: str) -> None:
    """Thompson sampling over creatives it cannot tell apart chooses each with 1/n exactly."""
    policy = build_policy(
        RankingSettings(policy=kind, seed=0),
        models=holder_with([0.07] * 4) if kind == "hybrid" else None,
    )
    ids = ["a", "b", "c", "d"]
    assert policy.probabilities(ids).tolist() == [0.25] * 4
    assert policy.slate_probabilities(ids, 2).tolist() == [[0.25, 0.25]] * 4
    picks = np.bincount([policy.pull(ids).index for _ in range(400)], minlength=4)
    assert np.all(np.abs(picks - 100) < 4 * np.sqrt(400 * 0.25 * 0.75)), picks


@pytest.mark.parametrize("kind", KINDS)
def test_update_changes_later_choices(kind: str) -> None:
    policy, ids = build(kind, taught=0, lints_scale=0.01)
    before = policy.probabilities(ids, "u1", MOBILE)
    # Only the third creative is ever clicked (30 %), the others never.
    teach(policy, ids, (0.0, 0.0, 0.3, 0.0), 2000, seed=2)
    after = policy.probabilities(ids, "u1", MOBILE)
    assert after[2] > 0.95 and after[2] > before[2] + 0.3, (before, after)
    decision = policy.pull(ids, "u1", MOBILE)
    assert decision.index == 2 and decision.propensity > 0.9


def test_thompson_update_counts_like_the_bandit() -> None:
    board = StatsBoard()
    policy = ThompsonPolicy(board, seed=0)
    policy.update(impression(0, "p-c1"), clicked=True)
    policy.update(impression(1, "p-c1", context={}), clicked=False)
    policy.update(impression(2, "p-c2"), clicked=False)
    assert (board.get("p-c1").impressions, board.get("p-c1").clicks) == (2.0, 1.0)
    assert (board.get("p-c1", MOBILE_BUCKET).impressions, board.get("p-c1", MOBILE_BUCKET).clicks) == (
        1.0,
        1.0,
    )
    assert board.get("p-c2", MOBILE_BUCKET).impressions == 1.0 and len(board) == 2


def test_hybrid_update_also_feeds_the_features() -> None:
    policy, ids = build("hybrid", taught=0)
    assert isinstance(policy, HybridPolicy)
    teach(policy, ids, CTRS, 100)
    assert policy.features.impressions_applied == 100
    assert policy.features.clicks_applied == policy.stats.counts(ids).clicks.sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_seed_makes_runs_repeatable(kind: str) -> None:
    runs = []
    for seed in (7, 7, 8):
        policy, ids = build(kind, seed=seed, samples=500)
        decisions = [policy.pull(ids, f"u{n}", MOBILE) for n in range(30)]
        runs.append((decisions, policy.slate_probabilities(ids, 2, "u1", MOBILE).tolist()))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
