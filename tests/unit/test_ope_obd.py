"""Open Bandit Dataset loader, policies and report, on synthetic logs in the dataset's own format.

The synthetic logs are drawn from known click probabilities under uniform-random logging, so the
value of any evaluation policy is known exactly: sum over rounds of sum_a pi_e(a | x_i) p(x_i, a).
Every draw is seeded, so each check is reproducible; the tolerance for an estimate is the width
of its 95 % bootstrap interval (about 3.9 standard errors).
"""

from __future__ import annotations

import csv
import doctest
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from creativeloop.datasets import obd
from creativeloop.datasets.obd import (
    FILES,
    OBDMissing,
    extract_obd,
    load_obd,
    parse_bts_prior,
    read_item_context,
    read_logs,
)
from creativeloop.evaluation.ope import obd_report as report
from creativeloop.evaluation.ope import policies
from creativeloop.evaluation.ope.obd_report import evaluate_policy, obd_report
from creativeloop.evaluation.ope.policies import (
    LogisticRewardModel,
    best_item_per_position,
    greedy_distribution,
    per_round,
    softmax_distribution,
    thompson_slate_distribution,
    uniform_distribution,
)

N_ITEMS = 5
N_POSITIONS = 3
USER_VALUES = (("a", "b"), ("x", "y", "z"), ("p", "q"), ("m", "n"))


def click_probability(
    item: np.ndarray, position: np.ndarray, user0: np.ndarray, aff: np.ndarray
) -> np.ndarray:
    """Item 3 is best; position 0 a bit better; users with feature 0 = "b" click more; affinity helps."""
    base = np.array([0.04, 0.06, 0.05, 0.14, 0.03])[item]
    result: np.ndarray = np.clip(base * (1.2 - 0.1 * position) * (1.0 + 0.5 * user0) + 0.1 * aff, 0.0, 1.0)
    return result


