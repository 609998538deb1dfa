"""`SharedModelPolicy` (``policy = "shared"``): exact propensities, learning, sharing across creatives.

The policy is taught through `update` with impressions that carry the request's typed features,
as the bench and off-policy evaluation do. Frequencies are compared with 4 standard deviations
of slack.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import (
    POLICIES,
    SHARED_VERSION,
    CreativeIndex,
    SharedModelPolicy,
    build_policy,
    shared,
)
from creativeloop.ranking.settings import RankingSettings
from creativeloop.v1 import common_pb2, events_pb2

TEMPLATES = ("hero", "split", "poster", "minimal")


def creative(cid: str, template: str, colour: str = "red", product: str = "p1") -> common_pb2.Creative:
    return common_pb2.Creative(
        creative_id=cid,
        product_id=product,
        category="dresses",
        elements={"template": template, "colour": colour},
        numeric_attributes={"aesthetic_score": 50.0 + len(cid)},
        image_embedding=common_pb2.Embedding(model="m", values=[float(len(template)), 1.0, -1.0]),
    )


def catalogue(*creatives: common_pb2.Creative) -> CreativeIndex:
    index = CreativeIndex()
    for c in creatives:
        index.apply(c.creative_id, events_pb2.CreativeUpdated(creative=c))
    return index


def features(device: str = "mobile", depth: float = 2.0) -> common_pb2.RequestFeatures:
    return common_pb2.RequestFeatures(categorical={"device": device}, numeric={"session_depth": depth})


def teach(
    policy: SharedModelPolicy,
    ids: list[str],
    ctr: dict[tuple[str, str], float],
    n: int,
    devices: tuple[str, ...] = ("mobile",),
    seed: int = 0,
) -> None:
    """`n` impressions in turn over `ids` (and `devices`), clicked with ctr[(creative, device)]."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        cid, device = ids[i % len(ids)], devices[(i // len(ids)) % len(devices)]
        impression = events_pb2.Impression(
            impression_id=f"i{i}",
            user_id=f"u{i % 50}",
            creative_id=cid,
            context={"placement": "feed"},
            features=features(device),
        )
        policy.update(impression, bool(rng.random() < ctr.get((cid, device), 0.0)))


def four() -> tuple[SharedModelPolicy, list[str]]:
    ids = [f"c{i}" for i in range(4)]
    index = catalogue(*(creative(cid, t) for cid, t in zip(ids, TEMPLATES, strict=True)))
    return SharedModelPolicy(index, gamma=20.0, seed=3), ids


def test_doctests() -> None:
    assert doctest.testmod(shared).failed == 0


def test_the_factory_builds_it_over_the_feature_store() -> None:
    assert "shared" in POLICIES
    store = FeatureStore()
    policy = build_policy(RankingSettings(policy="shared", seed=0), features=store)
    assert isinstance(policy, SharedModelPolicy) and policy.needs_behaviour is False
    store.apply_creative("a", events_pb2.CreativeUpdated(creative=creative("a", "hero")))
    store.apply_creative("b", events_pb2.CreativeUpdated(creative=creative("b", "split")))
    decision = policy.pull(["a", "b"], "u", {"device": "mobile"}, features=features())
    assert decision.policy_version == SHARED_VERSION
    assert len(policy.model.columns) > 3  # it read the creatives' elements, attributes, embedding


def test_propensities_are_exact_and_match_the_choices() -> None:
    policy, ids = four()
    teach(policy, ids, {("c1", "mobile"): 0.2, ("c2", "mobile"): 0.1}, 400)
    p = policy.probabilities(ids, "u1", {"placement": "feed"}, features=features())
    assert p.shape == (4,) and p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(p > 0) and p.max() < 0.99, p
    pulls = [policy.pull(ids, "u1", {"placement": "feed"}, features=features()) for _ in range(3000)]
    for d in pulls:
        assert d.propensity == pytest.approx(p[d.index], abs=1e-12)
    frequency = np.bincount([d.index for d in pulls], minlength=4) / len(pulls)
    np.testing.assert_allclose(frequency, p, atol=4 * np.sqrt(0.25 / len(pulls)))


