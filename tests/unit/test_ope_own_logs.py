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
from creativeloop.evaluation.ope.own_logs import evaluate_demo, evaluate_logged_events, join_events
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2
from tests.unit.test_demo_traffic import make_creatives

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
