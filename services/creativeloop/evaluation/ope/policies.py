"""Evaluation policies and the reward model for off-policy evaluation on the Open Bandit Dataset.

Every policy is given as its *action distribution* on the rounds it is evaluated on: an array
``dist[i, a] = pi_e(a | x_i, position_i)``, rows summing to 1 (OBP's convention, one position at
a time). The estimators only need ``dist[i, a_i]`` (IPS, SNIPS) and, for DR, the reward model's
expectation under ``dist[i]``.

- `uniform_distribution`: every item with probability 1 / n_items.
- Beta-Bernoulli Thompson sampling is **ranking's serving class**, `ThompsonPolicy`, not a copy:
  item a is the creative id ``str(a)`` (`item_ids`), its counts sit on the policy's `StatsBoard`
  (learnt through `update`, `learn_rounds`), and its `slate_probabilities` fill `len_list`
  positions with the top draws, as ZOZOTOWN's Bernoulli TS did (and obp's ``BernoulliTS``
  computes): Monte Carlo over the policy's `propensity_samples` posterior draws, how often each
  item lands in each position. `thompson_slate_distribution` does this for given Beta posteriors.
- `best_item_per_position`: the item with the best smoothed CTR at each position (greedy).
- `LogisticRewardModel`: an additive L2-regularised logistic regression of click on user
  features, item (one-hot + item features), position and user-item affinity, fit by
  scikit-learn's `LogisticRegression` (Newton-Cholesky, intercept unpenalised) with the penalty
  chosen by cross-validated log loss. It is DR's reward model and, as greedy or softmax over its
  predictions, a contextual policy.
- `vw_cb_explore_adf_distribution`: Vowpal Wabbit's ``--cb_explore_adf`` trained on logged
  rounds, then asked for its probability mass function on each evaluation round (optional:
  needs ``vowpalwabbit``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from creativeloop.datasets.obd import OBDLogs
from creativeloop.ranking.policies import Policy, ThompsonPolicy
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import events_pb2

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def per_round(dist_by_position: Floats, position: Ints) -> Floats:
    """Rows of a context-free (n_items, n_positions) distribution for each round's position."""
    return np.ascontiguousarray(dist_by_position[:, position].T)


def uniform_distribution(logs: OBDLogs) -> Floats:
    return np.full((logs.n_rounds, logs.n_items), 1.0 / logs.n_items)


def item_ids(n_items: int) -> list[str]:
    """The creative ids OBD's items have for a ranking policy: item a is ``str(a)``."""
    return [str(a) for a in range(n_items)]


def learn_rounds(policy: Policy, logs: OBDLogs) -> None:
    """Teach `policy` every round of `logs`, in time order, through its `update`."""
    for i in range(logs.n_rounds):
        impression = events_pb2.Impression(impression_id=f"obd-{i}", creative_id=str(int(logs.item[i])))
        policy.update(impression, bool(logs.click[i]))


def thompson_slate_distribution(
    alpha: Floats, beta: Floats, len_list: int, n_sim: int = 100_000, seed: int = 0
) -> Floats:
    """P(item a is shown at position k) under ranking's `ThompsonPolicy` with Beta(`alpha`, `beta`).

    A Beta(alpha_a, beta_a) posterior is the policy's prior Beta(a0, b0) after alpha_a - a0
    clicks in alpha_a + beta_a - a0 - b0 impressions (a0 = min(1, min alpha), b0 likewise; with
    every parameter at least 1, as ZOZOTOWN's prior, the posterior is exactly alpha, beta). The
    policy draws `n_sim` slates and shows the items with the highest draws, best first. Returns
    shape (n_items, len_list); columns sum to 1.

    >>> dist = thompson_slate_distribution(np.array([50.0, 1.0, 1.0]), np.array([50.0, 99.0, 99.0]), 2, 2000)
    >>> float(dist[0, 0]), dist.sum(axis=0).tolist()
    (1.0, [1.0, 1.0])
    """
    if len(beta) != len(alpha):
        raise ValueError("alpha and beta need one entry per item, and 1 <= len_list <= n_items")
    prior_alpha = min(1.0, float(np.min(alpha))) if len(alpha) else 1.0
    prior_beta = min(1.0, float(np.min(beta))) if len(beta) else 1.0
    board = StatsBoard()
    for a, creative_id in enumerate(item_ids(len(alpha))):
        board.apply(
            creative_id,
            events_pb2.BanditStats(
                creative_id=creative_id,
                impressions=float(alpha[a] + beta[a] - prior_alpha - prior_beta),
                clicks=float(alpha[a] - prior_alpha),
            ),
        )
    policy = ThompsonPolicy(board, prior_alpha, prior_beta, propensity_samples=n_sim, seed=seed)
    return policy.slate_probabilities(item_ids(len(alpha)), len_list)


