"""Off-policy evaluation on the Open Bandit Dataset sample: `creativeloop ope obd`.

The evaluation data are the **uniform-random** logs (propensity 1/80 per item and position, so
importance weights are exact). Rounds are sorted by time and split in half: policies that learn
(and DR's reward model) are fit on the first half and every policy is evaluated on the second,
on the same rounds. Estimated CTRs are reported with IPS, SNIPS and DR, each with a 95 %
bootstrap interval and the importance weights' effective sample size, next to

- the logged CTR of the random logs (what uniform random must evaluate to), and
- the logged CTR of the **Bernoulli TS** logs (``bts/<campaign>``): the on-policy truth for
  BTS, which is also evaluated off-policy from the random logs with the Beta prior ZOZOTOWN
  used at the start of data collection (the check of Saito et al., 2021). The production
  policy kept updating its posteriors during the week, so this truth is approximate.

Both Thompson-sampling rows evaluate ranking's serving class, `ThompsonPolicy`, over the 80
items as creatives: one with ZOZOTOWN's prior as its counts, one taught the first half's clicks
through its `update`; its `slate_probabilities` fill the 3 positions.

The sample is small: 10,000 rows with about 40 clicks, so ~20 clicks per half. Intervals are
wide (a deterministic policy over 80 items keeps about 1/80 of the rounds: ESS ~ 60), and no
policy learned from 20 clicks can be told apart from random here. The numbers show the
machinery working on real logs, not a policy ranking.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creativeloop.datasets.obd import DEFAULT_DATA_DIR, SOURCE, OBDLogs, load_bts_prior, load_obd
from creativeloop.evaluation.ope.estimators import Estimate, doubly_robust, ips, snips
from creativeloop.evaluation.ope.policies import (
    LogisticRewardModel,
    best_item_per_position,
    greedy_distribution,
    item_ids,
    learn_rounds,
    per_round,
    thompson_slate_distribution,
    uniform_distribution,
    vowpalwabbit_available,
    vw_cb_explore_adf_distribution,
)
from creativeloop.ranking.policies import ThompsonPolicy
from creativeloop.ranking.state import StatsBoard

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class OPERow:
    """One evaluation policy's estimated CTR on `rounds` logged rounds."""

    policy: str
    rounds: int
    ips: Estimate
    snips: Estimate
    dr: Estimate | None
    note: str = ""
    #: Clicks the effective sample holds at the logged CTR: ESS x mean logged reward.
    effective_clicks: float = 0.0


#: Below this many effective clicks a percentile bootstrap interval is not a 95 % interval (with
#: no matched click at all it collapses to [0, 0]); the table flags such rows.
FEW_CLICKS = 5.0