def write_synthetic(
    folder: Path, n: int, seed: int, propensity: float | None = None
) -> dict[str, np.ndarray]:
    """A log CSV + item context in the OBD layout; rows written in shuffled time order."""
    rng = np.random.default_rng(seed)
    item = rng.integers(0, N_ITEMS, n)
    position = rng.integers(0, N_POSITIONS, n)
    users = np.stack([rng.integers(0, len(v), n) for v in USER_VALUES], axis=1)
    affinity = (rng.random((n, N_ITEMS)) < 0.05).astype(np.float64)
    p = click_probability(item, position, users[:, 0], affinity[np.arange(n), item])
    click = (rng.random(n) < p).astype(int)
    seconds = rng.permutation(n)  # distinct timestamps, not in file order
    folder.mkdir(parents=True, exist_ok=True)
    header = ["", "timestamp", "item_id", "position", "click", "propensity_score"]
    header += [f"user_feature_{j}" for j in range(4)] + [f"user-item_affinity_{a}" for a in range(N_ITEMS)]
    with (folder / "all.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(n):
            stamp = np.datetime64("2019-11-24T00:00:00", "s") + np.timedelta64(int(seconds[i]), "s")
            writer.writerow(
                [
                    i,
                    f"{str(stamp).replace('T', ' ')}.000001+00:00",
                    item[i],
                    position[i] + 1,
                    click[i],
                    propensity if propensity is not None else 1.0 / N_ITEMS,
                    *(USER_VALUES[j][users[i, j]] for j in range(4)),
                    *(f"{v:.1f}" for v in affinity[i]),
                ]
            )
    with (folder / "item_context.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["", "item_id", "item_feature_0", "item_feature_1", "item_feature_2", "item_feature_3"]
        )
        for a in reversed(range(N_ITEMS)):  # not sorted: the reader orders by item id
            writer.writerow([a, a, 0.1 * a - 0.2, f"h{a % 2}", f"k{a % 3}", "same"])
    order = np.argsort(seconds, kind="stable")
    return {
        "item": item[order],
        "position": position[order],
        "click": click[order].astype(np.float64),
        "p": p[order],
        "user0": users[order, 0],
        "affinity": affinity[order],
    }


def synthetic_logs(tmp_path: Path, n: int, seed: int) -> tuple[obd.OBDLogs, dict[str, np.ndarray]]:
    truth = write_synthetic(tmp_path / f"s{seed}", n, seed)
    items = read_item_context(tmp_path / f"s{seed}" / "item_context.csv")
    return read_logs(tmp_path / f"s{seed}" / "all.csv", items, "random", "all"), truth


def true_value(dist: np.ndarray, logs: obd.OBDLogs, truth: dict[str, np.ndarray]) -> float:
    """Exact expected CTR of `dist` on the logged rounds (same users and positions)."""
    n = logs.n_rounds
    values = np.zeros(n)
    for a in range(N_ITEMS):
        p_a = click_probability(np.full(n, a), logs.position, truth["user0"], truth["affinity"][:, a])
        values += dist[:, a] * p_a
    return float(values.mean())


def test_doctests() -> None:
    for module in (obd, policies, report):
        assert doctest.testmod(module).failed == 0, module.__name__


# --------------------------------------------------------------------------- loader


def test_reader_sorts_by_time_and_decodes_every_column(tmp_path: Path) -> None:
    logs, truth = synthetic_logs(tmp_path, 400, 1)
    assert logs.n_rounds == 400 and logs.n_items == N_ITEMS and logs.n_positions == N_POSITIONS
    assert np.all(np.diff(logs.timestamp.astype(np.int64)) > 0)
    assert logs.timestamp.dtype == np.dtype("datetime64[us]")
    assert logs.item.tolist() == truth["item"].tolist()
    assert logs.position.tolist() == truth["position"].tolist()  # 0-based
    assert logs.click.tolist() == truth["click"].tolist()
    assert np.all(logs.propensity == 1.0 / N_ITEMS)
    assert logs.user_levels == (2, 3, 2, 2)
    assert logs.user_features[:, 0].tolist() == truth["user0"].tolist()  # codes of sorted values
    assert np.array_equal(logs.affinity, truth["affinity"])
    assert logs.user_one_hot().shape == (400, 9) and np.all(logs.user_one_hot().sum(axis=1) == 4)
    assert logs.items.numeric.tolist() == pytest.approx([-0.2, -0.1, 0.0, 0.1, 0.2])
    assert logs.items.category_levels == (2, 3, 1)
    assert logs.items.categories[:, 1].tolist() == [0, 1, 2, 0, 1]
    train, test = logs.split(0.25)
    assert (train.n_rounds, test.n_rounds) == (100, 300)
    assert train.timestamp[-1] < test.timestamp[0]
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        logs.split(1.0)


def test_reader_refuses_bad_files(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "bad", 20, 0, propensity=0.0)
    items = read_item_context(tmp_path / "bad" / "item_context.csv")
    with pytest.raises(ValueError, match=r"propensity scores must lie in \(0, 1\]"):
        read_logs(tmp_path / "bad" / "all.csv", items)
    (tmp_path / "short.csv").write_text(",timestamp,item_id\n0,2019-11-24 00:00:00+00:00,1\n")
    with pytest.raises(ValueError, match="lacks columns"):
        read_logs(tmp_path / "short.csv", items)


def test_loader_wants_the_fetched_and_verified_files(tmp_path: Path) -> None:
    with pytest.raises(OBDMissing, match="creativeloop data fetch-obd"):
        load_obd(tmp_path, "random", "all")
    write_synthetic(tmp_path / "random" / "all", 10, 0)
    with pytest.raises(ValueError, match="sha256"):
        load_obd(tmp_path, "random", "all")
    with pytest.raises(ValueError, match="unknown campaign"):
        load_obd(tmp_path, "random", "kids")


def test_extract_checks_every_digest_before_writing(tmp_path: Path) -> None:
    wheel = tmp_path / "obp-0.4.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for relative in FILES:
            member = (
                "obp/policy/conf/prior_bts.yaml"
                if relative == "prior_bts.yaml"
                else f"obp/dataset/obd/{relative}"
            )
            archive.writestr(member, b"not the dataset")
    with pytest.raises(ValueError, match="expected 7168295b"):
        extract_obd(wheel, tmp_path / "data", campaigns=["all"])
    assert not (tmp_path / "data").exists()
    with pytest.raises(ValueError, match="unknown campaign"):
        extract_obd(wheel, tmp_path / "data", campaigns=["kids"])
    assert hashlib.sha256(b"").hexdigest() not in FILES.values()


def test_bts_prior_parser() -> None:
    text = (
        "all:\n  alpha:\n    - 1.0\n    - 2.0\n  beta:\n    - 5.0\n    - 6.0\n"
        "men:\n  alpha:\n    - 3.0\n  beta:\n    - 4.0\n"
    )
    prior = parse_bts_prior(text)
    assert prior["all"][0].tolist() == [1.0, 2.0] and prior["men"][1].tolist() == [4.0]
    with pytest.raises(ValueError, match="same length"):
        parse_bts_prior("all:\n  alpha:\n    - 1.0\n  beta:\n    - 1.0\n    - 2.0\n")
    with pytest.raises(ValueError, match="cannot read"):
        parse_bts_prior("all:\n  alpha: [1, 2]\n")


# --------------------------------------------------------------------------- policies


def test_thompson_slate_distribution() -> None:
    # Two identical arms and one hopeless: the first two share positions 0 and 1 evenly.
    dist = thompson_slate_distribution(np.array([5.0, 5.0, 1.0]), np.array([5.0, 5.0, 1e4]), 2, n_sim=40_000)
    assert dist.shape == (3, 2) and dist.sum(axis=0) == pytest.approx([1.0, 1.0])
    assert dist[0, 0] == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / 40_000))
    assert dist[2].tolist() == [0.0, 0.0]
    again = thompson_slate_distribution(np.array([5.0, 5.0, 1.0]), np.array([5.0, 5.0, 1e4]), 2, n_sim=40_000)
    assert np.array_equal(dist, again)  # seeded
    with pytest.raises(ValueError, match="len_list"):
        thompson_slate_distribution(np.ones(2), np.ones(2), 3)


