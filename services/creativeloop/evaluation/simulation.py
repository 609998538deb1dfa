"""Synthetic catalogues and in-process traffic for ranking tests, the benchmark and policy tuning.

`synthetic_catalogue` makes products with creatives whose attributes look like imagegen's
(template, layout, background, text colour, headline lines); `simulate` serves requests through a
ranking `Policy` (`pull`) without a broker: users from a `ClickModel` (e.g. the demo's hidden
tastes), and each outcome fed back through the policy's `update`, `feedback_delay` requests late,
which applies it the way the live loop does (counts per creative and per context bucket into the
`StatsBoard` as the bandit would publish them, impressions and clicks into the `FeatureStore`). It
returns the logs (to train on) and the expected CTRs of the policy, uniform random and the oracle.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import Policy
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


def simulate(
    policy: Policy,
    creatives: Sequence[events_pb2.CreativeUpdated],
    profiles: Sequence[events_pb2.ContentProfileUpdated],
    n_requests: int,
    click_model: ClickModel,
    seed: int = 0,
    n_users: int = 2000,
    feedback_delay: int = 16,
    features: FeatureStore | None = None,
) -> SimulationResult:
    """Serve `n_requests` through `policy`; feedback arrives `feedback_delay` requests late.

    `features`: the `FeatureStore` the policy reads, if it reads one (``hybrid``, ``lints``): it
    learns the catalogue here, as ranking's creative and profile feeds would teach it.
    """
    if features is not None:
        for event in creatives:
            features.apply_creative(event.creative.creative_id, event)
        for profile_event in profiles:
            features.apply_profile(profile_event.profile.product_id, profile_event)
    by_product: dict[str, list[common_pb2.Creative]] = {}
    for event in creatives:
        by_product.setdefault(event.creative.product_id, []).append(event.creative)
    products = sorted(by_product)
    rng = np.random.default_rng(seed)
    logs = Logs(creatives=list(creatives), profiles=list(profiles))
    queue: list[tuple[events_pb2.Impression, bool]] = []
    chosen_p, random_p, oracle_p = [], [], []
    versions: dict[str, int] = {}

    for n in range(n_requests):
        user_id = f"user-{int(rng.integers(n_users)):05d}"
        product_id = products[int(rng.integers(len(products)))]
        context = {"placement": "feed", "device": "mobile" if int(rng.integers(10)) < 7 else "desktop"}
        candidates = by_product[product_id]
        decision = policy.pull([c.creative_id for c in candidates], user_id, context)
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
        queue.append((impression, click is not None))
        if len(queue) > feedback_delay:
            policy.update(*queue.pop(0))
    for item in queue:
        policy.update(*item)
    return SimulationResult(
        logs=logs,
        policy_expected_ctr=float(np.mean(chosen_p)),
        random_expected_ctr=float(np.mean(random_p)),
        oracle_expected_ctr=float(np.mean(oracle_p)),
        clicks=len(logs.clicks),
        versions=versions,
    )
