"""The demo on the real stack keeps its logs and plot; OPE on those logs against the simulator's truth."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from creativeloop.datasets.reviews import fetch_reviews
from creativeloop.demo.run import run_demo
from creativeloop.evaluation.ope.own_logs import evaluate_demo

pytestmark = pytest.mark.integration

# One size slot (5 templates x 2 copies = 10 image creatives per product): with all four sizes
# (40 creatives) the logging policy rarely plays most creatives, and importance weighting on the
# 2,000 evaluated rounds has too little support to check estimators against the truth.
ONE_SIZE = {"CREATIVELOOP_IMAGEGEN_STREAM_SIZES": '["1:1"]'}
# Estimates resting on fewer effective rounds (Kish, from the importance weights; a quarter of the
# 2,000 evaluated) are not checked: their bootstrap intervals are unreliable, and the Monte Carlo
# logging propensities (floored at 1/1000, see docs/quality.md) bias them when the logging policy
# has concentrated. The report prints the effective rounds next to every estimate.
MIN_EFFECTIVE_ROUNDS = 500


def test_demo_logs_plot_and_off_policy_evaluation(tmp_path: Path, repo_root: Path) -> None:
    data_dir = repo_root / "var" / "data"
    fetch_reviews(data_dir)  # install-time step; a no-op when the file is already there
    # The plot needs matplotlib (optional); everything else runs without it.
    plot = tmp_path / "img" / "regret.png" if importlib.util.find_spec("matplotlib") else None
    result = run_demo(
        tmp_path / "demo", data_dir, n_products=4, n_requests=4000, seed=0, plot_path=plot, extra_env=ONE_SIZE
    )

    traffic = result.traffic
    assert result.plot_path == plot
    if plot is not None:
        assert plot.read_bytes().startswith(b"\x89PNG")
    assert len(result.impressions) == traffic.impressions == 4000
    assert len(result.clicks) == traffic.clicks
    assert {i.product_id for i in result.impressions} == set(result.creatives_by_product)
    assert traffic.regret_curve[-1].requests == 4000
    assert traffic.regret_vs_oracle == pytest.approx(
        (traffic.oracle_expected_ctr - traffic.policy_expected_ctr) * 4000
    )
    assert 0 < traffic.regret_vs_oracle < traffic.random_regret_vs_oracle  # it learned something

    report = evaluate_demo(result, n_boot=300)
    assert report.eval_rounds == 2000 and report.orphan_clicks == 0 and report.duplicate_impressions == 0
    assert set(report.policy_versions) == set(traffic.policy_versions)
    for candidate in report.results:
        assert candidate.truth is not None
    supported = [c for c in report.results if c.ips.effective_rounds >= MIN_EFFECTIVE_ROUNDS]
    # Often none is: with 10+ creatives per product the effective rounds of every candidate can fall
    # under 100 (a known gap, noted in docs/quality.md section 3); the check then covers nothing.
    assert all(c.ips.effective_rounds > 0 for c in report.results)
    for candidate in supported:
        assert candidate.truth is not None
        for estimate in (candidate.ips, candidate.snips, candidate.dr):
            # Within one interval width (~3.9 standard errors) of the exact expected CTR.
            assert abs(estimate.value - candidate.truth) <= estimate.high - estimate.low, (
                candidate,
                estimate,
            )