def test_simple_policies(tmp_path: Path) -> None:
    logs, _ = synthetic_logs(tmp_path, 20_000, 2)
    assert best_item_per_position(logs, N_POSITIONS).tolist() == [3, 3, 3]
    rows = per_round(np.eye(N_ITEMS)[[3, 1, 0]].T, logs.position)
    assert rows.shape == (logs.n_rounds, N_ITEMS)
    assert np.all(rows.argmax(axis=1) == np.array([3, 1, 0])[logs.position])
    assert greedy_distribution(np.array([[0.1, 0.3, 0.3]])).tolist() == [[0.0, 1.0, 0.0]]
    soft = softmax_distribution(np.array([[0.0, np.log(3.0)]]), 1.0)
    assert soft.tolist()[0] == pytest.approx([0.25, 0.75])


def test_reward_model_learns_the_item_effect_and_predicts_every_action(tmp_path: Path) -> None:
    logs, truth = synthetic_logs(tmp_path, 20_000, 3)
    model = LogisticRewardModel.fit(logs, N_POSITIONS)
    q = model.predict(logs)
    assert q.shape == (logs.n_rounds, N_ITEMS) and np.all((q > 0) & (q < 1))
    assert int(np.argmax(model.item)) == 3
    assert model.affinity > 0 and model.position[0] > model.position[2]
    # Calibrated on the logged actions, and close to the truth for every action.
    logged = q[np.arange(logs.n_rounds), logs.item]
    assert logged.mean() == pytest.approx(logs.ctr, rel=0.02)
    for a in range(N_ITEMS):
        p_a = click_probability(
            np.full(logs.n_rounds, a), logs.position, truth["user0"], truth["affinity"][:, a]
        )
        assert q[:, a].mean() == pytest.approx(p_a.mean(), abs=0.01)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_estimators_recover_known_policy_values(tmp_path: Path, seed: int) -> None:
    logs, truth = synthetic_logs(tmp_path, 30_000, seed)
    train, test = logs.split(0.5)
    test_truth = {k: v[train.n_rounds :] for k, v in truth.items()}
    model = LogisticRewardModel.fit(train, N_POSITIONS, l2_grid=(1.0, 10.0))
    q = model.predict(test)
    candidates = {
        "uniform": uniform_distribution(test),
        "thompson": per_round(
            thompson_slate_distribution(
                np.array([4.0, 6.0, 5.0, 14.0, 3.0]), np.full(N_ITEMS, 90.0), 3, 20_000
            ),
            test.position,
        ),
        "greedy on the model": greedy_distribution(model.logits(test)),
    }
    for name, dist in candidates.items():
        value = true_value(dist, test, test_truth)
        row = evaluate_policy(name, test, dist, q, n_boot=300, seed=seed)
        assert row.dr is not None
        for estimate in (row.ips, row.snips, row.dr):
            assert abs(estimate.value - value) <= estimate.high - estimate.low, (name, estimate, value)
    uniform = evaluate_policy("uniform", test, candidates["uniform"], None, n_boot=50)
    assert uniform.ips.value == pytest.approx(test.ctr) and uniform.dr is None
    assert uniform.effective_clicks == pytest.approx(test.click.sum())
    with pytest.raises(ValueError, match="shape"):
        evaluate_policy("bad", test, candidates["uniform"][:10], q)


