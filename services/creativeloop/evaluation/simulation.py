"""Synthetic catalogues and in-process traffic for ranking tests, the benchmark and policy tuning.

`synthetic_catalogue` makes products with creatives whose attributes look like imagegen's
(template, layout, background, text colour, headline lines); `simulate` serves requests through a
`Ranker` without a broker: users from a `ClickModel` (e.g. the demo's hidden tastes), and the feedback
applied the way the live loop applies it (impressions and clicks into the `FeatureStore`, counts
per creative and per context bucket into the `StatsBoard` as the bandit would publish them). It
returns the logs (to train on) and the expected CTRs of the policy, uniform random and the oracle.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.kit.context import ALL_CONTEXTS, context_bucket, stats_key
from creativeloop.ranking.policy import Ranker
from creativeloop.training.ranker import Logs
from creativeloop.v1 import common_pb2, events_pb2

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE
TEMPLATES = (("headline-top", "stack"), ("hero-bottom", "overlay"), ("split-left", "left"))
BACKGROUNDS = ("#173a34", "#f4e9dc", "#1d2a4d", "#b23a48", "#ffffff", "#2f2f2f")
TEXT_COLOURS = ("#ffffff", "#173a34")
CATEGORIES = ("Dresses", "Knits", "Jeans", "Blouses", "Jackets")
TAGS = ("linen", "cotton", "summer", "soft", "slim")


def synthetic_catalogue(
    n_products: int, per_product: int, seed: int = 0
) -> tuple[list[events_pb2.CreativeUpdated], list[events_pb2.ContentProfileUpdated]]:
    """`per_product` image creatives for each of `n_products` products, and their profiles."""
    rng = np.random.default_rng(seed)
    creatives, profiles = [], []
    for p in range(n_products):
        product_id = f"prod-{p:04d}"
        profile = common_pb2.ContentProfile(
            product_id=product_id,
            product_version=1,
            title=f"Product {p}",
            category=CATEGORIES[p % len(CATEGORIES)],
            price=common_pb2.Price(currency="USD", amount_micros=int(rng.integers(10, 200)) * 1_000_000),
            tags=[
                common_pb2.Tag(text=t) for t in rng.choice(["linen", "cotton", "summer", "soft", "slim"], 2)
            ],
        )
        profiles.append(events_pb2.ContentProfileUpdated(profile=profile))
        for c in range(per_product):
            template, layout = TEMPLATES[c % len(TEMPLATES)]
            background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
            creative = common_pb2.Creative(
                creative_id=f"{product_id}-c{c:03d}",
                product_id=product_id,
                product_version=1,
                format=IMAGE,
                headline=("Soft and light " * int(rng.integers(1, 4))).strip(),
                template_id=template,
                width=800,
                height=800,
                attributes={
                    "template": template,
                    "layout": layout,
                    "background": background,
                    "background_kind": "gradient" if c % 2 else "solid",
                    "text_color": TEXT_COLOURS[int(rng.integers(len(TEXT_COLOURS)))],
                    "headline_lines": str(int(rng.integers(1, 4))),
                },
            )
            creatives.append(events_pb2.CreativeUpdated(creative=creative))
    return creatives, profiles


class ClickModel(Protocol):
    """Who clicks what (e.g. `creativeloop.demo.traffic.ClickModel`)."""

    def click_probability(self, user_id: str, creative: common_pb2.Creative) -> float: ...


@dataclass
class SimulationResult:
    logs: Logs
    policy_expected_ctr: float
    random_expected_ctr: float
    oracle_expected_ctr: float
    clicks: int
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def lift_vs_random_pct(self) -> float:
        return 100.0 * (self.policy_expected_ctr / self.random_expected_ctr - 1.0)

    @property
    def fraction_of_oracle(self) -> float:
        return self.policy_expected_ctr / self.oracle_expected_ctr


class BanditCounts:
    """What the bandit service publishes, computed in process: per creative and per bucket."""

    def __init__(self, publish: Callable[[str, events_pb2.BanditStats], None]) -> None:
        self._publish = publish
        self._counts: dict[tuple[str, str], list[float]] = {}

    def add(self, creative_id: str, bucket: str, clicked: bool) -> None:
        for b in {ALL_CONTEXTS, bucket}:
            counts = self._counts.setdefault((creative_id, b), [0.0, 0.0])
            counts[0] += 1
            counts[1] += float(clicked)
            self._publish(
                stats_key(creative_id, b),
                events_pb2.BanditStats(
                    creative_id=creative_id, impressions=counts[0], clicks=counts[1], context_bucket=b
                ),
            )


def simulate(
    ranker: Ranker,
    creatives: Sequence[events_pb2.CreativeUpdated],
    profiles: Sequence[events_pb2.ContentProfileUpdated],
    n_requests: int,
    click_model: ClickModel,
    seed: int = 0,
    n_users: int = 2000,
    feedback_delay: int = 16,
) -> SimulationResult:
    """Serve `n_requests` through `ranker`; feedback arrives `feedback_delay` requests late."""
    for event in creatives:
        ranker.features.apply_creative(event.creative.creative_id, event)
    for profile_event in profiles:
        ranker.features.apply_profile(profile_event.profile.product_id, profile_event)
    by_product: dict[str, list[common_pb2.Creative]] = {}
    for event in creatives:
        by_product.setdefault(event.creative.product_id, []).append(event.creative)
    products = sorted(by_product)
    rng = np.random.default_rng(seed)
    bandit = BanditCounts(ranker.stats.apply)
    logs = Logs(creatives=list(creatives), profiles=list(profiles))
    queue: list[tuple[events_pb2.Impression, events_pb2.Click | None, str]] = []
    chosen_p, random_p, oracle_p = [], [], []
    versions: dict[str, int] = {}

    def deliver(impression: events_pb2.Impression, click: events_pb2.Click | None, bucket: str) -> None:
        ranker.features.apply_impression(impression.impression_id, impression)
        if click is not None:
            ranker.features.apply_click(click.impression_id, click)
        bandit.add(impression.creative_id, bucket, click is not None)

    for n in range(n_requests):
        user_id = f"user-{int(rng.integers(n_users)):05d}"
        product_id = products[int(rng.integers(len(products)))]
        context = {"placement": "feed", "device": "mobile" if int(rng.integers(10)) < 7 else "desktop"}
        candidates = by_product[product_id]
        decision = ranker.choose(user_id, candidates, context)
        versions[decision.policy_version] = versions.get(decision.policy_version, 0) + 1
        probabilities = [click_model.click_probability(user_id, c) for c in candidates]
        p = probabilities[decision.index]
        chosen_p.append(p)
        random_p.append(float(np.mean(probabilities)))
        oracle_p.append(max(probabilities))
        shown_at = Timestamp(seconds=1_700_000_000 + n)
        impression = events_pb2.Impression(
            impression_id=uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | n).hex,
            user_id=user_id,
            product_id=product_id,
            creative_id=candidates[decision.index].creative_id,
            propensity=decision.propensity,
            policy_version=decision.policy_version,
            shown_at=shown_at,
            context=context,
        )
        click = None
        if rng.random() < p:
            click = events_pb2.Click(
                impression_id=impression.impression_id,
                user_id=user_id,
                creative_id=impression.creative_id,
                clicked_at=Timestamp(seconds=shown_at.seconds, nanos=500_000_000),
            )
            logs.clicks.append(click)
        logs.impressions.append(impression)
        queue.append((impression, click, context_bucket(context)))
        if len(queue) > feedback_delay:
            deliver(*queue.pop(0))
    for item in queue:
        deliver(*item)
    return SimulationResult(
        logs=logs,
        policy_expected_ctr=float(np.mean(chosen_p)),
        random_expected_ctr=float(np.mean(random_p)),
        oracle_expected_ctr=float(np.mean(oracle_p)),
        clicks=len(logs.clicks),
        versions=versions,
    )
