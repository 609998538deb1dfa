"""Train the LightGBM CTR model from logged impressions and clicks, and version it.

1. Read `creatives` and `content.profiles` (latest state) and every `ad.impressions` and
   `ad.clicks` record from the beginning of the topics (`read_logs`).
2. Replay impressions and clicks in time order (`shown_at`, `clicked_at`) through the same
   `FeatureStore` the service uses: each impression's row is taken just before the impression is
   applied, so it holds the user's behaviour as it was then. Labels join clicks to impressions
   by impression id (duplicates count once; clicks without an impression are dropped).
3. Time-ordered split: the last `holdout` fraction is the holdout; the last `validation`
   fraction of the rest stops boosting early. Optionally weight rows by inverse propensity
   (1 / Impression.propensity, clipped and normalised to mean 1), which estimates the CTR under
   uniform exposure rather than under the logging policy's choices.
4. LightGBM, deterministic (fixed seed, `deterministic`, one thread, no bagging).
5. Evaluate on the holdout: AUC, log-loss against a constant model (the training CTR).
6. Write `<model_dir>/<version>/model.txt` + `metadata.json` atomically (`model.write_version`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import Message
from sklearn.metrics import roc_auc_score

from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.kafka import client_options
from creativeloop.kit.lifecycle import is_live
from creativeloop.kit.logs import get_logger
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, CONTENT_PROFILES, CREATIVES, Topic
from creativeloop.ranking.features import FEATURE_NAMES, FEATURE_VERSION, N_FEATURES, FeatureStore
from creativeloop.ranking.model import write_version
from creativeloop.v1 import events_pb2

log = get_logger(__name__)

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainOptions:
    seed: int = 0
    holdout: float = 0.2
    validation: float = 0.1
    ipw: bool = False
    #: Inverse-propensity weights use max(propensity, this) so one rare choice cannot dominate.
    min_propensity: float = 0.01
    rounds: int = 400
    early_stopping: int = 30
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 50
    max_users: int = 100_000
    user_history: int = 200


@dataclass
class Logs:
    creatives: list[events_pb2.CreativeUpdated] = field(default_factory=list)
    profiles: list[events_pb2.ContentProfileUpdated] = field(default_factory=list)
    impressions: list[events_pb2.Impression] = field(default_factory=list)
    clicks: list[events_pb2.Click] = field(default_factory=list)


@dataclass
class Dataset:
    rows: Array
    labels: Array
    propensities: Array
    #: Impression time, ns since the epoch (rows are in this order).
    times: npt.NDArray[np.int64]
    duplicate_impressions: int = 0
    unmatched_clicks: int = 0


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path | None
    metadata: dict[str, Any]


class _Recorder:
    """FeatureListener that keeps each impression's row, in replay order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.rows: list[Array] = []

    def observe_impression(self, impression_id: str, row: Array) -> None:
        self.ids.append(impression_id)
        self.rows.append(row)

    def observe_click(self, impression_id: str) -> None:
        pass  # labels come from the join, whatever the store still remembers


def _ns(stamp: Any) -> int:
    return int(stamp.seconds) * 1_000_000_000 + int(stamp.nanos)


def build_dataset(logs: Logs, max_users: int = 100_000, user_history: int = 200) -> Dataset:
    """Replay the logs in time order through a `FeatureStore` (see the module doc)."""
    store = FeatureStore(max_users, user_history, max_pending_clicks=0)
    for creative in logs.creatives:
        if is_live(creative):  # lifecycle state records carry no content
            store.apply_creative(creative.creative.creative_id, creative)
    for profile in logs.profiles:
        store.apply_profile(profile.profile.product_id, profile)
    impressions: dict[str, events_pb2.Impression] = {}
    duplicates = 0
    for impression in logs.impressions:
        if impression.impression_id in impressions:
            duplicates += 1
        else:
            impressions[impression.impression_id] = impression
    clicks: dict[str, events_pb2.Click] = {}
    for click in logs.clicks:
        if click.impression_id in impressions:
            clicks.setdefault(click.impression_id, click)
    unmatched = sum(1 for c in logs.clicks if c.impression_id not in impressions)
    # (time, kind, n): impressions before clicks at the same instant, then log order.
    timeline: list[tuple[int, int, int, Message]] = []
    for n, impression in enumerate(impressions.values()):
        timeline.append((_ns(impression.shown_at), 0, n, impression))
    for n, click in enumerate(clicks.values()):
        shown = _ns(impressions[click.impression_id].shown_at)
        timeline.append((max(_ns(click.clicked_at), shown), 1, n, click))
    timeline.sort(key=lambda item: item[:3])
    recorder = _Recorder()
    store.listeners.append(recorder)
    times: list[int] = []
    propensities: list[float] = []
    for when, kind, _, event in timeline:
        if kind == 0:
            assert isinstance(event, events_pb2.Impression)
            store.apply_impression(event.impression_id, event)
            times.append(when)
            propensities.append(event.propensity)
        else:
            assert isinstance(event, events_pb2.Click)
            store.apply_click(event.impression_id, event)
    rows = np.vstack(recorder.rows) if recorder.rows else np.zeros((0, N_FEATURES))
    return Dataset(
        rows=rows,
        labels=np.asarray([1.0 if iid in clicks else 0.0 for iid in recorder.ids], dtype=np.float64),
        propensities=np.asarray(propensities, dtype=np.float64),
        times=np.asarray(times, dtype=np.int64),
        duplicate_impressions=duplicates,
        unmatched_clicks=unmatched,
    )


