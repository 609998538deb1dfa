"""Rank latency and throughput against a bare gRPC echo served the same way, in one run.

    python -m bench.bench_rank [--requests 4000] [--concurrency 16] [--candidates 50]

Servers (each in its own process, each with the kit's `ServiceRuntime`: the same grpc.aio
server, metrics interceptor, health and reflection):

- ``echo``: a RankingService whose Rank returns a constant response (the floor of the stack);
- ``thompson``, ``hybrid``, ``lints``: the real `RankingServicer` + the policy `build_policy` makes, its
  catalogue, bandit statistics and user behaviour fed in process (no broker): `--products`
  products with `--candidates` image creatives each, random counts per creative and per bucket,
  20,000 past impressions of 2,000 users; ``hybrid`` serves a LightGBM model trained at start-up
  on synthetic logs (same feature width as production).

One bounded asyncio client (`--concurrency` calls in flight, `--requests` calls after a warm-up)
loads each server in turn. Then, in process, the policy's `pull` for 50 candidates, and
its parts (features, model predict, the Thompson draw and its quadrature propensity). Prints a
markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from creativeloop.evaluation.simulation import simulate, synthetic_catalogue
from creativeloop.kit.context import stats_key
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.model import ModelHolder
from creativeloop.ranking.policies import HybridPolicy, Policy, build_policy, hybrid_posterior
from creativeloop.ranking.service import RankingServicer
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.training.ranker import TrainOptions, train_from_logs
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc

POLICIES = ("thompson", "hybrid", "lints")
CONTEXT = {"placement": "feed", "device": "mobile"}
BUCKET = "placement=feed|device=mobile"
IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE


class EchoServicer(ranking_pb2_grpc.RankingServiceServicer):
    """Rank that answers a constant: what the gRPC stack alone costs."""

    def __init__(self) -> None:
        self._reply = ranking_pb2.RankResponse(
            creative=common_pb2.Creative(creative_id="echo", product_id="echo", format=IMAGE),
            propensity=1.0,
            impression_id="0" * 32,
            policy_version="echo",
            candidates=1,
        )

    async def Rank(self, request: ranking_pb2.RankRequest, context: Any) -> ranking_pb2.RankResponse:
        return self._reply


def train_model(model_dir: Path) -> str:
    """A real LightGBM ranker on synthetic logs (feature width as in production)."""
    creatives, profiles = synthetic_catalogue(10, 6, seed=1)
    from creativeloop.demo.traffic import ClickModel

    policy = build_policy(RankingSettings(policy="thompson", seed=0), StatsBoard())
    logged = simulate(policy, creatives, profiles, 6000, ClickModel(seed=0), seed=0, n_users=500)
    return train_from_logs(logged.logs, model_dir, TrainOptions(seed=0), version="bench").version


def build_ranker(
    policy: str, n_products: int, per_product: int, model_dir: Path | None, seed: int = 0
) -> tuple[Policy, CreativeCatalogue, list[str]]:
    """A policy with a full in-process view: catalogue, bandit counts, behaviour, model."""
    settings = RankingSettings(policy=policy, seed=seed, model_dir=model_dir or Path("/nonexistent"))
    stats, catalogue = StatsBoard(), CreativeCatalogue()
    features = FeatureStore(settings.max_users, settings.user_history)
    models = None
    if policy == "hybrid" and model_dir is not None:
        models = ModelHolder(model_dir, poll_s=0)
        if not models.refresh():
            raise RuntimeError(f"no model in {model_dir}")
    ranker = build_policy(settings, stats, features, models)
    creatives, profiles = synthetic_catalogue(n_products, per_product, seed=seed)
    for event in creatives:
        catalogue.apply(event.creative.creative_id, event)
        features.apply_creative(event.creative.creative_id, event)
    for profile in profiles:
        features.apply_profile(profile.profile.product_id, profile)
    rng = np.random.default_rng(seed)
    ids = [e.creative.creative_id for e in creatives]
    for creative_id in ids:
        shows = float(rng.integers(0, 5000))
        clicks = float(rng.binomial(int(shows), 0.05))
        stats.apply(
            creative_id, events_pb2.BanditStats(creative_id=creative_id, impressions=shows, clicks=clicks)
        )
        stats.apply(
            stats_key(creative_id, BUCKET),
            events_pb2.BanditStats(
                creative_id=creative_id, impressions=shows * 0.7, clicks=clicks * 0.7, context_bucket=BUCKET
            ),
        )
    for n in range(20_000):
        creative_id = ids[int(rng.integers(len(ids)))]
        user_id = f"user-{int(rng.integers(2000)):05d}"
        iid = f"imp-{n}"
        features.apply_impression(
            iid,
            events_pb2.Impression(
                impression_id=iid,
                user_id=user_id,
                product_id=creative_id.rsplit("-", 1)[0],
                creative_id=creative_id,
                shown_at=Timestamp(seconds=1_700_000_000 + n),
                context=CONTEXT,
            ),
        )
        if rng.random() < 0.05:
            features.apply_click(
                iid, events_pb2.Click(impression_id=iid, user_id=user_id, creative_id=creative_id)
            )
    products = sorted({e.creative.product_id for e in creatives})
    return ranker, catalogue, products


# ---------------------------------------------------------------- server process


async def serve(kind: str, port_file: Path, args: argparse.Namespace) -> None:
    settings = RankingSettings(grpc_port=0, metrics_port=0, policy="hybrid" if kind == "echo" else kind)
    servicer: Any
    if kind == "echo":
        servicer = EchoServicer()
    else:
        ranker, catalogue, _ = build_ranker(kind, args.products, args.candidates, args.model_dir)
        servicer = RankingServicer(settings, catalogue, ranker)
    runtime = ServiceRuntime(
        service=f"bench-{kind}",
        settings=settings,
        servicers=[
            GrpcServicer(
                servicer,
                ranking_pb2_grpc.add_RankingServiceServicer_to_server,
                service_name(ranking_pb2, "RankingService"),
            )
        ],
    )
    task = asyncio.create_task(runtime.run())
    while not runtime.bound_port:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    port_file.write_text(str(runtime.bound_port))
    await task


def start_server(kind: str, args: argparse.Namespace, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = work / f"{kind}.port"
    command = [sys.executable, "-m", "bench.bench_rank", "--serve", kind, "--port-file", str(port_file)]
    command += ["--products", str(args.products), "--candidates", str(args.candidates)]
    if args.model_dir is not None:
        command += ["--model-dir", str(args.model_dir)]
    # As `python -m creativeloop.ranking` does: one BLAS thread for its tiny matrices.
    threads = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **threads, "CREATIVELOOP_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not port_file.exists():
        if process.poll() is not None:
            raise RuntimeError(
                f"{kind} server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{kind} server did not start")
        time.sleep(0.05)
    return process, f"127.0.0.1:{port_file.read_text()}"


# ---------------------------------------------------------------- load


async def load(target: str, products: list[str], requests: int, concurrency: int) -> dict[str, float]:
    """`requests` Rank calls, at most `concurrency` in flight; latency per call and overall RPS."""
    async with grpc.aio.insecure_channel(target) as channel:
        rank = ranking_pb2_grpc.RankingServiceStub(channel).Rank
        plan = [
            ranking_pb2.RankRequest(
                user_id=f"user-{n % 2000:05d}",
                product_id=products[n % len(products)],
                format=IMAGE,
                context=CONTEXT,
            )
            for n in range(requests)
        ]

        async def run(batch: list[ranking_pb2.RankRequest]) -> list[float]:
            queue = iter(batch)
            latencies: list[float] = []

            async def worker() -> None:
                for request in queue:
                    started = time.perf_counter()
                    await rank(request, timeout=10)
                    latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return latencies

        await run(plan[: max(200, requests // 10)])  # warm-up: connections, caches
        started = time.perf_counter()
        latencies = await run(plan)
        elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "rps": requests / elapsed,
    }


def in_process(args: argparse.Namespace, iterations: int = 2000) -> dict[str, dict[str, float]]:
    """The policy's `pull` for `--candidates` candidates (ids taken from the catalogue's creatives,
    as Rank does), per policy, and its parts."""
    results: dict[str, dict[str, float]] = {}

    def timed(fn: Any, n: int = iterations) -> dict[str, float]:
        for _ in range(50):
            fn(0)
        times = []
        for i in range(n):
            started = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - started)
        ms = np.asarray(times) * 1e3
        return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}

    for policy in POLICIES:
        ranker, catalogue, products = build_ranker(policy, args.products, args.candidates, args.model_dir)
        pools = {p: catalogue.candidates(p, IMAGE) for p in products}

        def choose(
            i: int, ranker: Policy = ranker, pools: Any = pools, products: list[str] = products
        ) -> None:
            pool = pools[products[i % len(products)]]
            ranker.pull([c.creative_id for c in pool], f"user-{i % 2000:05d}", CONTEXT)

        results[f"choose/{policy}"] = timed(choose)
        if isinstance(ranker, HybridPolicy):
            results.update(hybrid_parts(ranker, pools[products[0]], timed))
    return results


def hybrid_parts(
    ranker: HybridPolicy, pool: list[common_pb2.Creative], timed: Any
) -> dict[str, dict[str, float]]:
    """The hybrid policy's steps, one by one."""
    ids = [c.creative_id for c in pool]
    rows = ranker.features.matrix("user-00001", ids, CONTEXT)
    assert ranker.models is not None and ranker.models.current is not None
    model = ranker.models.current
    predicted = model.predict(rows)
    alpha, beta = hybrid_posterior(predicted, np.full(len(ids), 100.0), np.full(len(ids), 5.0), 100.0)
    return {
        "part/stats_counts": timed(lambda i: ranker.stats.counts(ids, BUCKET, 200)),
        "part/features_matrix": timed(lambda i: ranker.features.matrix(f"user-{i % 2000:05d}", ids, CONTEXT)),
        "part/lightgbm_predict": timed(lambda i: model.predict(rows)),
        "part/thompson_draw_and_propensity": timed(lambda i: ranker.sampler.pull_posterior(alpha, beta)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--policies", default=",".join(POLICIES), help="served policies, comma-separated")
    parser.add_argument("--model-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.port_file, args))
        return

    with tempfile.TemporaryDirectory(prefix="bench-rank-") as tmp:
        work = Path(tmp)
        args.model_dir = work / "models"
        model_version = train_model(args.model_dir)
        served: dict[str, dict[str, float]] = {}
        products = [f"prod-{p:04d}" for p in range(args.products)]
        for kind in ["echo", *[p for p in args.policies.split(",") if p]]:
            process, target = start_server(kind, args, work)
            try:
                served[kind] = asyncio.run(load(target, products, args.requests, args.concurrency))
            finally:
                process.terminate()
                process.wait(timeout=30)
        local = in_process(args)

    echo = served["echo"]
    lines = [
        f"Rank over gRPC: {args.requests} requests, {args.concurrency} in flight, "
        f"{args.candidates} candidates per product, {os.cpu_count()} CPUs; model {model_version}",
        "",
        "| server | p50 ms | p99 ms | RPS | p50 / echo | p99 / echo | RPS / echo |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, m in served.items():
        ratios = (m["p50_ms"] / echo["p50_ms"], m["p99_ms"] / echo["p99_ms"], m["rps"] / echo["rps"])
        lines.append(
            f"| {kind} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {m['rps']:.0f} | "
            + " | ".join(f"{r:.2f}" for r in ratios)
            + " |"
        )
    lines += ["", "In process, one call (no gRPC):", "", "| what | p50 ms | p99 ms |", "|---|---:|---:|"]
    for what, m in local.items():
        lines.append(f"| {what} | {m['p50_ms']:.3f} | {m['p99_ms']:.3f} |")
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "bench": "rank",
                "requests": args.requests,
                "concurrency": args.concurrency,
                "candidates": args.candidates,
                "cpus": os.cpu_count(),
                "model_version": model_version,
                "served": served,
                "ratios_vs_echo": {
                    k: {
                        "p50": m["p50_ms"] / echo["p50_ms"],
                        "p99": m["p99_ms"] / echo["p99_ms"],
                        "rps": m["rps"] / echo["rps"],
                    }
                    for k, m in served.items()
                },
                "in_process": local,
            }
        )
    )


if __name__ == "__main__":
    main()
