"""Serve a world's request stream through a policy, with common random numbers.

For request n of a (world, seed) stream the runner announces the products going live just before
it (`BenchPolicy.add_creatives`), hands the policy every outcome due by then (`learn`, in the
order the requests were served), asks for its choice, scores the choice by its *true* click
probability (expected CTR, free of click noise) and draws the click from the stream's uniform:
``clicked = uniform[n] < p(chosen)``. Every policy therefore meets the same requests and the
same coin flips; two policies that choose alike get the same clicks.

An outcome of request n arrives before request ``n + 1 + delay + world delay[n]``: `delay` is
the run's feedback delay in requests (0: learn before the next request), the world's own delay
is random in worlds that have one. Outcomes still on their way when the stream ends are dropped.

Seeds from `worlds.HELD_BACK_FROM` on are held back for the final report: `run` refuses them
unless `final=True` (the CLI's ``--final``), so no one tunes on them by accident.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from creativeloop.evaluation.policy_bench.references import BenchChoice, BenchPolicy, make_policy
from creativeloop.evaluation.policy_bench.worlds import HELD_BACK_FROM, WORLDS, Request, Stream, build_stream

Floats = npt.NDArray[np.float64]

#: Seeds one tunes on (any seed below `HELD_BACK_FROM`); the defaults of the CLI.
TUNING_SEEDS = (0, 1)
#: The held-back seeds of the final report.
HELD_BACK_SEEDS = (1000, 1001)


@dataclass(frozen=True)
class StreamTruth:
    """What the report needs of a stream: per request the CTRs of uniform random and the oracles."""

    world: str
    seed: int
    n_requests: int
    random_ctr: Floats
    oracle_ctr: Floats
    observable_oracle_ctr: Floats
    #: Request index of the world's drift (None: none).
    drift_at: int | None

    @classmethod
    def of(cls, stream: Stream) -> StreamTruth:
        return cls(
            stream.spec.name,
            stream.seed,
            stream.n_requests,
            stream.random_ctr,
            stream.oracle_ctr,
            stream.observable_oracle_ctr,
            stream.drift_at,
        )


class HeldBackSeed(ValueError):
    """A held-back seed was asked for without `final=True`."""


@dataclass
class PolicyRun:
    """What one policy did on one stream."""

    world: str
    seed: int
    policy: str
    delay: int
    #: Per request: the true click probability of the chosen creative.
    chosen_ctr: Floats
    #: Per request: the propensity the policy reported (NaN where it computes none).
    propensity: Floats
    clicks: int
    seconds: float


def check_seeds(seeds: Sequence[int], final: bool) -> None:
    held = [s for s in seeds if s >= HELD_BACK_FROM]
    if held and not final:
        raise HeldBackSeed(
            f"seeds {held} are held back (>= {HELD_BACK_FROM}) for the final report; "
            "tune on seeds below it, and pass final=True (--final) once, at the end"
        )


def run_policy(stream: Stream, policy: BenchPolicy, delay: int = 0) -> PolicyRun:
    """Serve every request of `stream` through `policy` (see the module doc)."""
    n_requests = stream.n_requests
    arrivals = stream.arrivals()
    due: dict[int, list[tuple[Request, BenchChoice, bool]]] = {}
    chosen = np.zeros(n_requests)
    propensity = np.zeros(n_requests)
    clicks = 0
    started = time.perf_counter()
    for n in range(n_requests):
        products = arrivals.get(n)
        if products:
            policy.add_creatives([c for p in products for c in stream.product_creatives(p)])
        for outcome in due.pop(n, ()):
            policy.learn(*outcome)
        request = stream.request(n)
        choice = policy.choose(request)
        p = float(stream.probabilities(n)[choice.index])
        clicked = bool(stream.uniform[n] < p)
        clicks += clicked
        chosen[n] = p
        propensity[n] = choice.propensity
        arrive = n + 1 + delay + int(stream.delay[n])
        if arrive < n_requests:
            due.setdefault(arrive, []).append((request, choice, clicked))
    finish: Callable[[], None] | None = getattr(policy, "finish", None)
    if finish is not None:
        finish()
    return PolicyRun(
        world=stream.spec.name,
        seed=stream.seed,
        policy=policy.name,
        delay=delay,
        chosen_ctr=chosen,
        propensity=propensity,
        clicks=clicks,
        seconds=time.perf_counter() - started,
    )


def run(
    worlds: Sequence[str],
    seeds: Sequence[int],
    policies: Sequence[str],
    n_requests: int,
    delays: Sequence[int] = (0,),
    final: bool = False,
    progress: Callable[[PolicyRun], None] | None = None,
) -> tuple[list[StreamTruth], list[PolicyRun]]:
    """Every policy on every (world, seed) stream, for every feedback delay.

    Returns each stream's truth (random and oracle CTRs) and the runs. Raises
    `HeldBackSeed` for a held-back seed unless `final`.
    """
    check_seeds(seeds, final)
    unknown = [w for w in worlds if w not in WORLDS]
    if unknown:
        raise ValueError(f"unknown worlds {unknown}; known: {', '.join(WORLDS)}")
    streams, runs = [], []
    for world in worlds:
        for seed in seeds:
            stream = build_stream(WORLDS[world], seed, n_requests)
            streams.append(StreamTruth.of(stream))
            for delay in delays:
                for name in policies:
                    result = run_policy(stream, make_policy(name, stream, seed), delay)
                    runs.append(result)
                    if progress is not None:
                        progress(result)
    return streams, runs
