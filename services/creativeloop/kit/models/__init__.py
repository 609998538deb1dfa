"""One way to call a model, embedded (onnxruntime in-process) or remote (Triton over gRPC).

Services ask for a `ModelClient` with `model_client_from_settings()` and call
``client.infer(model, {input: array})``; which backend serves it is a deployment setting.
"""

from creativeloop.kit.models.client import BackendHealth, ModelClient
from creativeloop.kit.models.errors import (
    InputMismatchError,
    ModelError,
    ModelNotFoundError,
    ModelUnavailableError,
)
from creativeloop.kit.models.spec import ModelSpec, TensorSpec

__all__ = [
    "BackendHealth",
    "InputMismatchError",
    "ModelClient",
    "ModelError",
    "ModelNotFoundError",
    "ModelSpec",
    "ModelUnavailableError",
    "TensorSpec",
]
