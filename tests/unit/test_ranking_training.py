"""Training on logged impressions and clicks: replayed features, deterministic, recovers a planted taste."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from creativeloop.evaluation.simulation import SimulationResult, simulate, synthetic_catalogue
from creativeloop.ranking.features import FEATURE_NAMES, FEATURE_VERSION, FeatureStore
from creativeloop.ranking.model import ModelHolder, list_versions
from creativeloop.ranking.policies import build_policy
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.training.ranker import Logs, TrainOptions, auc, build_dataset, train_from_logs
from creativeloop.v1 import common_pb2

DARK = {"#173a34", "#1d2a4d", "#2f2f2f"}


class PlantedTaste:
    """Even users click dark backgrounds (30 %) and little else (3 %); odd users the opposite."""

    def click_probability(self, user_id: str, creative: common_pb2.Creative) -> float:
        likes_dark = int(user_id.rsplit("-", 1)[1]) % 2 == 0
        dark = creative.attributes["background"] in DARK
        return 0.3 if likes_dark == dark else 0.03


@pytest.fixture(scope="module")
def logged() -> SimulationResult:
    creatives, profiles = synthetic_catalogue(10, 6, seed=3)
    policy = build_policy(RankingSettings(policy="thompson", seed=0), StatsBoard())
    return simulate(policy, creatives, profiles, 6000, PlantedTaste(), seed=0, n_users=200)


def test_auc_of_known_rankings() -> None:
    labels = np.array([0.0, 0.0, 1.0, 1.0])
    assert auc(labels, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(labels, np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert auc(labels, np.full(4, 0.5)) == 0.5


def test_dataset_replays_in_time_order_and_joins_clicks(logged: SimulationResult) -> None:
    data = build_dataset(logged.logs)
    assert data.rows.shape == (6000, len(FEATURE_NAMES))
    assert int(data.labels.sum()) == logged.clicks
    assert np.all(np.diff(data.times) >= 0)
    # Shuffled input gives the same dataset: order comes from the timestamps.
    shuffled = Logs(
        logged.logs.creatives,
        logged.logs.profiles,
        list(reversed(logged.logs.impressions)),
        list(reversed(logged.logs.clicks)) + logged.logs.clicks[:5],  # with duplicate clicks
    )
    again = build_dataset(shuffled)
    np.testing.assert_array_equal(again.rows, data.rows)
    np.testing.assert_array_equal(again.labels, data.labels)


def test_training_recovers_the_planted_taste_and_is_deterministic(
    logged: SimulationResult, tmp_path: Path
) -> None:
    first = train_from_logs(logged.logs, tmp_path, TrainOptions(seed=0), version="v1")
    metrics = first.metadata["metrics"]
    assert metrics["holdout_auc"] > 0.6, metrics
    assert metrics["holdout_log_loss"] < metrics["holdout_constant_log_loss"], metrics
    second = train_from_logs(logged.logs, tmp_path, TrainOptions(seed=0), version="v2")
    assert (tmp_path / "v1" / "model.txt").read_text() == (tmp_path / "v2" / "model.txt").read_text()
    metadata = json.loads((tmp_path / "v1" / "metadata.json").read_text())
    assert metadata["feature_version"] == FEATURE_VERSION
    assert metadata["feature_names"] == list(FEATURE_NAMES)
    assert metadata["seed"] == 0 and metadata["data"]["impressions"] == 6000
    assert metadata["data"]["clicks"] == logged.clicks
    assert second.metadata["metrics"] == metrics
    assert list_versions(tmp_path) == ["v1", "v2"]


def test_inverse_propensity_weighting_trains_too(logged: SimulationResult, tmp_path: Path) -> None:
    result = train_from_logs(logged.logs, tmp_path, TrainOptions(seed=0, ipw=True), version="ipw")
    assert result.metadata["options"]["ipw"] is True
    assert result.metadata["metrics"]["holdout_auc"] > 0.6


def test_trained_model_predicts_the_taste_per_user(logged: SimulationResult, tmp_path: Path) -> None:
    train_from_logs(logged.logs, tmp_path, TrainOptions(seed=0), version="v1")
    holder = ModelHolder(tmp_path)
    assert holder.refresh() and holder.current is not None
    features = FeatureStore()
    policy = build_policy(RankingSettings(policy="hybrid", seed=0), StatsBoard(), features, models=holder)
    creatives, profiles = synthetic_catalogue(10, 6, seed=3)
    # Builds behaviour: the hybrid policy's `update` applies every outcome to `features`.
    simulate(policy, creatives, profiles, 2000, PlantedTaste(), seed=5, n_users=200, features=features)
    ids = [e.creative.creative_id for e in creatives]
    dark = np.array([e.creative.attributes["background"] in DARK for e in creatives])
    even = holder.current.predict(features.matrix("user-00010", ids))
    odd = holder.current.predict(features.matrix("user-00011", ids))
    assert even[dark].mean() > even[~dark].mean()
    assert odd[~dark].mean() > odd[dark].mean()


def test_too_little_data_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not enough data"):
        train_from_logs(Logs(), tmp_path)
    assert list_versions(tmp_path) == []
