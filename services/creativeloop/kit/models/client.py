"""The contract every model backend implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from creativeloop.kit.models.spec import ModelSpec


@dataclass(frozen=True)
class BackendHealth:
    """Whether the backend can serve every model a service needs, and why not."""

    ok: bool
    reason: str = ""


class ModelClient(Protocol):
    """Call a model by name with named numpy tensors; get named numpy tensors back.

    Inputs are checked against the model's spec (names, dtypes, dims) before they leave the
    process, so both backends fail the same way on bad input. Arrays carry the batch dimension
    whenever the model's ``max_batch_size`` is above 0.
    """

    backend: str

    def spec(self, model: str) -> ModelSpec:
        """Names, dtypes and dims of a model's inputs and outputs (raises ModelNotFoundError)."""
        ...

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Blocking call; safe from worker threads. ``outputs=None`` returns every output."""
        ...

    async def ainfer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Same as `infer`, without blocking the event loop."""
        ...

    async def health(self, models: Sequence[str]) -> BackendHealth:
        """Can every one of ``models`` be served right now? Never hangs past the deadline."""
        ...

    def close(self) -> None:
        """Release sessions and channels."""
        ...