def click_counts(logs: OBDLogs) -> tuple[Floats, Floats]:
    """(impressions, clicks) per item over all positions."""
    shows = np.bincount(logs.item, minlength=logs.n_items).astype(np.float64)
    wins = np.bincount(logs.item, weights=logs.click, minlength=logs.n_items).astype(np.float64)
    return shows, wins


def best_item_per_position(logs: OBDLogs, n_positions: int, smoothing: float = 50.0) -> Ints:
    """The item with the highest smoothed CTR at each position (0-based), learned from `logs`.

    CTR(a, k) = (clicks(a, k) + m CTR(a)) / (impressions(a, k) + m), shrunk towards the item's
    CTR over all positions, itself (clicks(a) + m CTR) / (impressions(a) + m) shrunk towards the
    overall CTR, with m = `smoothing`. Ties go to the smallest item id.
    """
    m = smoothing
    shows, wins = click_counts(logs)
    item_ctr = (wins + m * logs.ctr) / (shows + m)
    best = np.zeros(n_positions, dtype=np.int64)
    for k in range(n_positions):
        at = logs.position == k
        shows_k = np.bincount(logs.item[at], minlength=logs.n_items)
        wins_k = np.bincount(logs.item[at], weights=logs.click[at], minlength=logs.n_items)
        best[k] = int(np.argmax((wins_k + m * item_ctr) / (shows_k + m)))
    return best


def greedy_distribution(scores: Floats) -> Floats:
    """Deterministic argmax of each row (ties: the smallest index)."""
    dist = np.zeros_like(scores)
    dist[np.arange(len(scores)), np.argmax(scores, axis=1)] = 1.0
    return dist


def softmax_distribution(logits: Floats, temperature: float) -> Floats:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: Floats = e / e.sum(axis=1, keepdims=True)
    return result


# --------------------------------------------------------------------------- reward model


def _fit_logistic(x: Floats, y: Floats, l2: float) -> tuple[float, Floats]:
    """L2-penalised logistic regression, intercept not penalised: (intercept, weights).

    scikit-learn minimises 0.5 ||w||² + C Σ log loss, so C = 1 / `l2` gives the objective
    Σ log loss + `l2` / 2 ||w||²; Newton-Cholesky, as the Newton iterations this replaced. With
    one class only the fit is the constant log-odds of the (clipped) mean.
    """
    if np.unique(y).size < 2:
        mean = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        return float(np.log(mean / (1 - mean))), np.zeros(x.shape[1])
    model = LogisticRegression(C=1.0 / l2, solver="newton-cholesky", tol=1e-8, max_iter=100)
    model.fit(x, y)
    return float(model.intercept_[0]), np.asarray(model.coef_[0], dtype=np.float64)


