"""Simulated users: the hidden click model, and the traffic simulator against known policies.

Statistical bounds: with independent requests, a sum of Bernoulli outcomes S = sum(x_i) with
P(x_i = 1) = q_i has mean sum(q_i) and variance sum(q_i (1 - q_i)); the tests allow 4 standard
deviations (a false alarm rate of ~6e-5 for a correct simulator), and every run is seeded, so
the outcome is also reproducible.
"""

from __future__ import annotations

import asyncio
import doctest
import itertools
import math
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from creativeloop.demo import traffic
from creativeloop.demo.traffic import (
    ClickModel,
    TrafficReport,
    TrafficSimulator,
    best_fixed_creatives,
    creative_features,
    cumulative_regret,
    plot_traffic,
)
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2

Z = 4.0
BACKGROUNDS = ("white", "navy", "blush", "sage", "charcoal", "sand")
Creatives = dict[str, list[common_pb2.Creative]]
Chooser = Callable[[ranking_pb2.RankRequest, list[common_pb2.Creative]], int]


def make_creatives(n_products: int = 30, per_product: int = 4, seed: int = 0) -> Creatives:
    """Image creatives like the generator's: two templates, a background colour, a layout."""
    rng = np.random.default_rng(seed)
    out: Creatives = {}
    for i in range(n_products):
        product_id = f"cloth-{1000 + i}"
        out[product_id] = [
            common_pb2.Creative(
                creative_id=f"{product_id}-c{j}",
                product_id=product_id,
                product_version=1,
                format=common_pb2.CREATIVE_FORMAT_IMAGE,
                template_id=("split-left", "hero-top")[j % 2],
                width=1200,
                height=628,
                attributes={
                    "background": BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
                    "layout": ("left", "top")[j % 2],
                },
            )
            for j in range(per_product)
        ]
    return out


class Harness:
    """A fake Rank service choosing with `choose`, and in-memory event logs."""

    def __init__(
        self,
        creatives: Creatives,
        choose: Chooser,
        propensity: Callable[[int], float] = lambda k: 1.0 / k,
    ) -> None:
        self.creatives = creatives
        self.choose = choose
        self.propensity = propensity
        self.requests: list[ranking_pb2.RankRequest] = []
        self.impressions: list[events_pb2.Impression] = []
        self.clicks: list[events_pb2.Click] = []
        self.order: list[tuple[str, str]] = []  # ("impression" | "click", impression_id)

    async def rank(self, request: ranking_pb2.RankRequest) -> ranking_pb2.RankResponse:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent requests interleave
        candidates = self.creatives[request.product_id]
        index = self.choose(request, candidates)
        return ranking_pb2.RankResponse(
            creative=candidates[index],
            propensity=self.propensity(len(candidates)),
            impression_id=uuid.uuid4().hex,
            policy_version="fake-v1",
            candidates=len(candidates),
        )

    async def log_impression(self, event: events_pb2.Impression) -> None:
        await asyncio.sleep(0)
        self.impressions.append(event)
        self.order.append(("impression", event.impression_id))

    async def log_click(self, event: events_pb2.Click) -> None:
        self.clicks.append(event)
        self.order.append(("click", event.impression_id))

    def simulator(
        self, model: ClickModel, seed: int = 0, n_users: int = 2000, max_failures: int = 0
    ) -> TrafficSimulator:
        return TrafficSimulator(
            self.rank,
            self.log_impression,
            self.log_click,
            self.creatives,
            model,
            n_users=n_users,
            seed=seed,
            max_failures=max_failures,
        )


def uniform_chooser(seed: int) -> Chooser:
    rng = np.random.default_rng(seed)
    return lambda _request, candidates: int(rng.integers(len(candidates)))


def oracle_chooser(model: ClickModel) -> Chooser:
    return lambda request, candidates: int(
        np.argmax([model.click_probability(request.user_id, c) for c in candidates])
    )


def true_probabilities(model: ClickModel, harness: Harness, impression: events_pb2.Impression) -> list[float]:
    return [model.click_probability(impression.user_id, c) for c in harness.creatives[impression.product_id]]


# --------------------------------------------------------------------------- click model


def test_click_probabilities_are_in_range_deterministic_and_order_free() -> None:
    creatives = [c for cs in make_creatives(10).values() for c in cs]
    users = [f"user-{i:05d}" for i in range(50)]
    model = ClickModel(seed=3)
    probs = [[model.click_probability(u, c) for c in creatives] for u in users]
    assert all(0.0 < p < 1.0 for row in probs for p in row)
    # A fresh model asked in the opposite order gives the same numbers: nothing depends on call order.
    fresh = ClickModel(seed=3)
    reverse = [[fresh.click_probability(u, c) for c in reversed(creatives)][::-1] for u in reversed(users)][
        ::-1
    ]
    assert reverse == probs
    other = ClickModel(seed=4)
    assert [[other.click_probability(u, c) for c in creatives] for u in users] != probs
    assert {model.segment(u) for u in users} == set(range(model.n_segments))


