"""The default backend: onnxruntime sessions in-process, read from the Triton-layout repository.

Serving the very files Triton serves keeps "works on my laptop" and "works on the fleet" the
same claim. Providers and thread counts are explicit because onnxruntime silently falls back to
CPU when CUDA is asked for but missing, and its default of one thread per core oversubscribes a
node that runs several models.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # the variable above must be set before import

from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.models.errors import InputMismatchError, ModelError
from creativeloop.kit.models.microbatch import MicroBatcher
from creativeloop.kit.models.spec import ModelSpec, load_spec, model_file


class EmbeddedModelClient:
    """onnxruntime sessions, one per model, loaded on first use and shared by all threads."""

    backend = "embedded"

    def __init__(
        self,
        repository: Path,
        *,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        intra_op_threads: int = 1,
        inter_op_threads: int = 1,
        micro_batch_max: int = 0,
        micro_batch_wait_ms: float = 2.0,
        workers: int = 2,
    ) -> None:
        self.repository = Path(repository)
        self.providers = list(providers)
        self.intra_op_threads = intra_op_threads
        self.inter_op_threads = inter_op_threads
        self._specs: dict[str, ModelSpec] = {}
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="onnxruntime")
        if "CUDAExecutionProvider" in self.providers and hasattr(ort, "preload_dlls"):
            # onnxruntime-gpu finds the CUDA/cuDNN libraries of the NVIDIA pip wheels this way,
            # without LD_LIBRARY_PATH; a no-op where they are system libraries.
            ort.preload_dlls()
        self._batcher = (
            MicroBatcher(self._run_validated, micro_batch_max, micro_batch_wait_ms / 1000.0, self._executor)
            if micro_batch_max > 1
            else None
        )

    def spec(self, model: str) -> ModelSpec:
        with self._lock:
            if model not in self._specs:
                self._specs[model] = load_spec(self.repository, model)
            return self._specs[model]

    def session(self, model: str) -> ort.InferenceSession:
        """The model's session (loaded once); fails if the requested provider is not active."""
        spec = self.spec(model)
        with self._lock:
            if model not in self._sessions:
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.intra_op_threads
                options.inter_op_num_threads = self.inter_op_threads
                path = model_file(self.repository, model, spec.version)
                try:
                    session = ort.InferenceSession(str(path), options, providers=self.providers)
                except Exception as error:  # onnxruntime raises its own untyped exceptions
                    raise ModelError(model, f"onnxruntime cannot load {path}: {error}") from error
                active = session.get_providers()
                if active[0] != self.providers[0]:
                    raise ModelError(
                        model,
                        f"provider {self.providers[0]} requested but onnxruntime runs {active} "
                        "(install the onnxruntime-gpu extra and the CUDA libraries, or ask for CPU)",
                    )
                self._sessions[model] = session
            return self._sessions[model]

    def _run_validated(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        spec = self.spec(model)
        names = list(outputs) if outputs is not None else spec.output_names()
        for name in names:
            if name not in spec.output_names():
                raise InputMismatchError(model, name, f"no such output; it returns {spec.output_names()}")
        try:
            values = self.session(model).run(names, dict(inputs))
        except ModelError:
            raise
        except Exception as error:
            raise ModelError(model, f"inference failed: {error}") from error
        return dict(zip(names, values, strict=True))

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        self.spec(model).validate_inputs(inputs)
        return self._run_validated(model, inputs, outputs)

    async def ainfer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        spec = self.spec(model)
        spec.validate_inputs(inputs)
        if self._batcher is not None and spec.max_batch_size > 0:
            return await self._batcher.submit(spec, inputs, outputs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_validated, model, inputs, outputs)

    async def health(self, models: Sequence[str]) -> BackendHealth:
        loop = asyncio.get_running_loop()
        for model in models:
            try:
                await loop.run_in_executor(self._executor, self.session, model)
            except ModelError as error:
                return BackendHealth(False, str(error))
        return BackendHealth(True)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._sessions.clear()
