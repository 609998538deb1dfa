"""`creativeloop demo` end to end on a small catalogue: the README's first command, in a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from creativeloop.datasets.reviews import fetch_reviews
from creativeloop.demo.run import run_demo
from creativeloop.ranking.policies import HYBRID_VERSION
from creativeloop.ranking.service import POLICY_VERSION

pytestmark = pytest.mark.integration


def test_demo_learns_and_reports(tmp_path: Path, repo_root: Path) -> None:
    data_dir = repo_root / "var" / "data"
    fetch_reviews(data_dir)  # install-time step; a no-op when the file is already there
    result = run_demo(tmp_path / "demo", data_dir, n_products=4, n_requests=6000, seed=0, train_after=0.3)

    assert result.profiles == 4 and result.admitted == 4
    assert result.creatives_by_format.get("image", 0) >= 4 * 2
    assert result.creatives_by_format.get("text", 0) >= 4
    traffic = result.traffic
    assert traffic.impressions == 6000 and traffic.failures == 0
    # The CTR model trained mid-run from the logs was hot-swapped in without stopping traffic.
    assert result.model is not None, result.model_error
    hybrid = f"{HYBRID_VERSION}+{result.model.version}"
    assert set(traffic.policy_versions) == {POLICY_VERSION, hybrid}, traffic.policy_versions
    assert traffic.policy_versions[POLICY_VERSION] >= 0.3 * 6000
    assert sum(traffic.policy_versions.values()) == 6000
    assert result.model.path is not None and (result.model.path / "model.txt").is_file()
    assert result.creatives_with_stats >= result.creatives_by_format["image"] // 2
    # Learning: the last quarter of traffic does better than uniform random. Expected CTRs use
    # the true click probabilities, so the only noise is in which creatives the policy picked.
    late = traffic.windows[-3:]
    late_policy = sum(w.policy_expected_ctr for w in late) / len(late)
    late_random = sum(w.random_expected_ctr for w in late) / len(late)
    assert late_policy > late_random * 1.1, (late_policy, late_random)
    text = result.format()
    assert "products understood     4 (4 admitted)" in text and "uniform random" in text
