"""The deployment backend: a Triton Inference Server over gRPC (the v2 inference protocol).

One channel per process (sync) and per event loop (asyncio) is reused for every call. Calls carry
a deadline and are retried a bounded number of times only for transport failures, never for bad
input, so a slow or absent server costs a caller at most ``timeout_s * (retries + 1)``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as triton_grpc
import tritonclient.grpc.aio as triton_aio
from tritonclient.utils import InferenceServerException

from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.models.errors import (
    InputMismatchError,
    ModelError,
    ModelNotFoundError,
    ModelUnavailableError,
)
from creativeloop.kit.models.spec import ModelSpec, spec_from_config

T = TypeVar("T")
# Transport-level failures worth another try; anything else is the caller's or the model's fault.
RETRYABLE = {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.RESOURCE_EXHAUSTED"}


def _classify(model: str, error: InferenceServerException) -> ModelError:
    status = str(error.status() or "")
    message = error.message() or str(error)
    if status in RETRYABLE:
        return ModelUnavailableError(model, f"triton {status.removeprefix('StatusCode.')}: {message}")
    if "unknown model" in message or "not found" in message.lower() or status == "StatusCode.NOT_FOUND":
        return ModelNotFoundError(model, f"triton has no such model: {message}")
    if status == "StatusCode.INVALID_ARGUMENT":
        return InputMismatchError(model, "?", message)
    return ModelError(model, f"triton {status or 'error'}: {message}")


class TritonModelClient:
    """tritonclient gRPC, sync and asyncio, with deadlines and bounded retries."""

    backend = "triton"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        retry_backoff_s: float = 0.1,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self._specs: dict[str, ModelSpec] = {}
        self._lock = threading.Lock()
        self._sync: triton_grpc.InferenceServerClient | None = None
        self._aio: dict[int, triton_aio.InferenceServerClient] = {}

    # -- channels -------------------------------------------------------------------------------
    def _sync_client(self) -> triton_grpc.InferenceServerClient:
        with self._lock:
            if self._sync is None:
                self._sync = triton_grpc.InferenceServerClient(self.url)
            return self._sync

    def _aio_client(self) -> triton_aio.InferenceServerClient:
        """A grpc.aio channel belongs to the loop that made it: keep one per running loop."""
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._aio:
            self._aio[loop_id] = triton_aio.InferenceServerClient(self.url)
        return self._aio[loop_id]

    # -- retries --------------------------------------------------------------------------------
    def _call(self, model: str, action: Callable[[], T]) -> T:
        for attempt in range(self.retries + 1):
            try:
                return action()
            except InferenceServerException as error:
                failure = _classify(model, error)
                if not isinstance(failure, ModelUnavailableError) or attempt == self.retries:
                    raise failure from error
            time.sleep(self.retry_backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    async def _acall(self, model: str, action: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.retries + 1):
            try:
                return await action()
            except InferenceServerException as error:
                failure = _classify(model, error)
                if not isinstance(failure, ModelUnavailableError) or attempt == self.retries:
                    raise failure from error
            await asyncio.sleep(self.retry_backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    # -- contract -------------------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec:
        """The model's config as the server reports it (cached: configs change only on reload)."""
        with self._lock:
            cached = self._specs.get(model)
        if cached is not None:
            return cached
        client = self._sync_client()
        response = self._call(model, lambda: client.get_model_config(model, client_timeout=self.timeout_s))
        spec = spec_from_config(response.config)
        with self._lock:
            self._specs[model] = spec
        return spec

    async def aspec(self, model: str) -> ModelSpec:
        cached = self._specs.get(model)
        if cached is not None:
            return cached
        client = self._aio_client()
        response = await self._acall(
            model, lambda: client.get_model_config(model, client_timeout=self.timeout_s)
        )
        spec = spec_from_config(response.config)
        self._specs[model] = spec
        return spec

    def _request(
        self, spec: ModelSpec, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None
    ) -> tuple[list[Any], list[Any], list[str]]:
        spec.validate_inputs(inputs)
        wire = {t.name: t.wire_type for t in spec.inputs}
        infer_inputs = []
        for name, array in inputs.items():
            item = triton_grpc.InferInput(name, list(array.shape), wire[name])
            item.set_data_from_numpy(np.ascontiguousarray(array))
            infer_inputs.append(item)
        names = list(outputs) if outputs is not None else spec.output_names()
        for name in names:
            if name not in spec.output_names():
                raise InputMismatchError(spec.name, name, f"no such output; it returns {spec.output_names()}")
        requested = [triton_grpc.InferRequestedOutput(name) for name in names]
        return infer_inputs, requested, names

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        spec = self.spec(model)
        infer_inputs, requested, names = self._request(spec, inputs, outputs)
        client = self._sync_client()
        result = self._call(
            model,
            lambda: client.infer(model, infer_inputs, outputs=requested, client_timeout=self.timeout_s),
        )
        return {name: result.as_numpy(name) for name in names}

    async def ainfer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        spec = await self.aspec(model)
        infer_inputs, requested, names = self._request(spec, inputs, outputs)
        client = self._aio_client()
        result = await self._acall(
            model,
            lambda: client.infer(model, infer_inputs, outputs=requested, client_timeout=self.timeout_s),
        )
        return {name: result.as_numpy(name) for name in names}

    async def health(self, models: Sequence[str]) -> BackendHealth:
        """One deadline-bound readiness call per model, no retries: health must answer fast."""
        client = self._aio_client()
        for model in models:
            try:
                ready = await client.is_model_ready(model, client_timeout=self.timeout_s)
            except InferenceServerException as error:
                return BackendHealth(False, f"triton at {self.url} unreachable: {error.message() or error}")
            if not ready:
                return BackendHealth(False, f"triton at {self.url}: model {model!r} is not ready")
        return BackendHealth(True)

    def close(self) -> None:
        with self._lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
        self._aio = {}  # asyncio channels close with their loop; `aclose` closes them explicitly

    async def aclose(self) -> None:
        client = self._aio.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.close()
        self.close()
