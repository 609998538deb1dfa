"""Off-policy evaluation on CreativeLoop's own logs: `Impression` (with propensity) + `Click`.

The ad server logs every impression with the creative shown, the probability that the serving
policy chose it (`propensity`) and the `policy_version`; clicks refer to their impression. That is
enough to estimate, before it serves any traffic, the CTR a *candidate* policy would get on the
same requests (IPS, SNIPS; DR with a per-creative CTR model).

`evaluate_logged_events` joins the events into rounds, learns what candidates need from the first
part of the logs (in logged order), and evaluates on the rest:

- **uniform random** over the product's creatives;
- **best observed CTR**: per product, the creative with the best smoothed CTR in the first part
  (greedy), and its epsilon-greedy version;
- **ranking's serving policies** (`serving`, any `creativeloop.ranking.policies.Policy`): each
  is taught the first part's rounds in logged order through its `update`, then frozen, and its
  `probabilities` give its action distribution on each evaluation round (computed once per
  candidate set and context for a policy that reads no user behaviour). `evaluate_demo` adds
  Thompson sampling on the first part's counts and LinTS over the demo's creatives;
- **oracle** (only with `truth`): the creative with the highest true click probability for the
  round's user - not deployable, but the hardest test of the estimators.

With `truth(user_id, creative_id)` = the true click probability (the demo's simulated users know
theirs), each candidate's exact expected CTR on the evaluation rounds is
mean_i sum_c pi(c | round i) truth(user_i, c), and the report says whether each estimator's 95 %
interval covers it. `evaluate_demo` does all this for a `creativeloop demo` result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from creativeloop.evaluation.ope.estimators import Estimate, doubly_robust, ips, snips
from creativeloop.evaluation.simulation import ClickModel
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import Policy, build_policy
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import common_pb2, events_pb2

Floats = NDArray[np.float64]
Truth = Callable[[str, str], float]


@dataclass(frozen=True)
class LoggedRound:
    """One impression and whether it was clicked."""

    impression_id: str
    user_id: str
    product_id: str
    creative_id: str
    propensity: float
    policy_version: str
    clicked: bool
    #: The request's context (placement, device...).
    context: dict[str, str] = field(default_factory=dict)

    def impression(self) -> events_pb2.Impression:
        """The logged impression again, as a policy's `update` takes it."""
        return events_pb2.Impression(
            impression_id=self.impression_id,
            user_id=self.user_id,
            product_id=self.product_id,
            creative_id=self.creative_id,
            propensity=self.propensity,
            policy_version=self.policy_version,
            context=self.context,
        )


@dataclass(frozen=True)
class JoinedLogs:
    rounds: list[LoggedRound]
    #: Impressions seen again with an id already logged (ignored).
    duplicate_impressions: int
    #: Clicks whose impression is not in the logs (ignored).
    orphan_clicks: int


def join_events(
    impressions: Iterable[events_pb2.Impression], clicks: Iterable[events_pb2.Click]
) -> JoinedLogs:
    """Rounds in logged order: the first impression of each id, clicked if any click names it."""
    clicked_ids = {c.impression_id for c in clicks}
    seen: set[str] = set()
    rounds: list[LoggedRound] = []
    duplicates = 0
    for imp in impressions:
        if imp.impression_id in seen:
            duplicates += 1
            continue
        seen.add(imp.impression_id)
        rounds.append(
            LoggedRound(
                imp.impression_id,
                imp.user_id,
                imp.product_id,
                imp.creative_id,
                float(imp.propensity),
                imp.policy_version,
                imp.impression_id in clicked_ids,
                dict(imp.context),
            )
        )
    return JoinedLogs(rounds, duplicates, len(clicked_ids - seen))


