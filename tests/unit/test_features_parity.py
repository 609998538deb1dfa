"""Training and serving compute the same feature rows.

Offline (training, the simulator) the `FeatureStore` applies logged impressions and clicks itself;
in serving it applies what the bandit publishes (`user.behaviour`, `bandit.stats`). Here the same
events go both ways, the serving way through the bandit's own partition state, and the rows must
agree.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from aiokafka.structs import ConsumerRecord
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.bandit.partition import PartitionState, Rules
from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.kit.codec import encode
from creativeloop.kit.decay import DEFAULT_HALF_LIFE_S
from creativeloop.ranking.features import FeatureStore
from creativeloop.v1 import events_pb2

NS = 1_000_000_000
T0_NS = 1_800_000_000 * NS
CONTEXT = {"placement": "feed", "device": "mobile"}


def stamp(ns: int) -> Timestamp:
    value = Timestamp()
    value.FromNanoseconds(ns)
    return value


def test_rows_from_the_bandits_latest_state_equal_the_rows_of_the_offline_replay() -> None:
    rng = random.Random(5)
    creatives, profiles = synthetic_catalogue(3, 4, seed=2)
    ids = [e.creative.creative_id for e in creatives]
    offline = FeatureStore(user_history=15)
    serving = FeatureStore(user_history=15)
    for store in (offline, serving):
        for event in creatives:
            store.apply_creative(event.creative.creative_id, event)
        for profile in profiles:
            store.apply_profile(profile.profile.product_id, profile)

    bandit = PartitionState(
        0,
        Rules(
            partitions=1,
            window_s=1800.0,
            horizon_s=3600.0,
            max_clock_lead_s=None,
            half_life_s=DEFAULT_HALF_LIFE_S,
            user_history=15,
            max_users=1000,
            flush_interval_s=0.1,
            refresh_s=300.0,
        ),
        fence=0,
    )
    impressions: list[events_pb2.Impression] = []
    clicks: list[events_pb2.Click] = []
    for n in range(600):
        at = T0_NS + n * 30 * NS  # five hours of traffic: decay matters
        creative_id = rng.choice(ids)
        impression = events_pb2.Impression(
            impression_id=f"i{n}",
            user_id=f"u{rng.randrange(12)}",
            product_id=creative_id.rsplit("-", 1)[0],
            creative_id=creative_id,
            propensity=0.5,
            shown_at=stamp(at),
            context=CONTEXT,
        )
        offline.apply_impression(impression.impression_id, impression)
        impressions.append(impression)
        if rng.random() < 0.25:
            click = events_pb2.Click(impression_id=impression.impression_id, clicked_at=stamp(at + 5 * NS))
            offline.apply_click(click.impression_id, click)
            clicks.append(click)

    def records(
        topic: str, events: Sequence[events_pb2.Impression | events_pb2.Click]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return [
            ConsumerRecord(topic, 0, i, 0, 0, event.impression_id.encode(), encode(event), None, 0, 0, ())
            for i, event in enumerate(events)
        ]

    # The bandit reads both topics as they come, in bulk: here 50 impressions (and the clicks of
    # that stretch of time) per fetch.
    shown, clicked = records("ad.impressions", impressions), records("ad.clicks", clicks)
    outbox: list[tuple[int, bytes]] = []
    for start in range(0, len(shown), 50):
        bandit.read_impressions(shown[start : start + 50])
        last = impressions[min(start + 49, len(impressions) - 1)].impression_id
        bandit.read_clicks([r for r in clicked if int(r.key[1:]) <= int(last[1:])])
        outbox += bandit.plan_flush(stats=False, behaviour=False, sweep=False).outbox
    bandit.read_outcomes(
        [ConsumerRecord("outcomes", 0, i, 0, 0, None, v, None, 0, 0, ()) for i, (_, v) in enumerate(outbox)]
    )
    published = bandit.plan_flush(stats=True, behaviour=True, sweep=False)
    for stats in published.stats:
        serving.apply_stats(stats.creative_id, stats)
    for user_id, behaviour in published.behaviour:
        assert behaviour is not None
        serving.apply_behaviour(user_id, behaviour)

    for user in [f"u{k}" for k in range(12)] + ["nobody"]:
        expected = offline.matrix(user, ids, CONTEXT)
        got = serving.matrix(user, ids, CONTEXT)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert offline.matrix("u1", ids, CONTEXT)[:, -3].max() > 0  # creative counts are in the rows
