"""Off-policy evaluation on the real Open Bandit Dataset sample (fetched through pip, as at install)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from creativeloop.datasets.obd import fetch_obd, load_obd
from creativeloop.evaluation.ope.obd_report import obd_report
from creativeloop.evaluation.ope.policies import vowpalwabbit_available

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def obd_dir(repo_root: Path) -> Path:
    # Install-time step (pip download of obp==0.4.1, files verified by sha256); cached in var/.
    return fetch_obd(repo_root / "var" / "data" / "obd")


def test_fetch_is_idempotent_and_the_sample_is_what_the_field_notes_say(obd_dir: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in obd_dir.rglob("*.csv")}
    assert fetch_obd(obd_dir) == obd_dir
    assert {p: p.stat().st_mtime_ns for p in obd_dir.rglob("*.csv")} == before  # nothing re-downloaded
    random, bts = load_obd(obd_dir, "random", "all"), load_obd(obd_dir, "bts", "all")
    assert random.n_rounds == bts.n_rounds == 10_000 and random.n_items == 80 and random.n_positions == 3
    assert random.click.sum() == 38 and bts.click.sum() == 42  # 0.38 % and 0.42 %
    assert np.all(random.propensity == 1 / 80)
    for campaign, items in (("men", 34), ("women", 46)):
        assert load_obd(obd_dir, "random", campaign).n_items == items


def test_obd_report(obd_dir: Path) -> None:
    report = obd_report(obd_dir, "all", seed=0)
    uniform = report.row("uniform random")
    # Uniform random evaluated on uniform-random logs: every weight is 1, so IPS is the logged CTR.
    assert uniform.ips.value == pytest.approx(report.random_logged_eval.value, abs=1e-12)
    assert uniform.ips.effective_rounds == pytest.approx(uniform.rounds)
    assert report.random_logged.value == pytest.approx(0.0038)
    assert report.bts_logged.value == pytest.approx(0.0042)
    expected = [
        "uniform random",
        "Bernoulli TS, ZOZOTOWN prior",
        "Bernoulli TS, ZOZOTOWN prior",
        "best item per position",
        "Beta-Thompson on first-half clicks",
        "contextual logistic regression, greedy",
    ]
    if vowpalwabbit_available():
        expected += ["Vowpal Wabbit --cb_explore_adf"] * 2
    assert [r.policy for r in report.rows] == expected
    for row in report.rows:
        for estimate in (row.ips, row.snips, row.dr):
            assert estimate is not None and estimate.low <= estimate.value <= estimate.high, row
    # BTS with ZOZOTOWN's prior, estimated from the random logs: its interval covers the BTS
    # logs' own CTR (on-policy truth), on all 10,000 rounds.
    bts_all = report.rows[2]
    assert bts_all.rounds == 10_000
    assert bts_all.ips.low <= report.bts_logged.value <= bts_all.ips.high
    text = report.format()
    assert text.count("\n| ") == 1 + 3 + len(expected)  # header, logged CTRs, policies
    assert obd_report(obd_dir, "all", seed=0).format() == text  # deterministic