@dataclass(frozen=True)
class CandidateResult:
    policy: str
    rounds: int
    ips: Estimate
    snips: Estimate
    dr: Estimate
    #: Exact expected CTR of the candidate on the evaluation rounds (None without `truth`).
    truth: float | None = None
    #: Mean importance weight pi_e / pi_0 over the rounds: 1 in expectation when the logged
    #: propensities are right (a diagnostic; SNIPS divides by it).
    mean_weight: float = 1.0

    def covered(self, estimate: Estimate) -> bool | None:
        return None if self.truth is None else estimate.low <= self.truth <= estimate.high


@dataclass(frozen=True)
class OwnLogsReport:
    policy_versions: dict[str, int]
    train_rounds: int
    eval_rounds: int
    eval_clicks: int
    #: The logging policy's observed CTR on the evaluation rounds.
    logged_ctr: float
    duplicate_impressions: int
    orphan_clicks: int
    skipped_rounds: int
    results: list[CandidateResult] = field(default_factory=list)

    def result(self, policy: str) -> CandidateResult:
        for r in self.results:
            if r.policy == policy:
                return r
        raise KeyError(policy)

    def format(self) -> str:
        def pct(e: Estimate) -> str:
            return f"{100 * e.value:.2f} [{100 * e.low:.2f}, {100 * e.high:.2f}]"

        def mark(r: CandidateResult, e: Estimate) -> str:
            covered = r.covered(e)
            return "" if covered is None else (" ✓" if covered else " ✗")

        versions = ", ".join(f"{v} ({n})" for v, n in sorted(self.policy_versions.items()))
        lines = [
            f"Off-policy evaluation on the demo's own logs (logging policy: {versions})",
            f"first {self.train_rounds} impressions to learn from, last {self.eval_rounds} to evaluate on "
            f"({self.eval_clicks} clicks, logged CTR {100 * self.logged_ctr:.2f} %); "
            "95 % bootstrap intervals; ✓ / ✗: the interval covers / misses the exact expected CTR",
            "",
            "| candidate policy | true CTR % | IPS % | SNIPS % | DR % | ESS | mean weight |",
            "|---|---:|---|---|---|---:|---:|",
        ]
        for r in self.results:
            truth = "-" if r.truth is None else f"{100 * r.truth:.2f}"
            lines.append(
                f"| {r.policy} | {truth} | {pct(r.ips)}{mark(r, r.ips)} | {pct(r.snips)}{mark(r, r.snips)} "
                f"| {pct(r.dr)}{mark(r, r.dr)} | {r.ips.effective_rounds:.0f} | {r.mean_weight:.3f} |"
            )
        if self.duplicate_impressions or self.orphan_clicks or self.skipped_rounds:
            lines += [
                "",
                f"ignored: {self.duplicate_impressions} duplicate impressions, {self.orphan_clicks} clicks "
                f"without an impression, {self.skipped_rounds} rounds of products without candidates",
            ]
        return "\n".join(lines)


def smoothed_ctr(rounds: Sequence[LoggedRound], smoothing: float = 20.0) -> dict[str, float]:
    """Per creative: (clicks + m * its product's CTR) / (impressions + m), m = `smoothing`."""
    shows: dict[str, float] = {}
    wins: dict[str, float] = {}
    product_shows: dict[str, float] = {}
    product_wins: dict[str, float] = {}
    product_of: dict[str, str] = {}
    for r in rounds:
        shows[r.creative_id] = shows.get(r.creative_id, 0.0) + 1
        wins[r.creative_id] = wins.get(r.creative_id, 0.0) + r.clicked
        product_shows[r.product_id] = product_shows.get(r.product_id, 0.0) + 1
        product_wins[r.product_id] = product_wins.get(r.product_id, 0.0) + r.clicked
        product_of[r.creative_id] = r.product_id
    overall = sum(product_wins.values()) / max(1.0, sum(product_shows.values()))
    out = {}
    for cid, n in shows.items():
        p = product_of[cid]
        prior = (product_wins[p] + smoothing * overall) / (product_shows[p] + smoothing)
        out[cid] = (wins[cid] + smoothing * prior) / (n + smoothing)
    return out


