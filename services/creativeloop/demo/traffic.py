"""Simulated users for the demo: hidden click preferences, ad requests through Rank, logged events.

`ClickModel` is the ground truth the serving policy never sees. Every user belongs to one of a
few segments; a segment has hidden preferences over a creative's features (its `template_id`,
its `format` and each of its `attributes`, e.g. ``background=navy``, ``layout=left``), and
every creative and product has a hidden base appeal::

    P(click | user, creative) = sigmoid(intercept + appeal[product] + appeal[creative]
                                        + pref[segment] . features(creative) / sqrt(#features))

Preferences and appeals are standard normals scaled by the model's settings, drawn from a hash
of (seed, name), so they need no vocabulary up front, do not depend on the order in which
creatives are seen, and are the same in every process. With the defaults (measured over seeds
0-9 on 30 products x 4 image creatives with two templates) the average creative gets 3.5-8 %
CTR, 90 % of (user, creative) pairs lie between ~1 % and ~12-25 %, and a product's best creative
gets 1.5-1.8x its average creative: a bandit finds it within a few thousand impressions.

`TrafficSimulator` drives requests through an injected `rank` callable (a gRPC stub call in the
demo, a fake in tests), logs an `Impression` for every answer and a `Click` when the hidden
model says so, and reports the policy's CTR next to what uniform random, the best fixed creative
per product and a per-user oracle would have got on the very same requests, the cumulative
(expected) regret against the oracle and the best fixed creative, and `plot_traffic` draws both.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from creativeloop.kit.timeutil import now_timestamp
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE

RankFn = Callable[[ranking_pb2.RankRequest], Awaitable[ranking_pb2.RankResponse]]
LogImpressionFn = Callable[[events_pb2.Impression], Awaitable[None]]
LogClickFn = Callable[[events_pb2.Click], Awaitable[None]]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _hash_int(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def creative_features(
    creative: common_pb2.Creative, attribute_keys: Sequence[str] | None = None
) -> list[str]:
    """The features users react to: ``template=...``, ``format=...`` and ``<attribute>=<value>``.

    `attribute_keys` limits the attributes (None: all of them).
    """
    features = [f"format={common_pb2.CreativeFormat.Name(creative.format)}"]
    if creative.template_id:
        features.append(f"template={creative.template_id}")
    for key in sorted(creative.attributes):
        if attribute_keys is None or key in attribute_keys:
            features.append(f"{key}={creative.attributes[key]}")
    return features


class ClickModel:
    """Hidden click probabilities of simulated users (deterministic from `seed`).

    `base_ctr` is the CTR of a neutral creative (all effects zero); `preference_scale`,
    `creative_appeal` and `product_appeal` are the standard deviations, in logits, of the
    segment preferences (after normalising by the number of features), the per-creative and
    the per-product appeal.
    """

    def __init__(
        self,
        seed: int = 0,
        n_segments: int = 4,
        base_ctr: float = 0.045,
        preference_scale: float = 0.7,
        creative_appeal: float = 0.55,
        product_appeal: float = 0.2,
        attribute_keys: Sequence[str] | None = None,
    ) -> None:
        if n_segments < 1:
            raise ValueError("n_segments must be at least 1")
        if not 0.0 < base_ctr < 1.0:
            raise ValueError("base_ctr must be in (0, 1)")
        self.seed = seed
        self.n_segments = n_segments
        self.intercept = _logit(base_ctr)
        self.preference_scale = preference_scale
        self.creative_appeal = creative_appeal
        self.product_appeal = product_appeal
        self.attribute_keys = tuple(attribute_keys) if attribute_keys is not None else None
        self._normals: dict[tuple[str, ...], float] = {}
        self._rng = np.random.default_rng(seed)

    def _normal(self, *parts: str) -> float:
        """A standard normal fixed by (seed, parts): the same everywhere, whatever the call order."""
        value = self._normals.get(parts)
        if value is None:
            value = float(np.random.default_rng(_hash_int(self.seed, *parts)).standard_normal())
            self._normals[parts] = value
        return value

    def segment(self, user_id: str) -> int:
        """The user's hidden segment, 0 .. n_segments - 1."""
        return _hash_int(self.seed, "segment", user_id) % self.n_segments

    def preference(self, segment: int, feature: str) -> float:
        """How much `segment` likes `feature`, in logits (before normalisation)."""
        return self.preference_scale * self._normal("pref", str(segment), feature)

    def logit(self, user_id: str, creative: common_pb2.Creative) -> float:
        features = creative_features(creative, self.attribute_keys)
        segment = self.segment(user_id)
        taste = sum(self.preference(segment, f) for f in features) / math.sqrt(len(features))
        return (
            self.intercept
            + self.product_appeal * self._normal("product", creative.product_id)
            + self.creative_appeal * self._normal("creative", creative.creative_id)
            + taste
        )

    def click_probability(self, user_id: str, creative: common_pb2.Creative) -> float:
        """The true probability that `user_id` clicks `creative` when shown it."""
        return _sigmoid(self.logit(user_id, creative))

    def sample_click(
        self, user_id: str, creative: common_pb2.Creative, rng: np.random.Generator | None = None
    ) -> bool:
        """Draw one click outcome (from `rng`, else from the model's own seeded generator)."""
        generator = rng if rng is not None else self._rng
        return bool(generator.random() < self.click_probability(user_id, creative))


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class TrafficWindow:
    """One slice of the run, in request order."""

    first_request: int
    requests: int
    impressions: int
    clicks: int
    policy_ctr: float
    policy_expected_ctr: float
    random_expected_ctr: float
    oracle_expected_ctr: float
    best_fixed_expected_ctr: float = 0.0