def test_click_model_features() -> None:
    creative = make_creatives(1)["cloth-1000"][0]
    assert creative_features(creative) == [
        "format=CREATIVE_FORMAT_IMAGE",
        "template=split-left",
        f"background={creative.attributes['background']}",
        "layout=left",
    ]
    assert creative_features(creative, attribute_keys=["layout"])[-1] == "layout=left"


def test_click_model_is_tuned_for_a_learnable_demo() -> None:
    """The documented design targets: a few % to ~15 % CTR, a clearly best creative per product."""
    creatives = make_creatives(30)
    users = [f"user-{i:05d}" for i in range(200)]
    for seed in range(5):
        model = ClickModel(seed=seed)
        per_product = [
            np.array([[model.click_probability(u, c) for c in cs] for u in users])
            for cs in creatives.values()
        ]
        everything = np.concatenate([p.ravel() for p in per_product])
        assert 0.02 <= everything.mean() <= 0.12, seed
        assert np.percentile(everything, 5) >= 0.005 and np.percentile(everything, 95) <= 0.3, seed
        # Best fixed creative per product vs the product's average creative (what uniform random gets).
        assert np.mean([p.mean(axis=0).max() / p.mean() for p in per_product]) >= 1.4, seed


def test_sample_click_follows_the_probability() -> None:
    model = ClickModel(seed=1)
    creative = make_creatives(1)["cloth-1000"][1]
    p = model.click_probability("user-00007", creative)
    rng = np.random.default_rng(5)
    n = 20_000
    clicks = sum(model.sample_click("user-00007", creative, rng) for _ in range(n))
    assert abs(clicks - n * p) <= Z * math.sqrt(n * p * (1 - p))


# --------------------------------------------------------------------------- simulator


async def test_uniform_random_policy_gets_the_random_expectation() -> None:
    model = ClickModel(seed=0)
    harness = Harness(make_creatives(), uniform_chooser(11))
    report = await harness.simulator(model, seed=0).run(8000, concurrency=8)

    random_p = [float(np.mean(true_probabilities(model, harness, imp))) for imp in harness.impressions]
    assert report.random_expected_ctr == pytest.approx(np.mean(random_p), rel=1e-12)
    # Choice and click both random: each request clicks with probability r_i (the mean over its
    # candidates), so the click count has mean sum(r_i) and variance sum(r_i (1 - r_i)).
    r = np.array(random_p)
    assert abs(report.clicks - r.sum()) <= Z * math.sqrt(float(np.sum(r * (1 - r))))
    # The true probability of a uniform choice has mean r_i and variance var_i over the candidates.
    chosen_minus_mean = report.policy_expected_ctr * report.impressions - r.sum()
    var = sum(float(np.var(true_probabilities(model, harness, imp))) for imp in harness.impressions)
    assert abs(chosen_minus_mean) <= Z * math.sqrt(var)
    assert report.random_expected_ctr < report.best_fixed_expected_ctr < report.oracle_expected_ctr


async def test_oracle_policy_reaches_the_oracle() -> None:
    model = ClickModel(seed=2)
    harness = Harness(make_creatives(), oracle_chooser(model))
    report = await harness.simulator(model, seed=2).run(5000, concurrency=16)
    assert report.policy_expected_ctr == pytest.approx(report.oracle_expected_ctr, rel=1e-12)
    assert report.fraction_of_oracle == pytest.approx(1.0)
    # Observed clicks of the oracle's choices: sd = sqrt(sum o_i (1 - o_i)) / n = policy_ctr_stderr.
    assert abs(report.policy_ctr - report.oracle_expected_ctr) <= Z * report.policy_ctr_stderr
    assert report.lift_vs_random_pct > 30


