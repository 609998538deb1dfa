"""Off-policy evaluation on CreativeLoop's own Impression / Click logs, against the simulator's truth.

The logs come from the real `TrafficSimulator` with a fake Rank that chooses stochastically and
reports its exact propensity; the simulated users' `ClickModel` gives each candidate policy's
exact expected CTR on the evaluation requests. The simulation is seeded (reproducible); the
tolerance for an estimate is the width of its 95 % bootstrap interval (~3.9 standard errors).
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import pytest

from creativeloop.demo.run import DemoResult
from creativeloop.demo.traffic import ClickModel, TrafficSimulator
from creativeloop.evaluation.ope.estimators import ips, snips
from creativeloop.evaluation.ope.own_logs import evaluate_demo, evaluate_logged_events, join_events
from creativeloop.evaluation.simulation import simulate as simulate_policy
from creativeloop.evaluation.simulation import synthetic_catalogue
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import Policy, build_policy
from creativeloop.ranking.policies.beta_max import ERROR_BOUND
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2
from tests.unit.test_demo_traffic import make_creatives
from tests.unit.test_ranking_training import PlantedTaste

MOBILE_BUCKET = "placement=feed|device=mobile"

Creatives = dict[str, list[common_pb2.Creative]]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class SoftmaxRank:
    """Fake Rank: softmax over fixed per-creative scores (not the truth), exact propensity."""

    def __init__(self, creatives: Creatives, seed: int, temperature: float = 0.7) -> None:
        self.creatives = creatives
        self.rng = np.random.default_rng(seed)
        self.temperature = temperature

    def probabilities(self, product_id: str) -> np.ndarray:
        ids = [c.creative_id for c in self.creatives[product_id]]
        scores = np.array([np.random.default_rng(_stable_hash(i)).standard_normal() for i in ids])
        e = np.exp((scores - scores.max()) / self.temperature)
        result: np.ndarray = e / e.sum()
        return result

    async def rank(self, request: ranking_pb2.RankRequest) -> ranking_pb2.RankResponse:
        probabilities = self.probabilities(request.product_id)
        index = int(self.rng.choice(len(probabilities), p=probabilities))
        return ranking_pb2.RankResponse(
            creative=self.creatives[request.product_id][index],
            propensity=float(probabilities[index]),
            impression_id=uuid.uuid4().hex,
            policy_version="softmax-test",
        )


async def simulate(
    n: int, seed: int
) -> tuple[Creatives, ClickModel, list[events_pb2.Impression], list[events_pb2.Click]]:
    creatives = make_creatives(10, 4, seed)
    model = ClickModel(seed=seed)
    impressions: list[events_pb2.Impression] = []
    clicks: list[events_pb2.Click] = []

    async def log_impression(event: events_pb2.Impression) -> None:
        impressions.append(event)

    async def log_click(event: events_pb2.Click) -> None:
        clicks.append(event)

    rank = SoftmaxRank(creatives, seed)
    simulator = TrafficSimulator(
        rank.rank, log_impression, log_click, creatives, model, n_users=500, seed=seed
    )
    await simulator.run(n, concurrency=1)
    return creatives, model, impressions, clicks


def test_join_events_dedupes_and_counts_orphans() -> None:
    imp = [
        events_pb2.Impression(impression_id=i, user_id="u", product_id="p", creative_id="c", propensity=0.5)
        for i in ("a", "b", "a", "c")
    ]
    clicks = [events_pb2.Click(impression_id=i) for i in ("b", "b", "zz")]
    joined = join_events(imp, clicks)
    assert [r.impression_id for r in joined.rounds] == ["a", "b", "c"]
    assert [r.clicked for r in joined.rounds] == [False, True, False]
    assert (joined.duplicate_impressions, joined.orphan_clicks) == (1, 1)


@pytest.mark.parametrize("seed", [0, 1])
async def test_candidates_are_estimated_within_their_intervals(seed: int) -> None:
    creatives, model, impressions, clicks = await simulate(20_000, seed)
    by_id = {c.creative_id: c for cs in creatives.values() for c in cs}
    candidates = {p: [c.creative_id for c in cs] for p, cs in creatives.items()}
    report = evaluate_logged_events(
        impressions,
        clicks,
        candidates,
        lambda user, cid: model.click_probability(user, by_id[cid]),
        n_boot=300,
        seed=seed,
    )
    assert (report.train_rounds, report.eval_rounds) == (10_000, 10_000)
    assert report.policy_versions == {"softmax-test": 20_000}
    assert [r.policy for r in report.results] == [
        "uniform random",
        "best observed CTR (greedy)",
        "best observed CTR, epsilon-greedy 0.1",
        "oracle (best creative per user)",
    ]
    for result in report.results:
        assert result.truth is not None
        for estimate in (result.ips, result.snips, result.dr):
            assert abs(estimate.value - result.truth) <= estimate.high - estimate.low, (
                result.policy,
                estimate,
            )
    uniform = report.result("uniform random")
    # The fake Rank's propensities are exact: the mean weight is 1 within ~4 standard errors.
    weights = [1 / len(candidates[i.product_id]) / i.propensity for i in impressions[10_000:]]
    assert uniform.mean_weight == pytest.approx(np.mean(weights))
    assert abs(uniform.mean_weight - 1) <= 4 * np.std(weights) / np.sqrt(len(weights))
    values = {r.policy: r.truth or 0.0 for r in report.results}
    assert (
        values["uniform random"]
        < values["best observed CTR (greedy)"]
        < values["oracle (best creative per user)"]
    )
    text = report.format()
    assert "softmax-test (20000)" in text and "✓" in text


async def test_without_truth_and_with_unknown_products() -> None:
    creatives, _model, impressions, clicks = await simulate(2000, 3)
    candidates = {p: [c.creative_id for c in cs] for p, cs in list(creatives.items())[:5]}
    report = evaluate_logged_events(impressions, clicks, candidates, None, n_boot=20)
    assert (
        report.skipped_rounds > 0 and report.train_rounds + report.eval_rounds + report.skipped_rounds == 2000
    )
    assert all(r.truth is None and r.covered(r.ips) is None for r in report.results)
    assert len(report.results) == 3 and "ignored:" in report.format()
    with pytest.raises(ValueError, match="at least two"):
        evaluate_logged_events(impressions[:1], clicks, candidates)


async def test_evaluate_demo_uses_the_demo_click_model() -> None:
    creatives, _model, impressions, clicks = await simulate(3000, 4)
    report_stub = await TrafficSimulator(
        SoftmaxRank(creatives, 9).rank, _noop, _noop, creatives, ClickModel(seed=4), seed=9
    ).run(50)
    result = DemoResult(
        products=[],
        profiles=0,
        admitted=0,
        creatives_by_format={},
        creatives_with_stats=0,
        generation_s=0.0,
        traffic=report_stub,
        impressions=impressions,
        clicks=clicks,
        creatives_by_product=creatives,
        click_model_seed=4,
    )
    report = evaluate_demo(result, n_boot=50)
    assert report.eval_rounds == 1500 and report.results[-1].policy == "oracle (best creative per user)"
    oracle, uniform = (
        report.result("oracle (best creative per user)").truth,
        report.result("uniform random").truth,
    )
    assert oracle is not None and uniform is not None and oracle > uniform


async def _noop(_event: object) -> None:
    return None


# --------------------------------------------------------------------------- ranking's policies


def thompson_logs(
    policy: Policy, pools: dict[str, list[str]], ctr: dict[str, float], n: int, seed: int
) -> tuple[list[events_pb2.Impression], list[events_pb2.Click]]:
    """`n` requests served by `policy` (its `pull`, as Rank does), clicks drawn from `ctr`."""
    rng = np.random.default_rng(seed)
    products = sorted(pools)
    impressions, clicks = [], []
    for i in range(n):
        product = products[i % len(products)]
        context = {"placement": "feed", "device": ("mobile", "desktop")[int(rng.integers(2))]}
        decision = policy.pull(pools[product], f"u{i % 100}", context)
        creative_id = pools[product][decision.index]
        impressions.append(
            events_pb2.Impression(
                impression_id=f"i{i}",
                user_id=f"u{i % 100}",
                product_id=product,
                creative_id=creative_id,
                propensity=decision.propensity,
                policy_version=decision.policy_version,
                context=context,
            )
        )
        if rng.random() < ctr[creative_id]:
            clicks.append(events_pb2.Click(impression_id=f"i{i}", user_id=f"u{i % 100}"))
    return impressions, clicks


def test_the_serving_thompson_policy_evaluated_on_its_own_logs_gives_its_logged_ctr() -> None:
    """Logs of ranking's Thompson policy (counts fixed); OPE of that same policy, as a new instance."""
    pools = {"p1": ["p1-a", "p1-b", "p1-c", "p1-d"], "p2": ["p2-a", "p2-b", "p2-c"]}
    ctr = {"p1-a": 0.03, "p1-b": 0.06, "p1-c": 0.05, "p1-d": 0.08, "p2-a": 0.10, "p2-b": 0.04, "p2-c": 0.07}
    board = StatsBoard()
    shows = {"p1-a": 300, "p1-b": 300, "p1-c": 250, "p1-d": 200, "p2-a": 150, "p2-b": 300, "p2-c": 100}
    for creative_id, n in shows.items():
        # Counts at 80 % of the true rate, and a mobile bucket with a different taste.
        board.apply(
            "",
            events_pb2.BanditStats(creative_id=creative_id, impressions=n, clicks=0.8 * n * ctr[creative_id]),
        )
    board.apply(
        "",
        events_pb2.BanditStats(creative_id="p1-a", impressions=300, clicks=25, context_bucket=MOBILE_BUCKET),
    )
    settings = RankingSettings(policy="thompson", seed=1, min_bucket_impressions=200)
    impressions, clicks = thompson_logs(build_policy(settings, board), pools, ctr, 20_000, seed=2)
    rounds = join_events(impressions, clicks).rounds
    rewards = np.array([float(r.clicked) for r in rounds])
    logging = np.array([r.propensity for r in rounds])
    # The same policy, another generator: its action probabilities for each logged request.
    same = build_policy(settings.model_copy(update={"seed": 9}), board)
    by_request = {}
    for r in rounds:
        key = (r.product_id, r.context["device"])
        if key not in by_request:
            by_request[key] = same.probabilities(pools[r.product_id], r.user_id, r.context)
    target = np.array(
        [
            by_request[r.product_id, r.context["device"]][pools[r.product_id].index(r.creative_id)]
            for r in rounds
        ]
    )
    weights = target / logging
    # Logged and recomputed propensities are both the quadrature probability (within its bound),
    # so the weights are 1 up to that error (with Monte Carlo propensities they were 1 on average).
    np.testing.assert_allclose(target, logging, atol=2 * ERROR_BOUND)
    assert abs(weights.mean() - 1) <= max(4 * weights.std() / np.sqrt(len(weights)), 1e-3), weights.mean()
    for estimate in (ips(rewards, logging, target, seed=0), snips(rewards, logging, target, seed=0)):
        assert abs(estimate.value - rewards.mean()) <= (estimate.high - estimate.low) / 4, estimate
        assert estimate.effective_rounds > 0.8 * len(rounds)