def auc(labels: Array, scores: Array) -> float:
    """Area under the ROC curve (scikit-learn's, ties averaged); nan with one class only.

    >>> auc(np.array([0.0, 1.0, 0.0, 1.0]), np.array([0.1, 0.4, 0.4, 0.8]))
    0.875
    """
    positives = labels > 0.5
    if positives.all() or not positives.any():
        return float("nan")  # undefined; scikit-learn would also warn
    return float(roc_auc_score(positives, scores))


def log_loss(labels: Array, predicted: Array, weights: Array | None = None) -> float:
    p = np.clip(predicted, 1e-7, 1 - 1e-7)
    losses = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    return float(np.average(losses, weights=weights))


def _weights(propensities: Array, options: TrainOptions) -> Array:
    if not options.ipw:
        return np.ones(propensities.size)
    raw = 1.0 / np.clip(np.where(propensities > 0, propensities, 1.0), options.min_propensity, 1.0)
    return raw / raw.mean() if raw.size else raw


def lgb_params(options: TrainOptions) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": options.learning_rate,
        "num_leaves": options.num_leaves,
        "min_data_in_leaf": options.min_data_in_leaf,
        "lambda_l2": 1.0,
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "seed": options.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }


def fit(data: Dataset, options: TrainOptions) -> tuple[lgb.Booster, dict[str, Any]]:
    """Train on the time-ordered head, early-stop on its tail, evaluate on the holdout."""
    n = data.labels.size
    n_test = round(n * options.holdout)
    n_train_all = n - n_test
    n_valid = round(n_train_all * options.validation)
    n_fit = n_train_all - n_valid
    if n_fit < 2 or data.labels[:n_fit].sum() == 0 or data.labels[:n_fit].sum() == n_fit:
        raise ValueError(f"not enough data to train: {n} impressions, {int(data.labels.sum())} clicks")
    weights = _weights(data.propensities, options)
    params = lgb_params(options)
    train_set = lgb.Dataset(
        data.rows[:n_fit],
        data.labels[:n_fit],
        weight=weights[:n_fit],
        feature_name=list(FEATURE_NAMES),
        free_raw_data=False,
        params={"verbose": -1},
    )
    callbacks: list[Callable[..., Any]] = []
    valid_sets = []
    if n_valid > 0 and 0 < data.labels[n_fit:n_train_all].sum() < n_valid:
        valid_sets.append(
            lgb.Dataset(
                data.rows[n_fit:n_train_all],
                data.labels[n_fit:n_train_all],
                weight=weights[n_fit:n_train_all],
                reference=train_set,
            )
        )
        callbacks.append(lgb.early_stopping(options.early_stopping, verbose=False))
    booster = lgb.train(
        params, train_set, num_boost_round=options.rounds, valid_sets=valid_sets, callbacks=callbacks
    )
    if booster.best_iteration > 0:
        booster.free_dataset()
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    base_ctr = float(np.average(data.labels[:n_train_all], weights=weights[:n_train_all]))
    metrics: dict[str, Any] = {
        "train_ctr": base_ctr,
        "trees": booster.num_trees(),
    }
    if n_test > 0:
        test_rows, test_labels = data.rows[n_train_all:], data.labels[n_train_all:]
        predicted = np.asarray(booster.predict(test_rows, num_threads=1), dtype=np.float64)
        constant = np.full(n_test, base_ctr)
        model_loss = log_loss(test_labels, predicted)
        constant_loss = log_loss(test_labels, constant)
        metrics.update(
            holdout_auc=auc(test_labels, predicted),
            holdout_log_loss=model_loss,
            holdout_constant_log_loss=constant_loss,
            holdout_log_loss_improvement=(1.0 - model_loss / constant_loss) if constant_loss else 0.0,
            holdout_ctr=float(test_labels.mean()),
            holdout_mean_prediction=float(predicted.mean()),
        )
    return booster, metrics


