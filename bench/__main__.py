"""`python -m bench`: every benchmark in one go, each against its floor measured in the same run.

- bench_rank: Rank RPC latency/throughput vs a bare gRPC echo served the same way, and
  in-process policy latency for 50 candidates;
- bench_bandit_stream: bandit stream records/s (1 and 2 workers) vs a raw aiokafka consumer of the
  same records and vs a faust agent that only counts them, click-to-ranking staleness, memory
  per entity.

Results go to stdout (markdown tables and a JSON line per benchmark); record them in
docs/benchmarks.md with the machine they ran on.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "bench.bench_rank",
    "bench.bench_bandit_stream",
    "bench.bench_models",
    "bench.bench_understanding",
    "bench.bench_render",
    "bench.bench_copy",
    "bench.bench_video",
)


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"\n## {module}\n", flush=True)
        if subprocess.call([sys.executable, "-m", module]) != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