async def test_a_simple_thompson_sampler_learns_within_a_few_thousand_requests() -> None:
    """Beta-Bernoulli Thompson sampling per creative, fed by the logged events, beats random."""
    model = ClickModel(seed=0)
    creatives = make_creatives()
    shows: dict[str, float] = {}
    wins: dict[str, float] = {}
    rng = np.random.default_rng(9)

    def thompson(_request: ranking_pb2.RankRequest, candidates: list[common_pb2.Creative]) -> int:
        ids = [c.creative_id for c in candidates]
        n = np.array([shows.get(i, 0.0) for i in ids])
        k = np.array([wins.get(i, 0.0) for i in ids])
        return int(np.argmax(rng.beta(1 + k, 1 + n - k)))

    harness = Harness(creatives, thompson)
    base_log_impression, base_log_click = harness.log_impression, harness.log_click

    async def learn_impression(event: events_pb2.Impression) -> None:
        shows[event.creative_id] = shows.get(event.creative_id, 0.0) + 1
        await base_log_impression(event)

    async def learn_click(event: events_pb2.Click) -> None:
        wins[event.creative_id] = wins.get(event.creative_id, 0.0) + 1
        await base_log_click(event)

    simulator = TrafficSimulator(harness.rank, learn_impression, learn_click, creatives, model, seed=0)
    report = await simulator.run(6000, concurrency=16)
    last = report.windows[-1]
    lo = last.first_request
    assert len(harness.impressions) == 6000
    # harness.requests is in plan order: each worker calls rank as soon as it takes a request.
    # A policy that did not learn would have a last-window expected CTR within Z sd of random's,
    # sd = sqrt(sum var_i) / n over the window's requests (var_i over each request's candidates).
    window_var = sum(
        float(np.var([model.click_probability(r.user_id, c) for c in creatives[r.product_id]]))
        for r in harness.requests[lo : lo + last.requests]
    )
    gain = (last.policy_expected_ctr - last.random_expected_ctr) * last.requests
    assert gain > Z * math.sqrt(window_var), report.format_summary()
    assert report.windows[-1].policy_expected_ctr > report.windows[0].policy_expected_ctr


async def test_events_are_logged_consistently() -> None:
    model = ClickModel(seed=5)
    harness = Harness(make_creatives(8, 3), uniform_chooser(1), propensity=lambda k: 0.5)
    report = await harness.simulator(model, seed=5, n_users=300).run(3000, concurrency=12)

    assert report.requests == report.impressions == len(harness.impressions) == 3000
    assert report.clicks == len(harness.clicks) and report.failures == 0
    by_id = {imp.impression_id: imp for imp in harness.impressions}
    assert len(by_id) == 3000
    seen: set[str] = set()
    for kind, impression_id in harness.order:
        if kind == "impression":
            seen.add(impression_id)
        else:
            assert impression_id in seen  # a click is logged only after its impression
    for click in harness.clicks:
        impression = by_id[click.impression_id]
        assert (click.user_id, click.creative_id) == (impression.user_id, impression.creative_id)
        assert click.clicked_at.ToNanoseconds() >= impression.shown_at.ToNanoseconds()
    for impression in harness.impressions:
        assert impression.propensity == 0.5 and impression.policy_version == "fake-v1"
        assert impression.creative_id.startswith(impression.product_id)
        assert impression.user_id.startswith("user-") and int(impression.user_id[5:]) < 300
        assert impression.context["placement"] == "demo-feed"
        assert impression.context["device"] in {"mobile", "desktop"}
        assert impression.shown_at.seconds > 0
    for request in harness.requests:
        assert request.format == common_pb2.CREATIVE_FORMAT_IMAGE and not request.candidate_creative_ids
    assert report.policy_versions == {"fake-v1": 3000} and report.mean_propensity == 0.5
    assert sum(w.requests for w in report.windows) == 3000 and len(report.windows) == 10
    assert sum(w.clicks for w in report.windows) == report.clicks


async def test_same_seed_same_traffic_whatever_the_concurrency() -> None:
    def first(_request: ranking_pb2.RankRequest, _candidates: list[common_pb2.Creative]) -> int:
        return 0

    reports: list[TrafficReport] = []
    users: list[list[str]] = []
    for concurrency in (1, 7, 32):
        harness = Harness(make_creatives(5), first)
        reports.append(await harness.simulator(ClickModel(seed=8), seed=8).run(1000, concurrency=concurrency))
        users.append(sorted(imp.user_id + imp.product_id for imp in harness.impressions))
    assert users[0] == users[1] == users[2]
    assert reports[0].clicks == reports[1].clicks == reports[2].clicks
    assert [w.clicks for w in reports[0].windows] == [w.clicks for w in reports[2].windows]


async def test_failures_are_counted_or_raised() -> None:
    calls = 0

    def flaky(_request: ranking_pb2.RankRequest, candidates: list[common_pb2.Creative]) -> int:
        nonlocal calls
        calls += 1
        if calls % 10 == 0:
            raise RuntimeError("rank unavailable")
        return 0

    harness = Harness(make_creatives(3), flaky)
    report = await harness.simulator(ClickModel(), max_failures=100).run(200, concurrency=4)
    assert report.failures == 20 and report.impressions == 180 == len(harness.impressions)

    harness = Harness(make_creatives(3), flaky)
    with pytest.raises(RuntimeError, match="rank unavailable"):
        await harness.simulator(ClickModel()).run(200, concurrency=4)