@dataclass(frozen=True)
class RegretPoint:
    """Cumulative expected regret after the first `requests` served requests (plan order).

    Regret is in expected clicks: the sum over requests of the baseline's true click
    probability minus that of the creative shown (pseudo-regret; no click noise).
    """

    requests: int
    policy_vs_oracle: float
    policy_vs_best_fixed: float
    random_vs_oracle: float
    random_vs_best_fixed: float


def cumulative_regret(
    baseline: npt.NDArray[np.float64], achieved: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Running sum of ``baseline[i] - achieved[i]``: the expected clicks lost after i + 1 requests.

    >>> cumulative_regret(np.array([0.5, 0.5, 0.2]), np.array([0.1, 0.5, 0.3])).round(2).tolist()
    [0.4, 0.4, 0.3]
    """
    if baseline.shape != achieved.shape:
        raise ValueError("baseline and achieved need the same shape")
    return np.cumsum(baseline - achieved)


def best_fixed_creatives(
    product_ids: Sequence[str], candidates: Sequence[Mapping[str, float]]
) -> dict[str, str]:
    """Per product, the creative with the highest mean true click probability over its requests.

    `candidates[i]` maps each candidate of request i (of product `product_ids[i]`) to the
    request's user's true click probability. This is the best any policy that ignores the user
    can do, in hindsight; ties go to the smallest creative id.

    >>> best_fixed_creatives(["p", "p"], [{"a": 0.1, "b": 0.3}, {"a": 0.4, "b": 0.1}])
    {'p': 'a'}
    """
    sums: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for product_id, probabilities in zip(product_ids, candidates, strict=True):
        totals = sums.setdefault(product_id, {})
        for creative_id, p in probabilities.items():
            totals[creative_id] = totals.get(creative_id, 0.0) + p
        counts[product_id] = counts.get(product_id, 0) + 1
    return {
        product_id: max(sorted(totals), key=lambda cid: totals[cid] / counts[product_id])
        for product_id, totals in sums.items()
    }


def _curve_points(n: int, points: int) -> list[int]:
    """Up to `points` request counts spread evenly over 1..n, always ending at n."""
    if n <= 0:
        return []
    return sorted({round(float(x)) for x in np.linspace(0, n, max(1, points) + 1)[1:]} - {0})


@dataclass(frozen=True)
class TrafficReport:
    """What the policy got, next to baselines on the same requests (same users and products).

    *Expected* CTRs average the true click probabilities, so they carry no click noise:
    `policy_expected_ctr` uses the creatives the policy chose, `random_expected_ctr` the mean
    over each request's candidates (uniform random), `best_fixed_expected_ctr` the single
    creative per product with the highest mean over that product's requests (the best any
    policy that ignores the user can do), `oracle_expected_ctr` the best creative for each
    request's user. `policy_ctr` is observed clicks / impressions, with standard error
    `policy_ctr_stderr` around `policy_expected_ctr`.

    Cumulative regret, in expected clicks over all served requests: `regret_vs_oracle` (the
    oracle's true probability minus the chosen creative's, summed), `regret_vs_best_fixed` (the
    same against the best fixed creative per product; it can be negative, since a policy that
    uses the user can beat it), and uniform random's `random_regret_vs_oracle` for scale.
    `regret_curve` samples them over the run and `ctr_curve` holds finer windows than
    `windows`, for `plot_traffic`.
    """

    requests: int
    impressions: int
    clicks: int
    failures: int
    users: int
    segments: int
    policy_ctr: float
    policy_ctr_stderr: float
    policy_expected_ctr: float
    random_expected_ctr: float
    best_fixed_expected_ctr: float
    oracle_expected_ctr: float
    mean_candidates: float
    mean_propensity: float
    policy_versions: dict[str, int]
    windows: list[TrafficWindow] = field(default_factory=list)
    regret_vs_oracle: float = 0.0
    regret_vs_best_fixed: float = 0.0
    random_regret_vs_oracle: float = 0.0
    regret_curve: list[RegretPoint] = field(default_factory=list)
    ctr_curve: list[TrafficWindow] = field(default_factory=list)

    @property
    def lift_vs_random_pct(self) -> float:
        """Expected CTR of the policy's choices over uniform random's, in % (0 = no better)."""
        return _lift(self.policy_expected_ctr, self.random_expected_ctr)

    @property
    def observed_lift_vs_random_pct(self) -> float:
        return _lift(self.policy_ctr, self.random_expected_ctr)

    @property
    def fraction_of_oracle(self) -> float:
        """Policy expected CTR / oracle expected CTR."""
        return self.policy_expected_ctr / self.oracle_expected_ctr if self.oracle_expected_ctr else 0.0

    @property
    def fraction_of_best_fixed(self) -> float:
        best = self.best_fixed_expected_ctr
        return self.policy_expected_ctr / best if best else 0.0

    def format_summary(self) -> str:
        """A readable text table: the run, the CTRs against the baselines, CTR over time."""
        pct = 100.0
        lines = [
            f"Simulated traffic: {self.requests} requests, {self.impressions} impressions, "
            f"{self.clicks} clicks, {self.failures} failed",
            f"{self.users} users in {self.segments} hidden segments; "
            f"{self.mean_candidates:.1f} candidate creatives per request; "
            f"policy {', '.join(f'{v} ({n})' for v, n in sorted(self.policy_versions.items())) or '-'}",
            "",
            f"{'':34}{'CTR':>9}{'vs random':>12}",
            f"{'policy, observed':34}{self.policy_ctr * pct:8.2f}%{self.observed_lift_vs_random_pct:+11.1f}%"
            f"   (± {self.policy_ctr_stderr * pct:.2f} s.e.)",
            f"{'policy, expected':34}{self.policy_expected_ctr * pct:8.2f}%{self.lift_vs_random_pct:+11.1f}%",
            f"{'uniform random, expected':34}{self.random_expected_ctr * pct:8.2f}%{0.0:+11.1f}%",
            f"{'best fixed creative per product':34}{self.best_fixed_expected_ctr * pct:8.2f}%"
            f"{_lift(self.best_fixed_expected_ctr, self.random_expected_ctr):+11.1f}%",
            f"{'oracle (best creative per user)':34}{self.oracle_expected_ctr * pct:8.2f}%"
            f"{_lift(self.oracle_expected_ctr, self.random_expected_ctr):+11.1f}%",
            f"policy reaches {self.fraction_of_oracle * pct:.1f}% of the oracle and "
            f"{self.fraction_of_best_fixed * pct:.1f}% of the best fixed creative; "
            f"mean logged propensity {self.mean_propensity:.3f}",
            f"cumulative regret (expected clicks lost): {self.regret_vs_oracle:.1f} vs the oracle, "
            f"{self.regret_vs_best_fixed:.1f} vs the best fixed creative "
            f"(uniform random: {self.random_regret_vs_oracle:.1f} vs the oracle)",
        ]
        if self.windows:
            lines += [
                "",
                "CTR over time (expected, %; observed in brackets)",
                f"{'requests':>13}{'policy':>16}{'random':>9}{'oracle':>9}  policy vs random",
            ]
            for w in self.windows:
                span = f"{w.first_request + 1}-{w.first_request + w.requests}"
                lift = _lift(w.policy_expected_ctr, w.random_expected_ctr)
                bar = "#" * max(0, min(40, round(lift / 2.5))) if lift > 0 else ""
                lines.append(
                    f"{span:>13}{w.policy_expected_ctr * pct:7.2f} ({w.policy_ctr * pct:5.2f})"
                    f"{w.random_expected_ctr * pct:9.2f}{w.oracle_expected_ctr * pct:9.2f}"
                    f"  {lift:+6.1f}% {bar}"
                )
        return "\n".join(lines)


def _lift(value: float, baseline: float) -> float:
    return 100.0 * (value / baseline - 1.0) if baseline else 0.0


# --------------------------------------------------------------------------- simulator


@dataclass(frozen=True)
class _Planned:
    index: int
    user_id: str
    product_id: str
    uniform: float
    context: dict[str, str]


@dataclass
class _Outcome:
    product_id: str
    chosen: float
    candidates: dict[str, float]
    clicked: bool
    propensity: float
    policy_version: str
    user_id: str


class TrafficSimulator:
    """Sends simulated ad requests through `rank` and logs what users see and click.

    Per request: a user (uniform over `n_users`) and a product that has creatives (uniform);
    ``rank(RankRequest(user_id, product_id, format=IMAGE, context))``; then an `Impression`
    (id, propensity and policy version from the response) through `log_impression`, and, when
    the hidden `click_model` says so, a `Click` through `log_click` (always after its impression
    is logged). Users, products and the click draws are planned up front from `seed`, so runs
    with the same seed face the same requests and the same luck whatever the concurrency, and
    two policies can be compared on identical traffic.

    The candidates a request is judged against are ``creatives_by_product[product]``; a creative
    the policy returns that is not among them is still scored by the click model. A request
    whose rank or logging raises counts as failed; more than `max_failures` failures stop the run
    and re-raise the last error. `curve_points` is how many points the report's regret and CTR
    curves have (for plots).
    """

    def __init__(
        self,
        rank: RankFn,
        log_impression: LogImpressionFn,
        log_click: LogClickFn,
        creatives_by_product: Mapping[str, Sequence[common_pb2.Creative]],
        click_model: ClickModel,
        n_users: int = 2000,
        seed: int = 0,
        n_windows: int = 10,
        max_failures: int = 0,
        placement: str = "demo-feed",
        curve_points: int = 100,
    ) -> None:
        self._rank = rank
        self._log_impression = log_impression
        self._log_click = log_click
        self._creatives = {p: list(cs) for p, cs in sorted(creatives_by_product.items()) if cs}
        if not self._creatives:
            raise ValueError("no product has creatives")
        if n_users < 1:
            raise ValueError("n_users must be at least 1")
        self._model = click_model
        self._n_users = n_users
        self._seed = seed
        self._n_windows = max(1, n_windows)
        self._max_failures = max_failures
        self._placement = placement
        self._curve_points = max(1, curve_points)

    def _plan(self, n_requests: int) -> list[_Planned]:
        rng = np.random.default_rng(self._seed)
        products = list(self._creatives)
        users = rng.integers(0, self._n_users, size=n_requests)
        picks = rng.integers(0, len(products), size=n_requests)
        uniforms = rng.random(size=n_requests)
        plan = []
        for i in range(n_requests):
            user_id = f"user-{int(users[i]):05d}"
            device = "mobile" if _hash_int(self._seed, "device", user_id) % 10 < 7 else "desktop"
            plan.append(
                _Planned(
                    i,
                    user_id,
                    products[int(picks[i])],
                    float(uniforms[i]),
                    {"placement": self._placement, "device": device},
                )
            )
        return plan

    async def _one(self, planned: _Planned) -> _Outcome:
        request = ranking_pb2.RankRequest(
            user_id=planned.user_id, product_id=planned.product_id, format=IMAGE, context=planned.context
        )
        response = await self._rank(request)
        known = {c.creative_id: c for c in self._creatives[planned.product_id]}
        chosen = known.get(response.creative.creative_id, response.creative)
        candidates = {cid: self._model.click_probability(planned.user_id, c) for cid, c in known.items()}
        p_chosen = candidates.get(chosen.creative_id)
        if p_chosen is None:
            p_chosen = self._model.click_probability(planned.user_id, chosen)
        impression = events_pb2.Impression(
            impression_id=response.impression_id or uuid.uuid4().hex,
            user_id=planned.user_id,
            product_id=planned.product_id,
            creative_id=chosen.creative_id,
            propensity=response.propensity,
            policy_version=response.policy_version,
            shown_at=now_timestamp(),
            context=planned.context,
            # Apprentice mode: the shadow policy's probability of this creative, for `ope gate`.
            apprentice=response.apprentice if response.HasField("apprentice") else None,
        )
        await self._log_impression(impression)
        clicked = planned.uniform < p_chosen
        if clicked:
            await self._log_click(
                events_pb2.Click(
                    impression_id=impression.impression_id,
                    user_id=planned.user_id,
                    creative_id=chosen.creative_id,
                    clicked_at=now_timestamp(),
                )
            )
        return _Outcome(
            planned.product_id,
            p_chosen,
            candidates,
            clicked,
            response.propensity,
            response.policy_version,
            planned.user_id,
        )

    async def run(self, n_requests: int, concurrency: int = 16) -> TrafficReport:
        """Send `n_requests` requests, at most `concurrency` in flight, and report."""
        if n_requests < 1:
            raise ValueError("n_requests must be at least 1")
        plan = self._plan(n_requests)
        outcomes: list[_Outcome | None] = [None] * n_requests
        failures = 0
        queue: Iterator[_Planned] = iter(plan)

        async def worker() -> None:
            nonlocal failures
            for planned in queue:
                try:
                    outcomes[planned.index] = await self._one(planned)
                except Exception:
                    failures += 1
                    if failures > self._max_failures:
                        raise

        tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, n_requests)))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
        return self._report(n_requests, outcomes, failures)

    def _report(self, n_requests: int, outcomes: list[_Outcome | None], failures: int) -> TrafficReport:
        served = [o for o in outcomes if o is not None]
        n = len(served)
        chosen = np.array([o.chosen for o in served])
        clicked = np.array([o.clicked for o in served], dtype=np.float64)
        random_p = np.array([np.mean(list(o.candidates.values())) for o in served])
        oracle_p = np.array([max(o.candidates.values()) for o in served])
        # Best fixed creative per product: highest mean true probability over that product's requests.
        best = best_fixed_creatives([o.product_id for o in served], [o.candidates for o in served])
        best_p = np.array([o.candidates[best[o.product_id]] for o in served])

        def mean(values: npt.NDArray[np.float64]) -> float:
            return float(values.mean()) if values.size else 0.0

        def windows_of(count: int) -> list[TrafficWindow]:
            out = []
            bounds = np.linspace(0, n, count + 1).round().astype(int) if n else np.array([0])
            for lo, hi in itertools.pairwise(bounds):
                if hi <= lo:
                    continue
                out.append(
                    TrafficWindow(
                        first_request=int(lo),
                        requests=int(hi - lo),
                        impressions=int(hi - lo),
                        clicks=int(clicked[lo:hi].sum()),
                        policy_ctr=mean(clicked[lo:hi]),
                        policy_expected_ctr=mean(chosen[lo:hi]),
                        random_expected_ctr=mean(random_p[lo:hi]),
                        oracle_expected_ctr=mean(oracle_p[lo:hi]),
                        best_fixed_expected_ctr=mean(best_p[lo:hi]),
                    )
                )
            return out

        regret = {
            "policy_vs_oracle": cumulative_regret(oracle_p, chosen),
            "policy_vs_best_fixed": cumulative_regret(best_p, chosen),
            "random_vs_oracle": cumulative_regret(oracle_p, random_p),
            "random_vs_best_fixed": cumulative_regret(best_p, random_p),
        }
        curve = [
            RegretPoint(requests=k, **{name: float(values[k - 1]) for name, values in regret.items()})
            for k in _curve_points(n, self._curve_points)
        ]
        final = curve[-1] if curve else RegretPoint(0, 0.0, 0.0, 0.0, 0.0)
        return TrafficReport(
            requests=n_requests,
            impressions=n,
            clicks=int(clicked.sum()),
            failures=failures,
            users=len({o.user_id for o in served}),
            segments=self._model.n_segments,
            policy_ctr=mean(clicked),
            policy_ctr_stderr=math.sqrt(float(np.sum(chosen * (1 - chosen)))) / n if n else 0.0,
            policy_expected_ctr=mean(chosen),
            random_expected_ctr=mean(random_p),
            best_fixed_expected_ctr=mean(best_p),
            oracle_expected_ctr=mean(oracle_p),
            mean_candidates=mean(np.array([len(o.candidates) for o in served], dtype=np.float64)),
            mean_propensity=mean(np.array([o.propensity for o in served])),
            policy_versions=dict(Counter(o.policy_version for o in served)),
            windows=windows_of(self._n_windows),
            regret_vs_oracle=final.policy_vs_oracle,
            regret_vs_best_fixed=final.policy_vs_best_fixed,
            random_regret_vs_oracle=final.random_vs_oracle,
            regret_curve=curve,
            ctr_curve=windows_of(self._curve_points),
        )


# --------------------------------------------------------------------------- plot


def plot_traffic(report: TrafficReport, path: Path, title: str = "") -> Path:
    """Write a PNG of `report`: expected CTR over time and cumulative regret; return `path`.

    Top: the expected CTR of the policy's choices per window of `report.ctr_curve` (observed
    CTR as dots), against uniform random, the best fixed creative per product and the per-user
    oracle on the same requests. Bottom: cumulative expected regret of the policy and of uniform
    random against the oracle (solid) and the best fixed creative (dashed). Needs matplotlib
    (Agg, no display); the file is written next to `path` and renamed into place.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("plot_traffic needs matplotlib (pip install matplotlib==3.11.2)") from exc
    if not report.ctr_curve or not report.regret_curve:
        raise ValueError("the report has no curves to plot (no request was served)")
    figure = Figure(figsize=(8.0, 6.4), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    mid = np.array([w.first_request + w.requests / 2 for w in report.ctr_curve])
    pct = 100.0
    series = {
        "oracle (best creative per user)": ([w.oracle_expected_ctr for w in report.ctr_curve], "k", "--"),
        "best fixed creative per product": (
            [w.best_fixed_expected_ctr for w in report.ctr_curve],
            "0.45",
            ":",
        ),
        "policy (expected)": ([w.policy_expected_ctr for w in report.ctr_curve], "tab:blue", "-"),
        "uniform random (expected)": ([w.random_expected_ctr for w in report.ctr_curve], "tab:red", "-"),
    }
    for label, (values, colour, style) in series.items():
        top.plot(mid, np.array(values) * pct, color=colour, linestyle=style, linewidth=1.6, label=label)
    top.plot(
        mid,
        np.array([w.policy_ctr for w in report.ctr_curve]) * pct,
        ".",
        color="tab:blue",
        alpha=0.35,
        markersize=4,
        label="policy (observed)",
    )
    top.set_ylabel(f"CTR, % (windows of ~{report.impressions // max(1, len(report.ctr_curve))} requests)")
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    top.legend(fontsize=8, loc="lower right", ncol=2)
    x = np.array([0] + [r.requests for r in report.regret_curve])

    def cumulative(values: list[float]) -> npt.NDArray[np.float64]:
        return np.array([0.0, *values])

    bottom.plot(
        x,
        cumulative([r.policy_vs_oracle for r in report.regret_curve]),
        color="tab:blue",
        label="policy vs oracle",
    )
    bottom.plot(
        x,
        cumulative([r.random_vs_oracle for r in report.regret_curve]),
        color="tab:red",
        label="uniform random vs oracle",
    )
    bottom.plot(
        x,
        cumulative([r.policy_vs_best_fixed for r in report.regret_curve]),
        color="tab:blue",
        linestyle="--",
        label="policy vs best fixed",
    )
    bottom.plot(
        x,
        cumulative([r.random_vs_best_fixed for r in report.regret_curve]),
        color="tab:red",
        linestyle="--",
        label="uniform random vs best fixed",
    )
    bottom.axhline(0.0, color="0.6", linewidth=0.8)
    bottom.set_xlabel("requests")
    bottom.set_ylabel("cumulative regret (expected clicks)")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8, loc="upper left")
    versions = ", ".join(sorted(report.policy_versions)) or "-"
    figure.suptitle(
        title or f"Simulated traffic: policy {versions}, {report.impressions} requests", fontsize=11
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp.png")
    try:
        figure.savefig(tmp, format="png", dpi=100)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
