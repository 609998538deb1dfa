"""Model specs: what a model takes and returns, read from its Triton ``config.pbtxt``.

The config file is the one place a model's contract lives; both backends validate calls
against it, and a test checks every config against its ONNX file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from creativeloop.kit.models.errors import InputMismatchError, ModelNotFoundError

# Triton's data types and the numpy dtypes they carry.
TRITON_TO_NUMPY: dict[str, np.dtype] = {
    "TYPE_BOOL": np.dtype(np.bool_),
    "TYPE_UINT8": np.dtype(np.uint8),
    "TYPE_INT8": np.dtype(np.int8),
    "TYPE_INT16": np.dtype(np.int16),
    "TYPE_INT32": np.dtype(np.int32),
    "TYPE_INT64": np.dtype(np.int64),
    "TYPE_FP16": np.dtype(np.float16),
    "TYPE_FP32": np.dtype(np.float32),
    "TYPE_FP64": np.dtype(np.float64),
    "TYPE_STRING": np.dtype(np.object_),
}
NUMPY_TO_TRITON = {dtype: name for name, dtype in TRITON_TO_NUMPY.items()}


@dataclass(frozen=True)
class TensorSpec:
    """One input or output; ``dims`` excludes the batch dimension, -1 means any size."""

    name: str
    dtype: np.dtype
    dims: tuple[int, ...]

    @property
    def wire_type(self) -> str:
        """The v2-protocol datatype name (``FP32``, ``INT64``, ``BYTES`` ...)."""
        name = NUMPY_TO_TRITON[self.dtype].removeprefix("TYPE_")
        return "BYTES" if name == "STRING" else name


@dataclass(frozen=True)
class ModelSpec:
    """A model's contract as its config.pbtxt states it."""

    name: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    version: int = 1

    def full_shape(self, tensor: TensorSpec) -> tuple[int, ...]:
        """Shape including the batch dimension (as -1) when the model batches."""
        return ((-1,) if self.max_batch_size > 0 else ()) + tensor.dims

    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def validate_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Raise InputMismatchError naming the first tensor that does not fit the contract."""
        expected = {t.name: t for t in self.inputs}
        for name in inputs:
            if name not in expected:
                raise InputMismatchError(self.name, name, f"unexpected input; it takes {sorted(expected)}")
        batch: int | None = None
        for name, tensor in expected.items():
            if name not in inputs:
                raise InputMismatchError(self.name, name, "missing input")
            array = inputs[name]
            if array.dtype != tensor.dtype:
                raise InputMismatchError(self.name, name, f"dtype {array.dtype}, expected {tensor.dtype}")
            shape = self.full_shape(tensor)
            if array.ndim != len(shape) or any(
                want != -1 and got != want for got, want in zip(array.shape, shape, strict=True)
            ):
                raise InputMismatchError(self.name, name, f"shape {array.shape}, expected {shape} (-1 = any)")
            if self.max_batch_size > 0:
                if array.shape[0] > self.max_batch_size:
                    raise InputMismatchError(
                        self.name, name, f"batch {array.shape[0]} over max_batch_size {self.max_batch_size}"
                    )
                if batch is not None and array.shape[0] != batch:
                    raise InputMismatchError(self.name, name, f"batch {array.shape[0]} differs from {batch}")
                batch = array.shape[0]


def _tensor(message: model_config_pb2.ModelInput | model_config_pb2.ModelOutput) -> TensorSpec:
    type_name = model_config_pb2.DataType.Name(message.data_type)
    return TensorSpec(message.name, TRITON_TO_NUMPY[type_name], tuple(int(d) for d in message.dims))


def parse_config(text: str) -> model_config_pb2.ModelConfig:
    """Parse config.pbtxt text with Triton's own schema (unknown fields fail loudly)."""
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def spec_from_config(config: model_config_pb2.ModelConfig, version: int = 1) -> ModelSpec:
    return ModelSpec(
        name=config.name,
        max_batch_size=int(config.max_batch_size),
        inputs=tuple(_tensor(i) for i in config.input),
        outputs=tuple(_tensor(o) for o in config.output),
        version=version,
    )


def latest_version(model_dir: Path) -> int:
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    if not versions:
        raise ModelNotFoundError(model_dir.name, f"no numbered version folder under {model_dir}")
    return max(versions)


def load_spec(repository: Path, model: str) -> ModelSpec:
    """The spec of ``model`` from ``repository/<model>/config.pbtxt`` (latest version)."""
    model_dir = repository / model
    config_path = model_dir / "config.pbtxt"
    if not config_path.is_file():
        raise ModelNotFoundError(model, f"no {config_path} (build the repository: creativeloop models build)")
    return spec_from_config(parse_config(config_path.read_text()), latest_version(model_dir))


def model_file(repository: Path, model: str, version: int | None = None) -> Path:
    """Path of the ONNX file Triton would load for ``model``."""
    model_dir = repository / model
    chosen = latest_version(model_dir) if version is None else version
    path = model_dir / str(chosen) / "model.onnx"
    if not path.is_file():
        raise ModelNotFoundError(model, f"no {path} (build the repository: creativeloop models build)")
    return path
