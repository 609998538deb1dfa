"""Rank's policies: bucket fallback, the hybrid model prior, LinTS and its propensities, hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pytest

from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.ranking.features import FEATURE_NAMES, FEATURE_VERSION, N_FEATURES, FeatureStore
from creativeloop.ranking.model import CtrModel, ModelHolder, write_version
from creativeloop.ranking.policies import (
    HYBRID_VERSION,
    LINTS_VERSION,
    POLICY_VERSION,
    BetaThompson,
    LinTS,
    LinTSPolicy,
    build_policy,
    hybrid_posterior,
)
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.training.ranker import TrainOptions, lgb_params
from creativeloop.v1 import events_pb2

MOBILE = {"placement": "feed", "device": "mobile"}
MOBILE_BUCKET = "placement=feed|device=mobile"


def stats(creative_id: str, impressions: float, clicks: float, bucket: str = "") -> events_pb2.BanditStats:
    return events_pb2.BanditStats(
        creative_id=creative_id, impressions=impressions, clicks=clicks, context_bucket=bucket
    )


def candidates(n: int) -> list[str]:
    creatives, _ = synthetic_catalogue(1, n, seed=0)
    return [e.creative.creative_id for e in creatives]


class FixedBooster:
    """Stands in for a LightGBM booster: a fixed prediction per candidate position."""

    def __init__(self, predictions: list[float]) -> None:
        self.predictions = np.asarray(predictions)

    def predict(self, rows: npt.NDArray[np.float64], **_: Any) -> npt.NDArray[np.float64]:
        return self.predictions[: rows.shape[0]]


def holder_with(predictions: list[float], version: str = "v-test") -> ModelHolder:
    holder = ModelHolder(Path("/nonexistent"))
    holder.current = CtrModel(version, cast(lgb.Booster, FixedBooster(predictions)), {})
    return holder


# ---------------------------------------------------------------- buckets


def test_bucket_counts_are_used_once_they_have_enough_impressions() -> None:
    board = StatsBoard()
    board.apply("a", stats("a", 1000, 10))
    board.apply("a|m", stats("a", 500, 100, MOBILE_BUCKET))
    board.apply("b", stats("b", 1000, 50))
    board.apply("b|m", stats("b", 20, 0, MOBILE_BUCKET))  # too few in the bucket
    counts = board.counts(["a", "b", "new"], MOBILE_BUCKET, min_bucket_impressions=100)
    assert list(counts.impressions) == [500, 1000, 0]
    assert list(counts.clicks) == [100, 50, 0]
    assert counts.buckets == [MOBILE_BUCKET, "", ""]
    # No bucket in the request, or an unknown one: all contexts.
    assert list(board.counts(["a", "b"]).impressions) == [1000, 1000]
    assert list(board.counts(["a"], "placement=x", 0).impressions) == [1000]
    assert board.get("a", MOBILE_BUCKET).clicks == 100 and len(board) == 2


def test_policy_follows_the_bucket_where_tastes_differ() -> None:
    """Overall b is better; on mobile, with enough mobile data, a is: mobile requests get a."""
    pool = candidates(2)
    a, b = pool
    board = StatsBoard()
    for event in [
        stats(a, 2000, 40),
        stats(b, 2000, 200),
        stats(a, 500, 40, MOBILE_BUCKET),
        stats(b, 500, 5, MOBILE_BUCKET),
    ]:
        board.apply("", event)
    policy = build_policy(RankingSettings(policy="thompson", seed=0, min_bucket_impressions=100), board)
    mobile = policy.pull(pool, "u", MOBILE)
    desktop = policy.pull(pool, "u", {"placement": "feed", "device": "desktop"})
    assert (mobile.index, mobile.stats_bucket) == (0, MOBILE_BUCKET)
    assert (desktop.index, desktop.stats_bucket) == (1, "")
    assert mobile.policy_version == POLICY_VERSION and mobile.propensity > 0.99


# ---------------------------------------------------------------- hybrid


def test_hybrid_posterior_formula() -> None:
    alpha, beta = hybrid_posterior(np.array([0.2, 0.0]), np.array([10.0, 5.0]), np.array([2.0, 9.0]), 50)
    np.testing.assert_allclose(alpha, [50 * 0.2 + 2, 50 * 1e-4 + 5])
    np.testing.assert_allclose(beta, [50 * 0.8 + 8, 50 * (1 - 1e-4) + 0])


def test_hybrid_follows_the_model_without_data() -> None:
    pool = candidates(4)
    policy = build_policy(
        RankingSettings(policy="hybrid", seed=1, prior_strength=100),
        StatsBoard(),
        models=holder_with([0.02, 0.02, 0.15, 0.02]),
    )
    picks = [policy.pull(pool, "u", {}) for _ in range(300)]
    assert np.mean([p.index == 2 for p in picks]) > 0.9
    assert all(p.policy_version == f"{HYBRID_VERSION}+v-test" for p in picks)
    assert picks[0].predicted_ctr == pytest.approx(0.15 if picks[0].index == 2 else 0.02)


def test_hybrid_converges_to_the_data_with_lots_of_it() -> None:
    pool = candidates(4)
    board = StatsBoard()
    for i, creative in enumerate(pool):
        board.apply("", stats(creative, 20_000, 2_000 if i == 0 else 200))
    policy = build_policy(
        RankingSettings(policy="hybrid", seed=2, prior_strength=100),
        board,
        models=holder_with([0.02, 0.02, 0.15, 0.02]),
    )
    picks = [policy.pull(pool, "u", {}).index for _ in range(200)]
    assert np.mean([p == 0 for p in picks]) > 0.95


def test_hybrid_without_a_model_is_thompson() -> None:
    pool = candidates(3)
    board = StatsBoard()
    settings = RankingSettings(policy="hybrid", seed=3)
    hybrid = build_policy(settings, board, models=ModelHolder(Path("/nonexistent")))
    plain = BetaThompson(settings.prior_alpha, settings.prior_beta, settings.propensity_samples, seed=3)
    for _ in range(20):
        got = hybrid.pull(pool, "u", {})
        want = plain.pull([0, 0, 0], [0, 0, 0])
        assert (got.index, got.propensity, got.policy_version) == (
            want.index,
            want.propensity,
            POLICY_VERSION,
        )


# ---------------------------------------------------------------- LinTS


def test_lints_learns_from_the_streams_and_reports_its_propensity() -> None:
    rng = np.random.default_rng(0)
    policy = LinTS(3, ridge=1.0, scale=1.0, propensity_samples=4000, seed=4)
    rows = np.array([[1.0, 0.0, 0.2], [1.0, 1.0, 0.0], [1.0, 0.5, 0.5]])
    truth = np.array([0.05, 0.1, 0.0])
    for n in range(300):
        x = rows[n % 3]
        policy.observe_impression(f"i{n}", x)
        if rng.random() < x @ truth:
            policy.observe_click(f"i{n}")
            policy.observe_click(f"i{n}")  # a duplicate click counts once
    assert policy.clicks <= policy.impressions == 300
    pulls = [policy.pull(rows) for _ in range(3000)]
    for arm in range(3):
        chosen = [p for p in pulls if p.index == arm]
        freq = len(chosen) / len(pulls)
        reported = float(np.mean([p.propensity for p in chosen])) if chosen else 0.0
        assert abs(freq - reported) < 0.05, (arm, freq, reported)
    assert len({p.index for p in pulls}) == 3  # still exploring: the check above covers every arm


def test_lints_ranker_learns_from_the_feature_store() -> None:
    creatives, profiles = synthetic_catalogue(1, 3, seed=0)
    features = FeatureStore()
    policy = build_policy(RankingSettings(policy="lints", seed=5, lints_scale=0.01), StatsBoard(), features)
    assert isinstance(policy, LinTSPolicy) and policy.needs_behaviour
    for event in creatives:
        features.apply_creative("", event)
    for profile in profiles:
        features.apply_profile("", profile)
    pool = [e.creative for e in creatives]
    for n in range(300):  # everyone sees all three; only the second is ever clicked
        creative = pool[n % 3]
        iid = f"i{n}"
        features.apply_impression(
            iid,
            events_pb2.Impression(
                impression_id=iid,
                user_id=f"u{n}",
                product_id=creative.product_id,
                creative_id=creative.creative_id,
            ),
        )
        if n % 3 == 1:
            features.apply_click(iid, events_pb2.Click(impression_id=iid, user_id=f"u{n}"))
    assert policy.lints.impressions == 300 and policy.lints.clicks == 100
    decision = policy.pull([c.creative_id for c in pool], "someone-new", {})
    assert decision.index == 1 and decision.policy_version == LINTS_VERSION and decision.propensity > 0.9


# ---------------------------------------------------------------- model repository


def tiny_model_text(seed: int) -> str:
    rng = np.random.default_rng(seed)
    rows = rng.random((400, N_FEATURES))
    labels = (rows[:, 1] + 0.3 * rng.random(400) > 0.8).astype(float)
    params = {**lgb_params(TrainOptions(seed=seed)), "min_data_in_leaf": 5}
    return str(lgb.train(params, lgb.Dataset(rows, labels), num_boost_round=5).model_to_string())


def metadata(**overrides: Any) -> dict[str, Any]:
    return {"feature_version": FEATURE_VERSION, "feature_names": list(FEATURE_NAMES), **overrides}


def test_hot_reload_swaps_to_the_newest_version(tmp_path: Path) -> None:
    holder = ModelHolder(tmp_path)
    assert not holder.refresh() and holder.current is None
    write_version(tmp_path, "20260101T000000Z-a", tiny_model_text(0), metadata())
    assert holder.refresh() and holder.current is not None
    policy = build_policy(RankingSettings(policy="hybrid", seed=0), StatsBoard(), models=holder)
    pool = candidates(3)
    assert policy.pull(pool, "u", {}).policy_version == f"{HYBRID_VERSION}+20260101T000000Z-a"
    (tmp_path / ".20260201T000000Z-b.partial").mkdir()  # a version being written: ignored
    assert not holder.refresh()
    write_version(tmp_path, "20260201T000000Z-b", tiny_model_text(1), metadata())
    assert holder.refresh()
    assert policy.pull(pool, "u", {}).policy_version == f"{HYBRID_VERSION}+20260201T000000Z-b"
    assert not holder.refresh()  # nothing newer
    with pytest.raises(RuntimeError, match="immutable"):
        write_version(tmp_path, "20260201T000000Z-b", "x", metadata())


def test_a_model_for_other_features_is_rejected_and_the_current_one_kept(tmp_path: Path) -> None:
    write_version(tmp_path, "v1", tiny_model_text(0), metadata())
    holder = ModelHolder(tmp_path)
    assert holder.refresh()
    write_version(tmp_path, "v2", tiny_model_text(0), metadata(feature_version="something-else"))
    assert not holder.refresh()
    assert holder.current is not None and holder.current.version == "v1"