@dataclass(frozen=True)
class OBDReport:
    campaign: str
    seed: int
    n_boot: int
    train_rounds: int
    train_clicks: int
    eval_rounds: int
    eval_clicks: int
    #: Logged CTR of the uniform-random logs over all rounds (bootstrap CI of the mean).
    random_logged: Estimate
    #: Logged CTR of the uniform-random logs on the evaluation half.
    random_logged_eval: Estimate
    #: Logged CTR of the Bernoulli TS logs: BTS's on-policy truth.
    bts_logged: Estimate
    reward_model_l2: float
    rows: list[OPERow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def row(self, policy: str) -> OPERow:
        for row in self.rows:
            if row.policy == policy:
                return row
        raise KeyError(policy)

    def format(self) -> str:
        """A Markdown table (CTRs in %, 95 % intervals in brackets) with the context above it."""

        def pct(e: Estimate | None) -> str:
            return "-" if e is None else f"{100 * e.value:.3f} [{100 * e.low:.3f}, {100 * e.high:.3f}]"

        total = self.train_rounds + self.eval_rounds
        lines = [
            f"Off-policy evaluation on the {SOURCE}, campaign {self.campaign!r}",
            f"logs: uniform random, {total} rounds; learned policies and DR's reward model fit on the "
            f"first {self.train_rounds} ({self.train_clicks} clicks), evaluated on the last "
            f"{self.eval_rounds} ({self.eval_clicks} clicks) unless stated; 95 % bootstrap intervals "
            f"({self.n_boot} resamples, seed {self.seed}); reward model L2 = {self.reward_model_l2:g}",
            "",
            "| policy | rounds | IPS CTR % | SNIPS CTR % | DR CTR % | ESS | eff. clicks |",
            "|---|---:|---|---|---|---:|---:|",
        ]
        logged = (
            (f"logged CTR, uniform random (random/{self.campaign})", self.random_logged),
            ("logged CTR, uniform random, evaluation half", self.random_logged_eval),
            (f"logged CTR, Bernoulli TS (bts/{self.campaign}): on-policy truth", self.bts_logged),
        )
        for label, e in logged:
            clicks = round(e.value * e.effective_rounds)
            lines.append(f"| {label} | {e.effective_rounds:.0f} | {pct(e)} | | | | {clicks} |")
        flagged = False
        for row in self.rows:
            name = f"{row.policy} ({row.note})" if row.note else row.policy
            few = row.effective_clicks < FEW_CLICKS
            flagged |= few
            lines.append(
                f"| {name}{' †' if few else ''} | {row.rounds} | {pct(row.ips)} | {pct(row.snips)} "
                f"| {pct(row.dr)} | {row.ips.effective_rounds:.0f} | {row.effective_clicks:.1f} |"
            )
        if flagged:
            lines += [
                "",
                f"† fewer than {FEW_CLICKS:g} effective clicks (ESS x logged CTR): the bootstrap interval "
                "understates the uncertainty (with no matched click it collapses to [0, 0]).",
            ]
        if self.skipped:
            lines += ["", *(f"skipped: {reason}" for reason in self.skipped)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _logged(rewards: Floats, n_boot: int, seed: int) -> Estimate:
    ones = np.ones(len(rewards))
    e = ips(rewards, ones, ones, n_boot=n_boot, seed=seed)
    return Estimate("logged", e.value, e.low, e.high, float(len(rewards)))


def evaluate_policy(
    policy: str,
    logs: OBDLogs,
    dist: Floats,
    reward: Floats | None,
    *,
    n_boot: int = 500,
    seed: int = 0,
    note: str = "",
) -> OPERow:
    """IPS, SNIPS and (with `reward` = q(x_i, a) for every round and item) DR of `dist` on `logs`."""
    if dist.shape != (logs.n_rounds, logs.n_items):
        raise ValueError(f"dist has shape {dist.shape}, expected {(logs.n_rounds, logs.n_items)}")
    rows = np.arange(logs.n_rounds)
    target = np.clip(dist[rows, logs.item], 0.0, 1.0)
    options = {"n_boot": n_boot, "seed": seed}
    dr = None
    if reward is not None:
        dr = doubly_robust(
            logs.click,
            logs.propensity,
            target,
            reward[rows, logs.item],
            (dist * reward).sum(axis=1),
            **options,
        )
    ips_estimate = ips(logs.click, logs.propensity, target, **options)
    return OPERow(
        policy,
        logs.n_rounds,
        ips_estimate,
        snips(logs.click, logs.propensity, target, **options),
        dr,
        note,
        ips_estimate.effective_rounds * float(logs.click.mean()),
    )


def obd_report(
    data_dir: Path = DEFAULT_DATA_DIR,
    campaign: str = "all",
    *,
    seed: int = 0,
    n_boot: int = 500,
    n_sim: int = 100_000,
    train_fraction: float = 0.5,
    use_vw: bool | None = None,
) -> OBDReport:
    """Evaluate the policies listed in the module docstring on ``random/<campaign>``.

    `use_vw`: None = include Vowpal Wabbit when it is installed; False = leave it out; True =
    require it. Deterministic for a given `seed`.
    """
    started = time.monotonic()
    logs = load_obd(data_dir, "random", campaign)
    bts_logs = load_obd(data_dir, "bts", campaign)
    train, test = logs.split(train_fraction)
    n_positions = max(logs.n_positions, bts_logs.n_positions)
    model = LogisticRewardModel.fit(train, n_positions, seed=seed)
    q_test = model.predict(test)
    # Cross-fitted reward model for evaluating fixed policies on all rounds: each half's q comes
    # from a model fit on the other half.
    model_late = LogisticRewardModel.fit(test, n_positions, seed=seed)
    q_all = np.vstack([model_late.predict(train), q_test])

    rows: list[OPERow] = []
    skipped: list[str] = []

    def add(policy: str, on: OBDLogs, dist: Floats, q: Floats, note: str = "") -> None:
        rows.append(evaluate_policy(policy, on, dist, q, n_boot=n_boot, seed=seed, note=note))

    add("uniform random", test, uniform_distribution(test), q_test)
    alpha, beta = load_bts_prior(data_dir, campaign)
    if len(alpha) != logs.n_items:
        raise ValueError(f"the BTS prior has {len(alpha)} items, the logs {logs.n_items}")
    bts = thompson_slate_distribution(alpha, beta, n_positions, n_sim=n_sim, seed=seed)
    add("Bernoulli TS, ZOZOTOWN prior", test, per_round(bts, test.position), q_test)
    add(
        "Bernoulli TS, ZOZOTOWN prior",
        logs,
        per_round(bts, logs.position),
        q_all,
        note="all rounds, cross-fitted DR",
    )
    add(
        "best item per position",
        test,
        per_round(np.eye(logs.n_items)[best_item_per_position(train, n_positions)].T, test.position),
        q_test,
        note="smoothed CTR on the first half, greedy",
    )
    # Ranking's Thompson policy, Beta(1, 1) prior, taught the first half's rounds by `update`.
    learner = ThompsonPolicy(StatsBoard(), propensity_samples=n_sim, seed=seed)
    learn_rounds(learner, train)
    thompson = learner.slate_probabilities(item_ids(logs.n_items), n_positions)
    add(
        "Beta-Thompson on first-half clicks",
        test,
        per_round(thompson, test.position),
        q_test,
        note="Beta(1, 1) prior, top-3 slate, Monte Carlo",
    )
    add(
        "contextual logistic regression, greedy",
        test,
        greedy_distribution(model.logits(test)),
        q_test,
        note="user features + item + position + affinity",
    )
    want_vw = vowpalwabbit_available() if use_vw is None else use_vw
    if want_vw:
        for exploration, label in (("--epsilon 0.05", "epsilon-greedy 0.05"), ("--squarecb", "SquareCB")):
            dist = vw_cb_explore_adf_distribution(train, test, exploration, seed=seed)
            add("Vowpal Wabbit --cb_explore_adf", test, dist, q_test, note=label)
    elif use_vw is False:
        skipped.append("Vowpal Wabbit: left out (use_vw=False)")
    else:
        skipped.append(
            "Vowpal Wabbit: the vowpalwabbit package is not installed (pip install vowpalwabbit==9.11.9)"
        )

    return OBDReport(
        campaign=campaign,
        seed=seed,
        n_boot=n_boot,
        train_rounds=train.n_rounds,
        train_clicks=int(train.click.sum()),
        eval_rounds=test.n_rounds,
        eval_clicks=int(test.click.sum()),
        random_logged=_logged(logs.click, n_boot, seed),
        random_logged_eval=_logged(test.click, n_boot, seed),
        bts_logged=_logged(bts_logs.click, n_boot, seed),
        reward_model_l2=model.l2,
        rows=rows,
        skipped=skipped,
        seconds=time.monotonic() - started,
    )
