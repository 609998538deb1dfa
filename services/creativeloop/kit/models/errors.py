"""Errors a model call can raise; each names the model (and tensor) so the log says what broke."""

from __future__ import annotations


class ModelError(RuntimeError):
    """Base class: anything that went wrong calling a model."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"model {model!r}: {reason}")
        self.model = model
        self.reason = reason


class ModelNotFoundError(ModelError):
    """The repository (or the Triton server) has no such model."""


class InputMismatchError(ModelError):
    """An input is missing, unexpected, or has the wrong dtype or shape."""

    def __init__(self, model: str, tensor: str, reason: str) -> None:
        super().__init__(model, f"tensor {tensor!r}: {reason}")
        self.tensor = tensor


class ModelUnavailableError(ModelError):
    """The backend could not answer (Triton unreachable, deadline exceeded after retries)."""
