"""The element attribution estimator on simulated logs whose true element effects are known and
whose logging policy is not uniform (so the naive CTR is biased)."""

from __future__ import annotations

import random

from creativeloop.attribution.estimator import ElementAttribution, Sums

#: Click probability = the context's base + the elements' effects (additive, so the true lift of an
#: element value is its effect minus the other value's: see the estimator's definition).
BASE = {"placement=feed": 0.10, "placement=side": 0.02}
LAYOUT = {"split": -0.01, "full": 0.0}
COLOUR = {"red": 0.03, "blue": 0.0}
TRUE_LIFT = {("layout", "split"): -0.01, ("colour", "red"): 0.03}
CREATIVES = [{"layout": layout, "colour": colour} for layout in LAYOUT for colour in COLOUR]


def policy(bucket: str) -> list[float]:
    """Shows "split" creatives 80 % of the time in the high-CTR feed and 20 % at the side."""
    share = 0.8 if bucket == "placement=feed" else 0.2
    return [share / 2 if c["layout"] == "split" else (1 - share) / 2 for c in CREATIVES]


def simulate(seed: int, impressions: int = 12_000, products: int = 4) -> ElementAttribution:
    rng = random.Random(seed)
    attribution = ElementAttribution()
    buckets = list(BASE)
    for _ in range(impressions):
        product = f"p{rng.randrange(products)}"
        bucket = rng.choice(buckets)
        probabilities = policy(bucket)
        index = rng.choices(range(len(CREATIVES)), probabilities)[0]
        elements = CREATIVES[index]
        ctr = BASE[bucket] + LAYOUT[elements["layout"]] + COLOUR[elements["colour"]]
        attribution.add(product, elements, bucket, probabilities[index], rng.random() < ctr)
    return attribution


def test_the_naive_ctr_is_biased_and_the_estimate_recovers_the_true_lift_within_its_interval() -> None:
    runs = 20
    covered = {key: 0 for key in TRUE_LIFT}
    for seed in range(runs):
        attribution = simulate(seed)
        split = attribution.estimate("layout", "split")
        full = attribution.estimate("layout", "full")
        # Logged, "split" looks better (it is shown where users click anyway); it is worse.
        assert split.naive_ctr > full.naive_ctr + 0.02
        assert split.lift == -full.lift or abs(split.lift + full.lift) < 1e-12
        for (kind, value), truth in TRUE_LIFT.items():
            estimate = attribution.estimate(kind, value)
            assert estimate.products == 4
            assert estimate.low < estimate.lift < estimate.high
            covered[(kind, value)] += estimate.low <= truth <= estimate.high
    # A 95 % interval: at least 17 runs in 20 (fails by chance about once in 60 000 per key).
    assert all(n >= 17 for n in covered.values()), covered


def test_pooled_estimates_have_the_right_sign_and_buckets_are_kept_apart() -> None:
    attribution = simulate(seed=99, impressions=60_000)
    split = attribution.estimate("layout", "split")
    red = attribution.estimate("colour", "red")
    assert split.high < 0 < red.low
    assert abs(red.ctr_with - red.ctr_without - red.lift) < 1e-12
    feed = attribution.estimate("colour", "red", "placement=feed")
    side = attribution.estimate("colour", "red", "placement=side")
    assert feed.impressions_with + side.impressions_with == red.impressions_with
    for bucket in BASE:
        assert (
            attribution.estimate("colour", "red", bucket).low
            < 0.03
            < attribution.estimate("colour", "red", bucket).high
        )
    assert ("colour", "red", "placement=feed") in set(attribution.element_keys())
    within = attribution.estimate("colour", "red", product_id="p1")
    assert within.products == 1 and within.low < 0.03 < within.high
    assert attribution.estimate("colour", "red", product_id="nope").products == 0


def test_an_element_without_a_comparison_in_any_product_has_no_lift() -> None:
    attribution = ElementAttribution()
    attribution.add("p1", {"template": "t1"}, "", 0.5, True)
    attribution.add("p2", {"template": "t2"}, "", 0.5, False)
    estimate = attribution.estimate("template", "t1")
    assert estimate.products == 0 and estimate.naive_ctr == 1.0
    assert estimate.low == float("-inf") and estimate.high == float("inf")


def test_snips_variance_matches_the_delta_method() -> None:
    sums = Sums()
    weights = [(2.0, True), (4.0, False), (1.0, False), (3.0, True)]
    for w, r in weights:
        sums.add(w, r)
    ctr, var = sums.snips()
    assert ctr == 5.0 / 10.0
    expected = sum(w * w * (float(r) - ctr) ** 2 for w, r in weights) / 100.0
    assert abs(var - expected) < 1e-12