def evaluate_logged_events(
    impressions: Iterable[events_pb2.Impression],
    clicks: Iterable[events_pb2.Click],
    candidates: Mapping[str, Sequence[str]],
    truth: Truth | None = None,
    *,
    serving: Mapping[str, Policy] | None = None,
    train_fraction: float = 0.5,
    epsilon: float = 0.1,
    n_boot: int = 500,
    seed: int = 0,
) -> OwnLogsReport:
    """Estimate candidate policies' CTR from the logs (see the module docstring).

    `candidates[product_id]` are the creative ids a request for that product chooses among (the
    logging policy's candidates); rounds of other products are skipped. `serving` names ranking
    policies to evaluate too: they learn from the first part here (through `update`), so pass
    fresh ones.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError("train_fraction must be in (0, 1)")
    joined = join_events(impressions, clicks)
    usable = [r for r in joined.rounds if candidates.get(r.product_id)]
    if len(usable) < 2:
        raise ValueError("need at least two logged impressions of products with candidates")
    cut = max(1, min(len(usable) - 1, round(len(usable) * train_fraction)))
    train, test = usable[:cut], usable[cut:]
    ctr = smoothed_ctr(train)
    default_ctr = sum(r.clicked for r in train) / len(train)

    ids = [list(candidates[r.product_id]) for r in test]
    q = [np.array([ctr.get(c, default_ctr) for c in cs]) for cs in ids]
    chosen = [cs.index(r.creative_id) if r.creative_id in cs else -1 for r, cs in zip(test, ids, strict=True)]
    true_p = (
        [np.array([truth(r.user_id, c) for c in cs]) for r, cs in zip(test, ids, strict=True)]
        if truth
        else None
    )

    def best_by_ctr(k: int) -> Floats:
        dist = np.zeros(len(ids[k]))
        dist[int(np.argmax(q[k]))] = 1.0
        return dist

    policies: dict[str, Callable[[int], Floats]] = {
        "uniform random": lambda k: np.full(len(ids[k]), 1.0 / len(ids[k])),
        "best observed CTR (greedy)": best_by_ctr,
        f"best observed CTR, epsilon-greedy {epsilon:g}": lambda k: (
            (1 - epsilon) * best_by_ctr(k) + epsilon / len(ids[k])
        ),
    }
    for name, serving_policy in (serving or {}).items():
        for r in train:
            serving_policy.update(r.impression(), r.clicked)
        policies[name] = _lookup(_distributions(serving_policy, test, ids))
    if true_p is not None:
        truths = true_p

        def oracle(k: int) -> Floats:
            dist = np.zeros(len(ids[k]))
            dist[int(np.argmax(truths[k]))] = 1.0
            return dist

        policies["oracle (best creative per user)"] = oracle

    rewards = np.array([float(r.clicked) for r in test])
    logging = np.array([r.propensity for r in test])
    if np.any(logging <= 0) or np.any(logging > 1):
        raise ValueError("logged propensities must lie in (0, 1]")
    results = []
    for name, policy in policies.items():
        dists = [policy(k) for k in range(len(test))]
        target = np.array([d[c] if c >= 0 else 0.0 for d, c in zip(dists, chosen, strict=True)])
        q_logged = np.array([qk[c] if c >= 0 else default_ctr for qk, c in zip(q, chosen, strict=True)])
        q_target = np.array([float(d @ qk) for d, qk in zip(dists, q, strict=True)])
        value = None
        if true_p is not None:
            value = float(np.mean([float(d @ tp) for d, tp in zip(dists, true_p, strict=True)]))
        options = {"n_boot": n_boot, "seed": seed}
        results.append(
            CandidateResult(
                name,
                len(test),
                ips(rewards, logging, target, **options),
                snips(rewards, logging, target, **options),
                doubly_robust(rewards, logging, target, q_logged, q_target, **options),
                value,
                float(np.mean(target / logging)),
            )
        )
    versions: dict[str, int] = {}
    for r in usable:
        versions[r.policy_version] = versions.get(r.policy_version, 0) + 1
    return OwnLogsReport(
        policy_versions=versions,
        train_rounds=len(train),
        eval_rounds=len(test),
        eval_clicks=int(rewards.sum()),
        logged_ctr=float(rewards.mean()),
        duplicate_impressions=joined.duplicate_impressions,
        orphan_clicks=joined.orphan_clicks,
        skipped_rounds=len(joined.rounds) - len(usable),
        results=results,
    )


def _distributions(policy: Policy, rounds: Sequence[LoggedRound], ids: Sequence[list[str]]) -> list[Floats]:
    """`policy`'s action distribution on each round, without learning in between.

    A policy that reads no user behaviour gives the same distribution for the same candidates
    and context, so it is computed once per (candidates, context).
    """
    cache: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Floats] = {}
    out = []
    for r, cs in zip(rounds, ids, strict=True):
        if policy.needs_behaviour:
            out.append(policy.probabilities(cs, r.user_id, r.context))
            continue
        key = (tuple(cs), tuple(sorted(r.context.items())))
        if key not in cache:
            cache[key] = policy.probabilities(cs, r.user_id, r.context)
        out.append(cache[key])
    return out


def _lookup(dists: list[Floats]) -> Callable[[int], Floats]:
    return lambda k: dists[k]


class DemoLogs(Protocol):
    """What OPE reads of a `creativeloop.demo.run.DemoResult` (the demo sits above evaluation)."""

    @property
    def impressions(self) -> list[events_pb2.Impression]: ...

    @property
    def clicks(self) -> list[events_pb2.Click]: ...

    @property
    def creatives_by_product(self) -> dict[str, list[common_pb2.Creative]]: ...

    def click_model(self) -> ClickModel: ...


def demo_serving_policies(
    creatives_by_product: Mapping[str, Sequence[common_pb2.Creative]], seed: int = 0
) -> dict[str, Policy]:
    """Ranking's policies, fresh, as `evaluate_logged_events` takes them for a demo's logs.

    Thompson sampling (its own counts) and LinTS (its own `FeatureStore`, which knows the demo's
    creatives), with the serving defaults and `seed`. The hybrid policy is left out: the demo
    result keeps no product profiles, and its model was trained on features that include them.
    """
    features = FeatureStore()
    for creatives in creatives_by_product.values():
        for creative in creatives:
            features.apply_creative(creative.creative_id, events_pb2.CreativeUpdated(creative=creative))
    return {
        "Thompson sampling (ranking's, first-part counts)": build_policy(
            RankingSettings(policy="thompson", seed=seed), StatsBoard()
        ),
        "LinTS (ranking's, learnt on the first part)": build_policy(
            RankingSettings(policy="lints", seed=seed), StatsBoard(), features
        ),
    }


def evaluate_demo(result: DemoLogs, **options: float) -> OwnLogsReport:
    """`evaluate_logged_events` on a demo run's logs, with its simulated users' true click rates.

    Evaluates ranking's serving policies too (`demo_serving_policies`).
    """
    model = result.click_model()
    by_id = {c.creative_id: c for cs in result.creatives_by_product.values() for c in cs}
    candidates = {p: [c.creative_id for c in cs] for p, cs in result.creatives_by_product.items()}

    def truth(user_id: str, creative_id: str) -> float:
        return model.click_probability(user_id, by_id[creative_id])

    seed = int(options.get("seed", 0))
    return evaluate_logged_events(
        result.impressions,
        result.clicks,
        candidates,
        truth,
        serving=demo_serving_policies(result.creatives_by_product, seed),
        train_fraction=float(options.get("train_fraction", 0.5)),
        epsilon=float(options.get("epsilon", 0.1)),
        n_boot=int(options.get("n_boot", 500)),
        seed=seed,
    )
