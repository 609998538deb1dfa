"""Ranking features: deterministic, fixed width, fed by the behaviour streams, bounded."""

from __future__ import annotations

import numpy as np

from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.ranking.features import (
    FEATURE_NAMES,
    N_FEATURES,
    FeatureStore,
    stable_hash,
)
from creativeloop.v1 import events_pb2

CONTEXT = {"placement": "feed", "device": "mobile"}


def loaded_store(**kwargs: int) -> tuple[FeatureStore, list[str]]:
    store = FeatureStore(**kwargs)
    creatives, profiles = synthetic_catalogue(3, 4, seed=1)
    for event in creatives:
        store.apply_creative(event.creative.creative_id, event)
    for profile in profiles:
        store.apply_profile(profile.profile.product_id, profile)
    return store, [e.creative.creative_id for e in creatives]


def show(store: FeatureStore, iid: str, user: str, creative_id: str, clicked: bool = False) -> None:
    product_id = creative_id.rsplit("-", 1)[0]
    store.apply_impression(
        iid,
        events_pb2.Impression(
            impression_id=iid, user_id=user, product_id=product_id, creative_id=creative_id, context=CONTEXT
        ),
    )
    if clicked:
        store.apply_click(iid, events_pb2.Click(impression_id=iid, user_id=user, creative_id=creative_id))


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_stable_hash_is_fixed_across_processes() -> None:
    # blake2b, not Python's salted hash(): this value must never change.
    assert stable_hash("template=headline-top", 64) == stable_hash("template=headline-top", 64)
    assert stable_hash("background=#173a34", 1 << 30) == 450305823


def test_same_events_give_the_same_matrix() -> None:
    rows = []
    for _ in range(2):
        store, ids = loaded_store()
        show(store, "i1", "u1", ids[0], clicked=True)
        show(store, "i2", "u1", ids[5])
        rows.append(store.matrix("u1", ids[:4], CONTEXT))
    assert rows[0].shape == (4, N_FEATURES) == (4, len(FEATURE_NAMES))
    np.testing.assert_array_equal(rows[0], rows[1])
    assert np.all(np.isfinite(rows[0]))
    assert np.all(rows[0][:, column("bias")] == 1.0)


def test_clicks_raise_the_users_affinity_for_that_template() -> None:
    store, ids = loaded_store()
    before = store.matrix("u1", ids[:3])
    for n in range(5):
        show(store, f"i{n}", "u1", ids[0], clicked=True)  # ids[0] is template headline-top
    after = store.matrix("u1", ids[:3])
    share = column("user_template_click_share")
    assert before[0, share] == 0.0 and after[0, share] == 1.0
    assert after[1, share] == 0.0  # another template
    assert after[0, column("user_template_ctr")] > after[1, column("user_template_ctr")]
    assert after[0, column("creative_ctr")] > before[0, column("creative_ctr")]
    # Another user's affinities are untouched.
    assert store.matrix("u2", ids[:1])[0, share] == 0.0


def test_duplicates_count_once_and_an_early_click_waits_for_its_impression() -> None:
    store, ids = loaded_store()
    click = events_pb2.Click(impression_id="i1", user_id="u1", creative_id=ids[0])
    store.apply_click("i1", click)  # before its impression: parked
    assert store.clicks_applied == 0
    show(store, "i1", "u1", ids[0])
    assert store.clicks_applied == 1
    store.apply_click("i1", click)
    show(store, "i1", "u1", ids[0])
    assert (store.impressions_applied, store.clicks_applied) == (1, 1)


def test_history_and_user_table_are_bounded() -> None:
    store, ids = loaded_store(max_users=2, user_history=3)
    for n in range(5):
        show(store, f"a{n}", "u1", ids[n % 4], clicked=n == 0)
    row = store.matrix("u1", ids[:1])[0]
    assert row[column("user_log_impressions")] == np.log1p(3)
    assert row[column("user_log_clicks")] == 0.0  # the clicked impression left the window
    show(store, "b", "u2", ids[0])
    show(store, "c", "u3", ids[0])
    assert store.users == 2
    assert store.matrix("u1", ids[:1])[0, column("user_log_impressions")] == 0.0  # evicted


def test_unknown_creative_and_user_still_encode() -> None:
    store = FeatureStore()
    rows = store.matrix("nobody", ["no-such-creative"], {})
    assert rows.shape == (1, N_FEATURES) and rows[0, 0] == 1.0