@dataclass(frozen=True)
class LogisticRewardModel:
    """Additive logistic CTR model q(x, a, k) over OBD rounds (see the module docstring).

    logit q = b + user(x) + item(a) + position(k) + gamma * affinity(x, a), with
    item(a) = one-hot(a) + item_feature_0(a) + one-hots of item_feature_1..3(a).
    """

    intercept: float
    user: Floats
    item: Floats
    position: Floats
    affinity: float
    l2: float

    @staticmethod
    def _design(logs: OBDLogs, n_positions: int) -> Floats:
        items = logs.items
        blocks = [
            logs.user_one_hot(),
            np.eye(logs.n_items)[logs.item],
            np.eye(n_positions)[logs.position],
            logs.affinity[np.arange(logs.n_rounds), logs.item][:, None],
            items.numeric[logs.item][:, None],
        ]
        blocks += [
            np.eye(levels)[items.categories[logs.item, k]] for k, levels in enumerate(items.category_levels)
        ]
        return np.hstack(blocks)

    @classmethod
    def fit(
        cls,
        logs: OBDLogs,
        n_positions: int,
        l2_grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0),
        folds: int = 5,
        seed: int = 0,
    ) -> LogisticRewardModel:
        """Fit on `logs`, choosing the L2 penalty by `folds`-fold cross-validated log loss."""
        x = cls._design(logs, n_positions)
        y = logs.click
        fold = np.random.default_rng(seed).permutation(len(y)) % folds
        best_l2, best_loss = l2_grid[0], np.inf
        for l2 in l2_grid:
            loss = 0.0
            for f in range(folds):
                train, test = fold != f, fold == f
                b, w = _fit_logistic(x[train], y[train], l2)
                p = np.clip(expit(b + x[test] @ w), 1e-9, 1 - 1e-9)
                loss -= float(np.sum(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p)))
            if loss < best_loss:
                best_l2, best_loss = l2, loss
        b, w = _fit_logistic(x, y, best_l2)
        sizes = [sum(logs.user_levels), logs.n_items, n_positions, 1, 1, *logs.items.category_levels]
        parts = np.split(w, np.cumsum(sizes)[:-1])
        item = parts[1] + parts[4][0] * logs.items.numeric
        for k in range(len(logs.items.category_levels)):
            item = item + parts[5 + k][logs.items.categories[:, k]]
        return cls(b, parts[0], item, parts[2], float(parts[3][0]), best_l2)

    def logits(self, logs: OBDLogs) -> Floats:
        """logit q(x_i, a, k_i) for every round i of `logs` and every item a: (n_rounds, n_items)."""
        base = self.intercept + logs.user_one_hot() @ self.user + self.position[logs.position]
        result: Floats = base[:, None] + self.item[None, :] + self.affinity * logs.affinity
        return result

    def predict(self, logs: OBDLogs) -> Floats:
        """q(x_i, a, k_i): predicted click probability of every item in every round."""
        result: Floats = expit(self.logits(logs))
        return result


# --------------------------------------------------------------------------- Vowpal Wabbit


def vowpalwabbit_available() -> bool:
    return importlib.util.find_spec("vowpalwabbit") is not None


def _vw_shared(logs: OBDLogs, i: int) -> str:
    users = " ".join(f"u{j}={int(c)}" for j, c in enumerate(logs.user_features[i]))
    return f"shared |U {users} |P p={int(logs.position[i])}"


def _vw_actions(logs: OBDLogs) -> list[str]:
    items = logs.items
    return [
        f"|A i={a} num:{items.numeric[a]:.6f} "
        + " ".join(f"c{k}={int(c)}" for k, c in enumerate(items.categories[a]))
        for a in range(logs.n_items)
    ]


def _vw_example(logs: OBDLogs, i: int, actions: list[str], label: bool) -> list[str]:
    lines = [_vw_shared(logs, i)]
    affinity = logs.affinity[i]
    for a, text in enumerate(actions):
        line = text + (f" |F aff:{affinity[a]:.6f}" if affinity[a] else "")
        if label and a == logs.item[i]:
            # Cost = -click (VW minimises cost); probability = the logging propensity.
            line = f"0:{-logs.click[i]:g}:{logs.propensity[i]:.6g} {line}"
        lines.append(line)
    return lines


def vw_cb_explore_adf_distribution(
    train: OBDLogs, evaluate: OBDLogs, exploration: str = "--epsilon 0.05", seed: int = 0
) -> Floats:
    """Train VW ``--cb_explore_adf`` on `train` (one pass), return its PMF on every `evaluate` round.

    Shared features: the user features (namespace U) and the position (P); action features:
    item id, item features (A) and the user-item affinity (F); interactions U x A and P x A.
    `exploration` is VW's exploration option (e.g. ``--epsilon 0.05``, ``--squarecb``,
    ``--softmax --lambda 10``). Requires ``vowpalwabbit`` (pinned: 9.11.9).
    """
    # Imported here, not at module level: vowpalwabbit is optional (the `quality` and `dev`
    # extras), and the report runs without it (`vowpalwabbit_available`).
    from vowpalwabbit import Workspace

    args = f"--cb_explore_adf -q UA -q PA {exploration} --random_seed {seed} --quiet"
    workspace = Workspace(args)
    try:
        actions = _vw_actions(train)
        for i in range(train.n_rounds):
            workspace.learn(_vw_example(train, i, actions, label=True))
        dist = np.zeros((evaluate.n_rounds, evaluate.n_items))
        for i in range(evaluate.n_rounds):
            pmf = workspace.predict(_vw_example(evaluate, i, actions, label=False))
            dist[i] = np.asarray(pmf, dtype=np.float64)
    finally:
        workspace.finish()
    dist /= dist.sum(axis=1, keepdims=True)
    return dist