def train_from_logs(
    logs: Logs,
    model_dir: Path | None,
    options: TrainOptions = TrainOptions(),
    version: str | None = None,
    source: str = "",
) -> TrainResult:
    """Build the dataset, train, evaluate and (when `model_dir` is given) publish a version."""
    started = time.monotonic()
    data = build_dataset(logs, options.max_users, options.user_history)
    booster, metrics = fit(data, options)
    model_text = booster.model_to_string()
    n = data.labels.size
    n_test = round(n * options.holdout)
    if version is None:
        digest = hashlib.sha256(model_text.encode()).hexdigest()[:8]
        version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{digest}"
    metadata: dict[str, Any] = {
        "version": version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        "feature_version": FEATURE_VERSION,
        "feature_names": list(FEATURE_NAMES),
        "seed": options.seed,
        "options": {k: v for k, v in vars(options).items()},
        "lightgbm": {"version": lgb.__version__, "params": lgb_params(options)},
        "data": {
            "creatives": len(logs.creatives),
            "profiles": len(logs.profiles),
            "impressions": n,
            "clicks": int(data.labels.sum()),
            "duplicate_impressions": data.duplicate_impressions,
            "unmatched_clicks": data.unmatched_clicks,
            "train_impressions": n - n_test,
            "holdout_impressions": n_test,
            "first_impression_ns": int(data.times[0]) if n else 0,
            "last_impression_ns": int(data.times[-1]) if n else 0,
        },
        "metrics": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()},
        "train_seconds": round(time.monotonic() - started, 3),
    }
    path = write_version(model_dir, version, model_text, metadata) if model_dir is not None else None
    log.info("model trained", version=version, path=str(path), **metadata["metrics"])
    return TrainResult(version, path, metadata)


async def read_topic(
    settings: CommonSettings, topic: Topic, idle_s: float = 1.5, timeout_s: float = 600.0
) -> list[Message]:
    """Every valid record of `topic` from the beginning, until no record came for `idle_s`.

    (The broker's "latest" offsets cannot be trusted on Tansu, so the end is an idle read.)
    """
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    events: list[Message] = []
    try:
        partitions = consumer.partitions_for_topic(topic.name)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic.name)
        if not partitions:
            return events
        assigned = [TopicPartition(topic.name, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last_record = loop.time()
        while loop.time() - last_record < idle_s:
            if loop.time() > deadline:
                raise TimeoutError(f"{topic.name}: still reading after {timeout_s}s")
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for record in records:
                    try:
                        events.append(decode(topic.message, record.value))
                    except InvalidEvent:
                        continue
                    last_record = loop.time()
    finally:
        await consumer.stop()
    return events


async def read_logs(settings: CommonSettings) -> Logs:
    """Creatives, profiles, impressions and clicks from the broker (all four read concurrently)."""
    creatives, profiles, impressions, clicks = await asyncio.gather(
        read_topic(settings, CREATIVES),
        read_topic(settings, CONTENT_PROFILES),
        read_topic(settings, AD_IMPRESSIONS),
        read_topic(settings, AD_CLICKS),
    )
    return Logs(
        creatives=_typed(creatives, events_pb2.CreativeUpdated),
        profiles=_typed(profiles, events_pb2.ContentProfileUpdated),
        impressions=_typed(impressions, events_pb2.Impression),
        clicks=_typed(clicks, events_pb2.Click),
    )


T = TypeVar("T")


def _typed(events: Sequence[Message], kind: type[T]) -> list[T]:
    return [e for e in events if isinstance(e, kind)]


def train_from_kafka(
    settings: CommonSettings,
    model_dir: Path | None,
    options: TrainOptions = TrainOptions(),
    version: str | None = None,
) -> TrainResult:
    """`creativeloop ranking train`: read the logs from the broker, train, publish a version."""
    logs = asyncio.run(read_logs(settings))
    log.info(
        "logs read",
        creatives=len(logs.creatives),
        profiles=len(logs.profiles),
        impressions=len(logs.impressions),
        clicks=len(logs.clicks),
    )
    return train_from_logs(logs, model_dir, options, version, source=settings.bootstrap_servers)
