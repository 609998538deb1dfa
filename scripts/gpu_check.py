"""Check the GPU path: onnxruntime-gpu's CUDA provider is active, and outputs and latency vs CPU.

    python scripts/gpu_check.py [deploy/model-repository]

Runs the repository's image_classifier (batch 16) and ocr_det (batch 4) on CUDAExecutionProvider
and on CPUExecutionProvider, and prints the active providers, the largest output difference and
the median latency of each. Writes gpu_check.json into $OUT (default /tmp/out). Needs the `gpu`
extra and a CUDA 13 driver; see docs/gpu.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

REPOSITORY = Path(sys.argv[1] if len(sys.argv) > 1 else "deploy/model-repository")


def median_ms(session: Any, feeds: dict[str, np.ndarray], calls: int) -> float:
    session.run(None, feeds)  # warm-up: kernels, allocations
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def main() -> None:
    print("onnxruntime", ort.__version__, ort.get_available_providers())
    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # the CUDA/cuDNN libraries of NVIDIA's pip wheels
    rng = np.random.default_rng(0)
    cases = {
        "image_classifier": {"image": rng.integers(0, 255, (16, 224, 224, 3), dtype=np.uint8)},
        "ocr_det": {"x": rng.random((4, 3, 736, 736), dtype=np.float32)},
    }
    report = {}
    for name, feeds in cases.items():
        path = str(REPOSITORY / name / "1" / "model.onnx")
        cpu = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        gpu = ort.InferenceSession(path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        pairs = zip(cpu.run(None, feeds), gpu.run(None, feeds), strict=True)
        diff = max(float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) for a, b in pairs)
        report[name] = {
            "providers": gpu.get_providers(),
            "max_abs_diff_vs_cpu": diff,
            "batch": int(next(iter(feeds.values())).shape[0]),
            "cpu_p50_ms": median_ms(cpu, feeds, 5),
            "gpu_p50_ms": median_ms(gpu, feeds, 30),
        }
        print(name, json.dumps(report[name]), flush=True)
    out = Path(os.environ.get("OUT", "/tmp/out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
