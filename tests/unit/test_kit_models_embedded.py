"""The embedded backend on a real onnxruntime session: results, validation, micro-batching."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from creativeloop.kit.models import InputMismatchError, ModelError, ModelNotFoundError
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.settings import ModelSettings
from tests.unit.tiny_models import WEIGHTS, write_tiny_repository


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    return write_tiny_repository(tmp_path / "models")


def _inputs(rows: int, offset: int = 0) -> dict[str, np.ndarray]:
    x = (np.arange(rows * 4, dtype=np.float32).reshape(rows, 4) + offset) / 7.0
    ids = np.arange(rows * 2, dtype=np.int64).reshape(rows, 2) + offset
    return {"x": x, "ids": ids}


def test_infer_matches_numpy(repository: Path) -> None:
    client = EmbeddedModelClient(repository)
    inputs = _inputs(3)
    result = client.infer("tiny", inputs)
    np.testing.assert_allclose(result["y"], inputs["x"] @ WEIGHTS, rtol=1e-6)
    np.testing.assert_array_equal(result["ids_sum"], inputs["ids"].sum(axis=1, keepdims=True))
    assert list(client.infer("tiny", inputs, outputs=["y"])) == ["y"]


@pytest.mark.parametrize(
    ("inputs", "tensor", "reason"),
    [
        ({"x": np.zeros((1, 4), np.float32)}, "ids", "missing input"),
        ({"x": np.zeros((1, 4), np.float64), "ids": np.zeros((1, 2), np.int64)}, "x", "dtype float64"),
        ({"x": np.zeros((1, 5), np.float32), "ids": np.zeros((1, 2), np.int64)}, "x", "shape (1, 5)"),
        ({"x": np.zeros((9, 4), np.float32), "ids": np.zeros((9, 2), np.int64)}, "x", "max_batch_size 8"),
        ({"x": np.zeros((2, 4), np.float32), "ids": np.zeros((3, 2), np.int64)}, "ids", "differs"),
        (
            {"x": np.zeros((1, 4), np.float32), "ids": np.zeros((1, 2), np.int64), "z": np.zeros(1)},
            "z",
            "unexpected input",
        ),
    ],
)
def test_bad_inputs_name_the_model_and_tensor(
    repository: Path, inputs: dict[str, np.ndarray], tensor: str, reason: str
) -> None:
    client = EmbeddedModelClient(repository)
    with pytest.raises(InputMismatchError) as raised:
        client.infer("tiny", inputs)
    assert raised.value.tensor == tensor
    assert "'tiny'" in str(raised.value) and reason in str(raised.value)


def test_unknown_output_and_missing_model(repository: Path) -> None:
    client = EmbeddedModelClient(repository)
    with pytest.raises(InputMismatchError, match="no such output"):
        client.infer("tiny", _inputs(1), outputs=["nope"])
    with pytest.raises(ModelNotFoundError, match="'absent'"):
        client.infer("absent", _inputs(1))


def test_missing_onnx_file_is_a_clear_error(repository: Path) -> None:
    (repository / "tiny" / "1" / "model.onnx").unlink()
    with pytest.raises(ModelNotFoundError, match=r"model\.onnx"):
        EmbeddedModelClient(repository).infer("tiny", _inputs(1))


def test_unavailable_provider_is_refused_not_silently_replaced(repository: Path) -> None:
    client = EmbeddedModelClient(repository, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(ModelError, match="CUDAExecutionProvider requested"):
        client.infer("tiny", _inputs(1))


async def test_health_reports_the_failing_model(repository: Path) -> None:
    client = EmbeddedModelClient(repository)
    assert (await client.health(["tiny"])).ok
    health = await client.health(["tiny", "absent"])
    assert not health.ok and "'absent'" in health.reason


async def test_micro_batching_joins_concurrent_calls_and_splits_results(repository: Path) -> None:
    client = EmbeddedModelClient(repository, micro_batch_max=8, micro_batch_wait_ms=20)
    calls = [_inputs(1, offset=i) for i in range(6)] + [_inputs(2, offset=100)]
    runs: list[int] = []
    original = client._run_validated

    def counting(model: str, inputs: dict[str, np.ndarray], outputs: object) -> dict[str, np.ndarray]:
        runs.append(int(inputs["x"].shape[0]))
        return original(model, inputs, outputs)  # type: ignore[arg-type]

    assert client._batcher is not None
    client._batcher._run = counting  # type: ignore[assignment]
    results = await asyncio.gather(*(client.ainfer("tiny", call) for call in calls))
    for call, result in zip(calls, results, strict=True):
        np.testing.assert_allclose(result["y"], call["x"] @ WEIGHTS, rtol=1e-6)
        np.testing.assert_array_equal(result["ids_sum"], call["ids"].sum(axis=1, keepdims=True))
    assert sum(runs) == 8 and len(runs) < len(calls), runs


def test_settings_pick_the_backend(repository: Path) -> None:
    embedded = model_client_from_settings(ModelSettings(repository=repository))
    assert embedded.backend == "embedded"
    triton = model_client_from_settings(ModelSettings(backend="triton", triton_url="127.0.0.1:1"))
    assert triton.backend == "triton"