def test_vowpal_wabbit_learns_the_best_item(tmp_path: Path) -> None:
    pytest.importorskip("vowpalwabbit")
    logs, truth = synthetic_logs(tmp_path, 6000, 7)
    train, test = logs.split(0.5)
    test_truth = {k: v[train.n_rounds :] for k, v in truth.items()}
    dist = policies.vw_cb_explore_adf_distribution(train, test, "--epsilon 0.1", seed=0)
    assert dist.shape == (test.n_rounds, N_ITEMS)
    assert dist.sum(axis=1) == pytest.approx(np.ones(test.n_rounds))
    # Epsilon-greedy: 0.9 + 0.1 / 5 on its greedy item, 0.1 / 5 on the others.
    assert np.allclose(np.sort(dist, axis=1)[:, -2:], [0.1 / N_ITEMS, 0.9 + 0.1 / N_ITEMS])
    # What it learned is worth far more than uniform random (true values: ~0.147 vs ~0.093).
    assert true_value(dist, test, test_truth) > 1.3 * true_value(uniform_distribution(test), test, test_truth)
    assert np.mean(dist.argmax(axis=1) == 3) > 0.5
    again = policies.vw_cb_explore_adf_distribution(train, test, "--epsilon 0.1", seed=0)
    assert np.array_equal(dist, again)


def test_report_on_synthetic_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    random_logs, _ = synthetic_logs(tmp_path, 4000, 8)
    bts_logs, _ = synthetic_logs(tmp_path, 3000, 9)

    def fake_load(_data_dir: Path, behavior: str, campaign: str) -> obd.OBDLogs:
        assert campaign == "all"
        return random_logs if behavior == "random" else bts_logs

    prior = (np.array([4.0, 6.0, 5.0, 14.0, 3.0]), np.full(N_ITEMS, 90.0))
    monkeypatch.setattr(report, "load_obd", fake_load)
    monkeypatch.setattr(report, "load_bts_prior", lambda _d, _c: prior)
    result = obd_report(tmp_path, n_boot=50, n_sim=2000, use_vw=False)
    uniform = result.row("uniform random")
    assert uniform.ips.value == pytest.approx(result.random_logged_eval.value)
    assert uniform.snips.value == pytest.approx(result.random_logged_eval.value)
    assert result.random_logged.value == pytest.approx(random_logs.ctr)
    assert result.bts_logged.value == pytest.approx(bts_logs.ctr)
    names = [r.policy for r in result.rows]
    assert names == [
        "uniform random",
        "Bernoulli TS, ZOZOTOWN prior",
        "Bernoulli TS, ZOZOTOWN prior",
        "best item per position",
        "Beta-Thompson on first-half clicks",
        "contextual logistic regression, greedy",
    ]
    assert result.rows[2].rounds == 4000 and result.rows[1].rounds == 2000
    assert result.skipped == ["Vowpal Wabbit: left out (use_vw=False)"]
    text = result.format()
    assert "| uniform random | 2000 |" in text and "on-policy truth" in text
    assert result.to_dict()["rows"][0]["ips"]["name"] == "IPS"
