"""The policy bench: worlds, common random numbers, reference policies, metrics and the command.

Streams here are small (a few hundred requests): the checks are about what the bench guarantees,
not about how well a policy does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from creativeloop.cli.evaluate import evaluate
from creativeloop.evaluation.policy_bench import references, report, runner
from creativeloop.evaluation.policy_bench.references import BenchChoice, make_policy
from creativeloop.evaluation.policy_bench.worlds import (
    DEMOGRAPHIC_KEYS,
    HELD_BACK_FROM,
    WORLDS,
    Request,
    build_stream,
)
from creativeloop.ranking.schema import CONTEXT_SCHEMA
from creativeloop.v1 import common_pb2


@pytest.mark.parametrize("world", list(WORLDS))
def test_a_world_is_one_stream_per_seed(world: str) -> None:
    a, b = build_stream(WORLDS[world], 4, 300), build_stream(WORLDS[world], 4, 300)
    other = build_stream(WORLDS[world], 5, 300)
    for name in (
        "p",
        "offset",
        "product",
        "user",
        "categorical_codes",
        "uniform",
        "delay",
        "observable_best",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert [c.SerializeToString() for c in a.creatives] == [c.SerializeToString() for c in b.creatives]
    assert not np.array_equal(a.uniform, other.uniform)
    # The same seed is the same world (catalogue and click model) whatever the number of requests.
    longer = build_stream(WORLDS[world], 4, 600)
    assert [c.creative_id for c in longer.creatives] == [c.creative_id for c in a.creatives]


@pytest.mark.parametrize("world", list(WORLDS))
def test_a_world_shows_only_what_a_caller_could(world: str) -> None:
    spec = WORLDS[world]
    stream = build_stream(spec, 0, 400)
    low, high = spec.creatives_per_product
    assert low <= stream.product_size.min() and stream.product_size.max() <= high
    assert low >= 4 and high <= 60
    for n in range(0, 400, 7):
        request = stream.request(n)
        assert set(request.categorical) <= set(CONTEXT_SCHEMA) and set(request.numeric) <= set(CONTEXT_SCHEMA)
        if not request.user_id:
            assert not set(DEMOGRAPHIC_KEYS) & set(request.categorical)
        assert request.context == {k: request.categorical[k] for k in ("placement", "device")}
        assert len(request.candidates) == len(stream.probabilities(n))
        assert all(c.product_id == request.product_id for c in request.candidates)
    c = stream.creatives[0]
    assert c.elements and c.numeric_attributes and c.image_embedding.values and c.copy_embedding.values
    assert c.category
    p = stream.p
    assert np.all((p > 0) & (p < 1))
    assert np.all(stream.oracle_ctr >= stream.observable_oracle_ctr - 1e-15)
    assert np.all(stream.observable_oracle_ctr >= 0) and np.all(stream.random_ctr <= stream.oracle_ctr)


def test_anonymous_requests_cold_start_and_drift_exist() -> None:
    sessions = build_stream(WORLDS["anonymous-sessions"], 0, 2000)
    assert 0.7 < np.mean(sessions.user < 0) < 0.9 and sessions.delay.mean() > 500
    cold = build_stream(WORLDS["cold-start"], 0, 2000)
    assert sorted(set(cold.arrival.tolist())) == [0, 500, 1000, 1500]
    assert all(cold.arrival[cold.product[n]] <= n for n in range(2000))  # only live products are requested
    drift = build_stream(WORLDS["drift"], 0, 2000)
    assert drift.drift_at == 1000


class Recorder:
    """Chooses the candidate at a fixed position and records what it was shown."""

    def __init__(self, name: str, position: int) -> None:
        self.name = name
        self.position = position
        self.seen: list[tuple[int, tuple[str, ...], str, bytes]] = []
        self.learnt: list[tuple[int, bool]] = []
        self.live: set[str] = set()

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None:
        self.live |= {c.creative_id for c in creatives}

    def choose(self, request: Request) -> BenchChoice:
        assert set(request.candidate_ids) <= self.live
        self.seen.append(
            (request.n, tuple(request.candidate_ids), request.user_id, request.features.SerializeToString())
        )
        return BenchChoice(min(self.position, len(request.candidates) - 1), 1.0)

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        self.learnt.append((request.n, clicked))


def test_every_policy_meets_the_same_requests_and_coin_flips() -> None:
    stream = build_stream(WORLDS["cold-start"], 2, 1500)
    first, last = Recorder("first", 0), Recorder("last", 99)
    runs = [runner.run_policy(stream, policy, delay=3) for policy in (first, last, Recorder("again", 0))]
    assert first.seen == last.seen
    for run, position in zip(runs, (0, 99, 0), strict=True):
        for n in range(stream.n_requests):
            p = stream.probabilities(n)
            assert run.chosen_ctr[n] == p[min(position, len(p) - 1)]
    assert runs[0].clicks == runs[2].clicks
    # Outcomes arrive `delay` requests late, in order, and never before their request.
    assert [n for n, _ in first.learnt] == list(range(len(first.learnt)))
    clicks = {n: bool(stream.uniform[n] < stream.probabilities(n)[0]) for n, _ in first.learnt}
    assert dict(first.learnt) == clicks


def test_held_back_seeds_need_final() -> None:
    with pytest.raises(runner.HeldBackSeed):
        runner.run(["drift"], [HELD_BACK_FROM], ["uniform"], 10)
    truths, runs = runner.run(["drift"], [HELD_BACK_FROM], ["uniform"], 10, final=True)
    assert len(truths) == len(runs) == 1
    result = CliRunner().invoke(evaluate, ["policies", "--seeds", "3,1001", "--requests", "10"])
    assert result.exit_code == 2 and "held back" in result.output


@pytest.mark.parametrize("world", ["element-grid", "latent-style"])
def test_reference_policies_behave(world: str) -> None:
    stream = build_stream(WORLDS[world], 1, 600)
    truth = runner.StreamTruth.of(stream)
    runs = {
        name: runner.run_policy(stream, make_policy(name, stream, 1)) for name in references.DEFAULT_POLICIES
    }
    oracle = runs["oracle"].chosen_ctr
    np.testing.assert_array_equal(oracle, stream.oracle_ctr)
    for name, run in runs.items():
        assert np.all(run.chosen_ctr <= oracle + 1e-15), name
    np.testing.assert_array_equal(runs["oracle-observable"].chosen_ctr, stream.observable_oracle_ctr)
    # Uniform random is random: its expected CTR is the mean over candidates, within its own noise.
    uniform = runs["uniform"].chosen_ctr
    spread = np.sqrt(np.sum([np.var(stream.probabilities(n)) for n in range(600)])) / 600
    assert abs(uniform.mean() - truth.random_ctr.mean()) < 4 * spread
    expected = 1.0 / np.diff(stream.offset)
    np.testing.assert_allclose(runs["uniform"].propensity, expected)
    vw = runs["vw-squarecb"].propensity
    assert np.all((vw > 0) & (vw <= 1))


def test_metrics_and_recovery_arithmetic() -> None:
    n = 1000
    oracle = np.full(n, 0.1)
    truth = runner.StreamTruth("w", 0, n, np.full(n, 0.05), oracle, np.full(n, 0.09), drift_at=500)
    chosen = np.full(n, 0.08)
    chosen[500:600] = 0.02  # drops after the drift and recovers 100 requests later
    run = runner.PolicyRun("w", 0, "p", 0, chosen, np.ones(n), clicks=70, seconds=1.0)
    m = report.metrics(run, truth, window=50)
    assert m.expected_ctr == pytest.approx(chosen.mean())
    assert m.lift_pct == pytest.approx(100 * (chosen.mean() / 0.05 - 1))
    assert m.pct_oracle == pytest.approx(100 * chosen.mean() / 0.1)
    assert m.tail_pct_oracle == pytest.approx(80.0)
    assert m.regret == pytest.approx(float((oracle - chosen).sum()))
    # The first window back within 2 points of the 80 % before: requests 599-648 (78.8 %), which
    # ends 149 requests after the drift.
    assert m.recovery == 149
    never = np.where(np.arange(n) < 500, 0.08, 0.02)
    assert report.recovery(never, oracle, 500, 50) is None


def test_eval_policies_runs_end_to_end(tmp_path: Path) -> None:
    out, plots = tmp_path / "bench.json", tmp_path / "plots"
    args = ["policies", "--worlds", "drift", "--seeds", "0", "--requests", "400"]
    args += ["--policies", "uniform,oracle,shared", "--json", str(out), "--plot", str(plots)]
    result = CliRunner().invoke(evaluate, args)
    assert result.exit_code == 0, result.output
    assert "| drift | shared | 0 |" in result.output
    payload = json.loads(out.read_text())
    assert {s["policy"] for s in payload["summaries"]} == {"uniform", "oracle", "shared"}
    oracle = next(s for s in payload["summaries"] if s["policy"] == "oracle")
    assert oracle["pct_oracle"] == pytest.approx(100.0)
    assert (plots / "policy-bench-drift.png").stat().st_size > 0
    again = CliRunner().invoke(evaluate, ["policies", "--from", str(out), "--against", str(out)])
    assert again.exit_code == 0 and "| lift vs random tuning | tuning |" in again.output
    assert again.output.count("| drift |") == 3
    unknown = CliRunner().invoke(evaluate, ["policies", "--policies", "nope"])
    assert unknown.exit_code == 2 and "unknown policies" in unknown.output
