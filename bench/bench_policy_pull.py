"""In-process cost of one `pull` for 50 candidates: the shared policy next to ranking's others.

    python -m bench.bench_policy_pull [--pulls 2000] [--learn 5000] [--candidates 50]

Each policy first learns `--learn` outcomes of the policy bench's ``element-grid`` world (every
product given exactly `--candidates` creatives), then `pull`s for `--pulls` requests of the same
stream (typed features included), five times; the table gives the median and best of the five
means, in microseconds per pull, and the cost of one `update`. One BLAS thread, as the ranking
process runs (the variables must be set before numpy loads, so run this as its own process).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from creativeloop.evaluation.policy_bench.references import ranking_policy  # noqa: E402
from creativeloop.evaluation.policy_bench.runner import run_policy  # noqa: E402
from creativeloop.evaluation.policy_bench.worlds import WORLDS, build_stream  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pulls", type=int, default=2000)
    parser.add_argument("--learn", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--policies", default="shared,thompson,lints")
    args = parser.parse_args()
    k = args.candidates
    spec = dataclasses.replace(WORLDS["element-grid"], creatives_per_product=(k, k))
    stream = build_stream(spec, 0, args.learn + args.pulls)
    rows = []
    for kind in args.policies.split(","):
        samples = {"propensity_samples": 1000} if kind != "shared" else {}
        bench = ranking_policy(kind, 0, **samples)
        warm = dataclasses.replace(stream, n_requests=args.learn)
        started = time.perf_counter()
        run_policy(warm, bench)  # pulls and learns `--learn` requests (learning is most of it)
        per_request = (time.perf_counter() - started) / args.learn * 1e6
        requests = [stream.request(n) for n in range(args.learn, args.learn + args.pulls)]
        policy = bench.policy
        # Steady state: every creative has been seen once (the shared policy encodes a creative the
        # first time it is a candidate, about 0.2 ms, and keeps it).
        for product in range(len(stream.product_ids)):
            policy.probabilities([c.creative_id for c in stream.product_creatives(product)])
        means = []
        for _ in range(5):
            started = time.perf_counter()
            for r in requests:
                policy.pull(r.candidate_ids, r.user_id, r.context, features=r.features)
            means.append((time.perf_counter() - started) / len(requests) * 1e6)
        rows.append(
            {
                "policy": kind,
                "candidates": k,
                "pull_us_median": round(float(np.median(means)), 1),
                "pull_us_best": round(min(means), 1),
                "pull_and_update_us_during_learning": round(per_request, 1),
            }
        )
    print("| policy | candidates | pull, median (µs) | pull, best (µs) | pull + update while learning (µs) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['policy']} | {row['candidates']} | {row['pull_us_median']} | {row['pull_us_best']} "
            f"| {row['pull_and_update_us_during_learning']} |"
        )
    print(json.dumps({"benchmark": "policy_pull", "rows": rows}))


if __name__ == "__main__":
    main()
