"""Metrics of bench runs, their tables (markdown, JSON) and plots.

Per (world, seed, policy, delay), from the true click probabilities (no click noise):

- expected CTR: mean true click probability of the chosen creatives;
- lift vs random: expected CTR over uniform random's on the same requests, minus 1;
- % of oracle: expected CTR over the oracle's (the best candidate of every request, knowing the
  user's segment and every hidden effect); tail % of oracle: the same over the last 20 % of the
  requests;
- regret: the sum over requests of oracle minus chosen click probability (expected clicks lost);
- recovery (worlds with drift): requests after the drift until the policy's % of oracle over a
  window of `window` requests is back within `RECOVERY_POINTS` points of its value over the
  window just before the drift ("-" if it never is).

Seeds are averaged metric by metric; `to_dict` keeps every seed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from creativeloop.evaluation.policy_bench.runner import Floats, PolicyRun, StreamTruth

TAIL = 0.2
RECOVERY_POINTS = 2.0


@dataclass(frozen=True)
class RunMetrics:
    world: str
    seed: int
    policy: str
    delay: int
    n_requests: int
    expected_ctr: float
    observed_ctr: float
    random_ctr: float
    oracle_ctr: float
    lift_pct: float
    pct_oracle: float
    tail_pct_oracle: float
    regret: float
    #: Requests after the drift until recovered (None: no drift in this world, or never recovered).
    recovery: int | None
    drifted: bool
    microseconds_per_request: float


def _rolling_ratio(num: Floats, den: Floats, window: int) -> Floats:
    """sum(num) / sum(den) over the `window` requests ending at each index (from window - 1 on)."""
    cn = np.concatenate([[0.0], np.cumsum(num)])
    cd = np.concatenate([[0.0], np.cumsum(den)])
    result: Floats = (cn[window:] - cn[:-window]) / (cd[window:] - cd[:-window])
    return result


def recovery(chosen: Floats, oracle: Floats, drift_at: int, window: int) -> int | None:
    """Requests after `drift_at` until the windowed % of oracle is back near its pre-drift value."""
    if drift_at < window or drift_at + window > len(chosen):
        return None
    ratio = _rolling_ratio(chosen, oracle, window)  # ratio[i]: requests i .. i + window - 1
    before = ratio[drift_at - window]
    after = ratio[drift_at:]  # windows that start at or after the drift
    back = np.nonzero(100.0 * after >= 100.0 * before - RECOVERY_POINTS)[0]
    return int(back[0]) + window if back.size else None


def metrics(run: PolicyRun, truth: StreamTruth, window: int | None = None) -> RunMetrics:
    n = truth.n_requests
    tail = slice(int((1.0 - TAIL) * n), n)
    chosen = run.chosen_ctr
    ctr = float(chosen.mean())
    random = float(truth.random_ctr.mean())
    oracle = float(truth.oracle_ctr.mean())
    window = window or max(n // 40, 100)
    recovered = (
        recovery(chosen, truth.oracle_ctr, truth.drift_at, window) if truth.drift_at is not None else None
    )
    return RunMetrics(
        world=run.world,
        seed=run.seed,
        policy=run.policy,
        delay=run.delay,
        n_requests=n,
        expected_ctr=ctr,
        observed_ctr=run.clicks / n,
        random_ctr=random,
        oracle_ctr=oracle,
        lift_pct=100.0 * (ctr / random - 1.0),
        pct_oracle=100.0 * ctr / oracle,
        tail_pct_oracle=100.0 * float(chosen[tail].sum() / truth.oracle_ctr[tail].sum()),
        regret=float((truth.oracle_ctr - chosen).sum()),
        recovery=recovered,
        drifted=truth.drift_at is not None,
        microseconds_per_request=1e6 * run.seconds / n,
    )


@dataclass(frozen=True)
class Summary:
    """Metrics of one (world, policy, delay), averaged over seeds."""

    world: str
    policy: str
    delay: int
    seeds: tuple[int, ...]
    lift_pct: float
    pct_oracle: float
    tail_pct_oracle: float
    regret: float
    #: Mean over seeds; None if a seed never recovered or the world has no drift.
    recovery: float | None
    drifted: bool
    microseconds_per_request: float


def summarise(rows: Sequence[RunMetrics]) -> list[Summary]:
    groups: dict[tuple[str, str, int], list[RunMetrics]] = defaultdict(list)
    for row in rows:
        groups[(row.world, row.policy, row.delay)].append(row)
    out = []
    for (world, policy, delay), group in groups.items():
        recoveries = [r.recovery for r in group]
        out.append(
            Summary(
                world=world,
                policy=policy,
                delay=delay,
                seeds=tuple(r.seed for r in group),
                lift_pct=float(np.mean([r.lift_pct for r in group])),
                pct_oracle=float(np.mean([r.pct_oracle for r in group])),
                tail_pct_oracle=float(np.mean([r.tail_pct_oracle for r in group])),
                regret=float(np.mean([r.regret for r in group])),
                recovery=(
                    float(np.mean([r for r in recoveries if r is not None]))
                    if all(r is not None for r in recoveries)
                    else None
                ),
                drifted=group[0].drifted,
                microseconds_per_request=float(np.mean([r.microseconds_per_request for r in group])),
            )
        )
    return out


def _recovery_text(summary: Summary) -> str:
    if not summary.drifted:
        return ""
    return f"{summary.recovery:,.0f}" if summary.recovery is not None else "not within the run"


def markdown(
    summaries: Sequence[Summary], against: Sequence[Summary] = (), labels: tuple[str, str] = ("", "")
) -> str:
    """One table: a row per (world, policy, delay); with `against`, its figures side by side."""
    other = {(s.world, s.policy, s.delay): s for s in against}
    if against:
        a, b = labels
        head = (
            f"| world | policy | delay | lift vs random {a} | {b} | % of oracle {a} | {b} "
            f"| tail % of oracle {a} | {b} | regret {a} | {b} | recovery {a} | {b} |"
        )
        rule = "|---|---|---:|" + "---:|" * 10
    else:
        head = (
            "| world | policy | delay | lift vs random | % of oracle | tail % of oracle | regret "
            "| recovery | µs/request |"
        )
        rule = "|---|---|---:|" + "---:|" * 6
    lines = [head, rule]
    for s in summaries:
        cells = [s.world, s.policy, f"{s.delay:,}"]
        o = other.get((s.world, s.policy, s.delay))
        if against:
            for mine, theirs in (
                (f"{s.lift_pct:+.1f} %", f"{o.lift_pct:+.1f} %" if o else "-"),
                (f"{s.pct_oracle:.1f} %", f"{o.pct_oracle:.1f} %" if o else "-"),
                (f"{s.tail_pct_oracle:.1f} %", f"{o.tail_pct_oracle:.1f} %" if o else "-"),
                (f"{s.regret:,.0f}", f"{o.regret:,.0f}" if o else "-"),
                (_recovery_text(s), _recovery_text(o) if o else "-"),
            ):
                cells += [mine, theirs]
        else:
            cells += [
                f"{s.lift_pct:+.1f} %",
                f"{s.pct_oracle:.1f} %",
                f"{s.tail_pct_oracle:.1f} %",
                f"{s.regret:,.0f}",
                _recovery_text(s),
                f"{s.microseconds_per_request:,.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Curve:
    """One run's course: sums over consecutive windows of `window` requests (for the plots)."""

    world: str
    seed: int
    policy: str
    delay: int
    window: int
    chosen: list[float]
    oracle: list[float]
    random: list[float]
    drift_at: int | None


