"""Per model: embedded onnxruntime vs a real Triton server, at batch 1 and 16, in one run.

    python -m bench.bench_models [--repository deploy/model-repository] [--seconds 2]

Both backends run the same ONNX files with one intra-op thread (embedded: `EmbeddedModelClient`;
Triton: the python-backend tritonserver from `.venv-triton` on loopback, called through
`TritonModelClient`). Each cell calls the model back to back for about ``--seconds`` (at least 5
calls) with the same random inputs, and reports p50 latency, rows per second, and the Triton /
embedded ratios. Batch 16 is capped at a model's max_batch_size. Outputs are compared too (max
absolute difference), so a fast wrong answer shows. Needs `creativeloop models build` and
`scripts/install-triton.sh` first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.spec import ModelSpec, TensorSpec, load_spec
from creativeloop.kit.models.triton import TritonModelClient
from creativeloop.stack.triton import LocalTriton, python_backend_repository

# Sizes for dimensions a model leaves open (-1), per model: what the services really send.
FREE_DIMS: dict[str, tuple[int, ...]] = {
    "ocr_det": (640, 640),
    "ocr_rec": (320,),
    "text_embedding": (32,),
    "text_embedding_int8": (32,),
}
BATCHES = (1, 16)


def _shape(model: str, spec: ModelSpec, tensor: TensorSpec, batch: int) -> tuple[int, ...]:
    fill = iter(FREE_DIMS.get(model, ()))
    dims = tuple(d if d != -1 else next(fill, 16) for d in tensor.dims)
    return ((batch,) if spec.max_batch_size > 0 else ()) + dims


def make_inputs(model: str, spec: ModelSpec, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs: dict[str, np.ndarray] = {}
    for tensor in spec.inputs:
        shape = _shape(model, spec, tensor, batch)
        if tensor.name == "attention_mask":
            inputs[tensor.name] = np.ones(shape, tensor.dtype)
        elif tensor.name == "input_ids":
            ids = rng.integers(1000, 20000, size=shape)
            ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
            inputs[tensor.name] = ids.astype(tensor.dtype)
        elif np.issubdtype(tensor.dtype, np.integer):
            inputs[tensor.name] = rng.integers(0, 255, size=shape).astype(tensor.dtype)
        else:
            inputs[tensor.name] = rng.random(shape, dtype=np.float32).astype(tensor.dtype)
    return inputs


def time_calls(call: Callable[[], object], seconds: float) -> list[float]:
    call()  # warm-up: session creation, first-call allocations
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(latencies) < 5 or time.perf_counter() < deadline:
        start = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - start)
    return latencies


def cell(client: ModelClient, model: str, inputs: dict[str, np.ndarray], seconds: float) -> dict[str, float]:
    latencies = time_calls(lambda: client.infer(model, inputs), seconds)
    rows = next(iter(inputs.values())).shape[0] if client.spec(model).max_batch_size > 0 else 1
    return {
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
        "rows_per_s": rows * len(latencies) / sum(latencies),
        "calls": len(latencies),
    }


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) for k in a)


def run(repository: Path, seconds: float) -> list[dict[str, object]]:
    models = sorted(p.parent.name for p in repository.glob("*/config.pbtxt"))
    embedded = EmbeddedModelClient(repository)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-triton-") as tmp:
        derived = python_backend_repository(repository, Path(tmp) / "repository", models)
        with LocalTriton(derived, Path(tmp) / "workspace") as server:
            triton = TritonModelClient(server.grpc_url, timeout_s=60)
            for model in models:
                spec = load_spec(repository, model)
                limit = spec.max_batch_size or 1  # an unbatched model takes one input at a time
                batches = sorted({min(b, limit) for b in BATCHES})
                for batch in batches:
                    inputs = make_inputs(model, spec, batch)
                    local, remote = embedded.infer(model, inputs), triton.infer(model, inputs)
                    e, t = cell(embedded, model, inputs, seconds), cell(triton, model, inputs, seconds)
                    rows.append(
                        {
                            "model": model,
                            "batch": batch if spec.max_batch_size > 0 else 1,
                            "embedded": e,
                            "triton": t,
                            "latency_ratio": t["p50_ms"] / e["p50_ms"],
                            "throughput_ratio": t["rows_per_s"] / e["rows_per_s"],
                            "max_abs_diff": max_difference(local, remote),
                        }
                    )
                    print(f"{model} batch {batch}: done", flush=True)
            triton.close()
    embedded.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("deploy/model-repository"))
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    rows = run(args.repository, args.seconds)
    print(
        "\n| model | batch | embedded p50 ms | triton p50 ms | triton/embedded latency | "
        "embedded rows/s | triton rows/s | triton/embedded throughput | max abs diff |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        e, t = r["embedded"], r["triton"]
        assert isinstance(e, dict) and isinstance(t, dict)
        print(
            f"| {r['model']} | {r['batch']} | {e['p50_ms']:.2f} | {t['p50_ms']:.2f} "
            f"| {r['latency_ratio']:.2f} "
            f"| {e['rows_per_s']:.0f} | {t['rows_per_s']:.0f} | {r['throughput_ratio']:.2f} "
            f"| {r['max_abs_diff']:.2g} |"
        )
    print(json.dumps({"benchmark": "models", "rows": rows}))


if __name__ == "__main__":
    main()