def test_serving_policies_learn_from_the_first_part_and_are_evaluated() -> None:
    """Logs of ranking's Thompson policy learning online (the simulator); OPE of ranking's policies."""
    creatives, profiles = synthetic_catalogue(3, 4, seed=3)
    by_id = {e.creative.creative_id: e.creative for e in creatives}
    candidates: dict[str, list[str]] = {}
    for event in creatives:
        candidates.setdefault(event.creative.product_id, []).append(event.creative.creative_id)
    taste = PlantedTaste()
    logged = simulate_policy(
        build_policy(RankingSettings(policy="thompson", seed=0)),
        creatives,
        profiles,
        8000,
        taste,
        seed=1,
        n_users=200,
    )
    features = FeatureStore()
    for event in creatives:
        features.apply_creative(event.creative.creative_id, event)
    for profile in profiles:
        features.apply_profile(profile.profile.product_id, profile)
    report = evaluate_logged_events(
        logged.logs.impressions,
        logged.logs.clicks,
        candidates,
        lambda user, cid: taste.click_probability(user, by_id[cid]),
        serving={
            "ranking's Thompson": build_policy(RankingSettings(policy="thompson", seed=3)),
            "ranking's LinTS": build_policy(RankingSettings(policy="lints", seed=3), features=features),
        },
        n_boot=300,
    )
    assert [r.policy for r in report.results][3:] == [
        "ranking's Thompson",
        "ranking's LinTS",
        "oracle (best creative per user)",
    ]
    thompson = report.result("ranking's Thompson")
    # Frozen after the first half, it is close to the logging policy, which kept learning: most
    # rounds count (ESS), weights average 1, and the estimates sit at the logged CTR.
    assert thompson.ips.effective_rounds > 0.6 * report.eval_rounds and abs(thompson.mean_weight - 1) < 0.03
    for result in (thompson, report.result("ranking's LinTS")):
        assert result.truth is not None
        for estimate in (result.ips, result.snips, result.dr):
            assert abs(estimate.value - result.truth) <= estimate.high - estimate.low, (
                result.policy,
                estimate,
            )
    for estimate in (thompson.ips, thompson.snips, thompson.dr):
        assert abs(estimate.value - report.logged_ctr) <= (estimate.high - estimate.low) / 2, estimate