def test_update_changes_later_choices() -> None:
    policy, ids = four()
    before = policy.probabilities(ids, "u1", features=features())
    teach(policy, ids, {("c2", "mobile"): 0.3}, 2000)
    after = policy.probabilities(ids, "u1", features=features())
    assert after[2] > 0.9 and after[2] > before[2] + 0.5, (before, after)
    assert policy.pull(ids, "u1", features=features()).index == 2


def test_typed_context_changes_the_choice() -> None:
    """What mobile users like and what desktop users like are learnt apart."""
    policy, ids = four()
    ctr = {("c0", "mobile"): 0.25, ("c3", "desktop"): 0.25}
    teach(policy, ids, ctr, 4000, devices=("mobile", "desktop"))
    mobile = policy.probabilities(ids, "u", features=features("mobile"))
    desktop = policy.probabilities(ids, "u", features=features("desktop"))
    assert np.argmax(mobile) == 0 and np.argmax(desktop) == 3, (mobile, desktop)


def test_what_is_learnt_carries_to_new_creatives_with_the_same_elements() -> None:
    """Clicks on 'hero' creatives make a new 'hero' creative preferred to a new 'split' one."""
    old = [
        creative(f"o{i}", t, colour=c)
        for i, (t, c) in enumerate([("hero", "red"), ("hero", "blue"), ("split", "red"), ("split", "blue")])
    ]
    fresh = [creative("n-hero", "hero", "green", "p2"), creative("n-split", "split", "green", "p2")]
    policy = SharedModelPolicy(catalogue(*old, *fresh), gamma=50.0, seed=1)
    ids = [c.creative_id for c in old]
    teach(policy, ids, {("o0", "mobile"): 0.2, ("o1", "mobile"): 0.2, ("o2", "mobile"): 0.02}, 3000)
    p = policy.probabilities(["n-hero", "n-split"], "u", features=features())
    assert p[0] > 0.8, p


def test_vocabularies_grow_without_collisions() -> None:
    many = [creative(f"c{i}", f"template-{i}", colour=f"colour-{i}") for i in range(40)]
    policy = SharedModelPolicy(catalogue(*many), seed=0)
    policy.probabilities([c.creative_id for c in many], "u", features=features())
    tokens = policy.model.columns.tokens
    assert len(tokens) == len(set(tokens))
    assert {f"template=template-{i}" for i in range(40)} <= set(tokens)
    assert {f"colour=colour-{i}" for i in range(40)} <= set(tokens)


def test_one_candidate_and_slates() -> None:
    policy, ids = four()
    teach(policy, ids, {("c1", "mobile"): 0.2}, 400)
    assert policy.pull(ids[:1]).propensity == 1.0
    assert policy.probabilities(ids[:1]).tolist() == [1.0]
    slate = policy.slate_probabilities(ids, 2, "u1", features=features())
    assert slate.shape == (4, 2)
    np.testing.assert_allclose(slate.sum(axis=0), 1.0)
    np.testing.assert_allclose(slate[:, 0], policy.probabilities(ids, "u1", features=features()))
    with pytest.raises(ValueError, match="no arms"):
        policy.pull([])


def test_a_seed_makes_runs_repeatable() -> None:
    runs = []
    for seed in (5, 5, 6):
        ids = [f"c{i}" for i in range(4)]
        index = catalogue(*(creative(cid, t) for cid, t in zip(ids, TEMPLATES, strict=True)))
        policy = SharedModelPolicy(index, gamma=5.0, seed=seed)
        teach(policy, ids, {("c1", "mobile"): 0.2}, 200)
        runs.append([policy.pull(ids, f"u{n}", features=features()).index for n in range(40)])
    assert runs[0] == runs[1] and runs[0] != runs[2]