async def test_summary_reads_as_a_table() -> None:
    model = ClickModel(seed=0)
    harness = Harness(make_creatives(), oracle_chooser(model))
    report = await harness.simulator(model).run(500, concurrency=4)
    text = report.format_summary()
    labels = (
        "policy, observed",
        "policy, expected",
        "uniform random, expected",
        "best fixed creative per product",
        "oracle (best creative per user)",
        "CTR over time",
    )
    for label in labels:
        assert label in text
    assert len(text.splitlines()) == 11 + 3 + len(report.windows)
    assert "cumulative regret" in text


def test_a_simulator_needs_creatives() -> None:
    async def never(_: object) -> None:
        raise AssertionError

    with pytest.raises(ValueError, match="no product has creatives"):
        TrafficSimulator(never, never, never, {"p": []}, ClickModel())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- regret


def test_doctests() -> None:
    assert doctest.testmod(traffic).failed == 0


def test_cumulative_regret_by_hand() -> None:
    oracle = np.array([0.10, 0.20, 0.05, 0.30])
    chosen = np.array([0.05, 0.20, 0.05, 0.10])
    assert cumulative_regret(oracle, chosen).tolist() == pytest.approx([0.05, 0.05, 0.05, 0.25])
    assert cumulative_regret(oracle, oracle).tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="same shape"):
        cumulative_regret(oracle, chosen[:2])


def test_best_fixed_creative_uses_the_mean_over_the_products_requests() -> None:
    product_ids = ["p", "p", "p", "q"]
    candidates = [
        {"a": 0.30, "b": 0.10},
        {"a": 0.00, "b": 0.15},
        {"a": 0.00, "b": 0.15},  # mean a = 0.10, mean b = 0.133...: b, though a wins request 1
        {"x": 0.2, "y": 0.2},  # a tie goes to the smallest id
    ]
    assert best_fixed_creatives(product_ids, candidates) == {"p": "b", "q": "x"}


async def test_regret_of_known_policies() -> None:
    model = ClickModel(seed=2)
    creatives = make_creatives(12)
    oracle = await Harness(creatives, oracle_chooser(model)).simulator(model, seed=2).run(3000)
    assert oracle.regret_vs_oracle == pytest.approx(0.0, abs=1e-9)
    assert all(r.policy_vs_oracle == pytest.approx(0.0, abs=1e-9) for r in oracle.regret_curve)
    # The per-user oracle beats the best fixed creative: negative regret, by exactly the gap.
    gap = (oracle.oracle_expected_ctr - oracle.best_fixed_expected_ctr) * oracle.impressions
    assert oracle.regret_vs_best_fixed == pytest.approx(-gap)
    assert oracle.regret_vs_best_fixed < 0

    harness = Harness(creatives, uniform_chooser(4))
    report = await harness.simulator(model, seed=2).run(3000)
    n = report.impressions
    assert report.regret_vs_oracle == pytest.approx(
        (report.oracle_expected_ctr - report.policy_expected_ctr) * n
    )
    assert report.regret_vs_best_fixed == pytest.approx(
        (report.best_fixed_expected_ctr - report.policy_expected_ctr) * n
    )
    assert report.random_regret_vs_oracle == pytest.approx(
        (report.oracle_expected_ctr - report.random_expected_ctr) * n
    )
    # A uniform choice's true probability has mean r_i and variance var_i: its regret against
    # uniform random's expectation is zero-mean with sd sqrt(sum var_i).
    var = sum(float(np.var(true_probabilities(model, harness, imp))) for imp in harness.impressions)
    assert abs(report.regret_vs_oracle - report.random_regret_vs_oracle) <= Z * math.sqrt(var)
    curve = report.regret_curve
    assert [r.requests for r in curve] == list(range(30, 3001, 30))
    assert curve[-1].policy_vs_oracle == report.regret_vs_oracle
    # Regret against the oracle never decreases; random's grows linearly.
    assert all(b.policy_vs_oracle >= a.policy_vs_oracle for a, b in itertools.pairwise(curve))
    assert all(b.random_vs_oracle > a.random_vs_oracle for a, b in itertools.pairwise(curve))
    assert len(report.ctr_curve) == 100 and sum(w.requests for w in report.ctr_curve) == 3000
    assert sum(w.best_fixed_expected_ctr * w.requests for w in report.ctr_curve) == pytest.approx(
        report.best_fixed_expected_ctr * n
    )


async def test_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    model = ClickModel(seed=0)
    report = await Harness(make_creatives(5), uniform_chooser(0)).simulator(model).run(400)
    path = plot_traffic(report, tmp_path / "img" / "regret.png", title="test")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and 5_000 < len(data) < 200_000
    assert sorted(p.name for p in path.parent.iterdir()) == ["regret.png"]
    empty = TrafficReport(0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, {})
    with pytest.raises(ValueError, match="no curves"):
        plot_traffic(empty, tmp_path / "x.png")