def curve(run: PolicyRun, truth: StreamTruth, points: int = 100) -> Curve:
    n = truth.n_requests
    window = max(n // points, 1)
    blocks = n // window

    def sums(values: Floats) -> list[float]:
        return [float(v) for v in values[: blocks * window].reshape(blocks, window).sum(axis=1)]

    return Curve(
        run.world,
        run.seed,
        run.policy,
        run.delay,
        window,
        sums(run.chosen_ctr),
        sums(truth.oracle_ctr),
        sums(truth.random_ctr),
        truth.drift_at,
    )


def to_dict(rows: Sequence[RunMetrics], curves: Sequence[Curve], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "settings": settings,
        "summaries": [asdict(s) for s in summarise(rows)],
        "runs": [asdict(r) for r in rows],
        "curves": [asdict(c) for c in curves],
    }


def from_dicts(payloads: Sequence[dict[str, Any]]) -> tuple[list[RunMetrics], list[Curve]]:
    """The runs and curves of saved reports (`to_dict`), e.g. one per seed run apart, together."""
    rows = [RunMetrics(**r) for p in payloads for r in p["runs"]]
    curves = [Curve(**c) for p in payloads for c in p.get("curves", [])]
    return rows, curves


def plot(curves: Sequence[Curve], folder: Path) -> list[Path]:
    """One PNG per world: % of oracle per window over the run and cumulative regret vs the
    oracle, each policy averaged over its seeds (dashed: with a feedback delay)."""
    # Imported here: matplotlib is optional (the `quality` and `dev` extras).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for world in dict.fromkeys(c.world for c in curves):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
        series: dict[tuple[str, int], list[Curve]] = defaultdict(list)
        for c in curves:
            if c.world == world:
                series[(c.policy, c.delay)].append(c)
        first = next(c for c in curves if c.world == world)
        x = (np.arange(len(first.chosen)) + 1) * first.window
        for (policy, delay), group in series.items():
            chosen = np.sum([g.chosen for g in group], axis=0)
            oracle = np.sum([g.oracle for g in group], axis=0)
            style = "--" if delay else "-"
            label = policy if delay == 0 else f"{policy} (delay {delay:,})"
            line = top.plot(x, 100.0 * chosen / oracle, style, label=label, linewidth=1.2)[0]
            regret = np.cumsum(oracle - chosen) / len(group)
            bottom.plot(x, regret, style, color=line.get_color(), linewidth=1.2)
        seeds = sorted({c.seed for c in curves if c.world == world})
        random = np.sum([c.random for c in curves if c.world == world], axis=0)
        oracle_all = np.sum([c.oracle for c in curves if c.world == world], axis=0)
        top.plot(x, 100.0 * random / oracle_all, ":", color="grey", linewidth=0.8, label="uniform random")
        if first.drift_at is not None:
            for axis in (top, bottom):
                axis.axvline(first.drift_at, color="black", linewidth=0.8, linestyle=":")
        top.set_ylabel(f"% of oracle CTR (windows of {first.window:,} requests)")
        top.set_title(f"policy bench: {world}, seeds {seeds}")
        top.legend(fontsize=8, ncol=2)
        bottom.set_ylabel("cumulative regret vs oracle (expected clicks)")
        bottom.set_xlabel("requests")
        fig.tight_layout()
        path = folder / f"policy-bench-{world}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
