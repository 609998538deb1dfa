"""A real tritonserver (nvidia-pytriton's, Python backend over onnxruntime) on loopback.

Needs the Triton virtualenv from ``scripts/install-triton.sh``; without it these tests fail (they
do not skip), so CI cannot pass while silently not testing the server.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import tritonclient.grpc as triton_grpc
from onnx import TensorProto, helper, numpy_helper

from creativeloop.kit.models.spec import parse_config, spec_from_config
from creativeloop.kit.models.triton import TritonModelClient
from creativeloop.stack.triton import (
    LocalTriton,
    TritonInstall,
    TritonLaunchError,
    python_backend_repository,
    triton_install,
)

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # after the telemetry switch

pytestmark = pytest.mark.integration

WEIGHTS = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5.5) / 7.0


def tiny_onnx(path: Path) -> None:
    """y = x @ W + float(offset) (FP32), z = offset + 1 (INT64); batch dimension free."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Cast", ["offset"], ["offset_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["xw", "offset_f"], ["y"]),
        helper.make_node("Add", ["offset", "one"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("offset", TensorProto.INT64, ["batch", 3]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("z", TensorProto.INT64, ["batch", 3]),
        ],
        initializer=[numpy_helper.from_array(WEIGHTS, "w"), numpy_helper.from_array(np.array([1]), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True)
    onnx.save(model, str(path))


def tiny_config(name: str, queue_delay_us: int) -> str:
    return f"""
name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }},
  {{ name: "offset" data_type: TYPE_INT64 dims: [ 3 ] }}
]
output [
  {{ name: "y" data_type: TYPE_FP32 dims: [ 3 ] }},
  {{ name: "z" data_type: TYPE_INT64 dims: [ 3 ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}
instance_group [ {{ kind: KIND_GPU count: 1 }} ]
parameters {{ key: "intra_op_thread_count" value {{ string_value: "1" }} }}
"""


def onnxruntime_repository(root: Path) -> Path:
    """An onnxruntime-style repository: `tiny` answers at once, `tiny_batched` waits 50 ms to batch."""
    for name, delay_us in (("tiny", 0), ("tiny_batched", 50_000)):
        tiny_onnx(root / name / "1" / "model.onnx")
        (root / name / "config.pbtxt").write_text(tiny_config(name, delay_us))
    return root


def inputs(batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((batch, 4)).astype(np.float32),
        "offset": rng.integers(-1000, 1000, (batch, 3), dtype=np.int64),
    }


def wire_inputs(arrays: dict[str, np.ndarray]) -> list[triton_grpc.InferInput]:
    wire = {"x": "FP32", "offset": "INT64"}
    items = []
    for name, array in arrays.items():
        item = triton_grpc.InferInput(name, list(array.shape), wire[name])
        item.set_data_from_numpy(array)
        items.append(item)
    return items


def processes_running_from(folder: Path) -> list[int]:
    """Live processes whose command line names ``folder`` (the server and its stubs run from it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # not a process, or gone
            continue
        if entry.name.isdigit() and f"{folder}/".encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def install() -> TritonInstall:
    try:
        return triton_install()
    except TritonLaunchError as error:
        pytest.fail(f"the local Triton server is not installed: {error}")


@pytest.fixture(scope="module")
def source_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnxruntime_repository(tmp_path_factory.mktemp("onnx-repository"))


@pytest.fixture(scope="module")
def server(
    install: TritonInstall, source_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalTriton]:
    work = tmp_path_factory.mktemp("triton")
    repository = python_backend_repository(source_repository, work)
    with LocalTriton(repository, work / "server", venv=install.venv) as running:
        yield running


@pytest.fixture(scope="module")
def reference(source_repository: Path) -> ort.InferenceSession:
    return ort.InferenceSession(
        str(source_repository / "tiny" / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )


@pytest.fixture
def client(server: LocalTriton) -> Iterator[triton_grpc.InferenceServerClient]:
    grpc_client = triton_grpc.InferenceServerClient(server.grpc_url)
    yield grpc_client
    grpc_client.close()


def assert_matches(result: dict[str, np.ndarray], expected: list[Any]) -> None:
    np.testing.assert_allclose(result["y"], expected[0], rtol=1e-5, atol=1e-5)
    assert result["y"].dtype == np.float32
    np.testing.assert_array_equal(result["z"], expected[1])
    assert result["z"].dtype == np.int64


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_infer_matches_onnxruntime_in_process(
    client: triton_grpc.InferenceServerClient, reference: ort.InferenceSession, batch: int
) -> None:
    arrays = inputs(batch, seed=batch)
    result = client.infer("tiny", wire_inputs(arrays), client_timeout=10)
    assert_matches({n: result.as_numpy(n) for n in ("y", "z")}, reference.run(["y", "z"], arrays))


def test_project_client_against_the_server(server: LocalTriton, reference: ort.InferenceSession) -> None:
    """The services' own Triton client (validation, deadlines) works against the local server."""
    model_client = TritonModelClient(server.grpc_url, timeout_s=10)
    try:
        arrays = inputs(5, seed=7)
        assert_matches(model_client.infer("tiny", arrays), reference.run(["y", "z"], arrays))
        assert model_client.infer("tiny", arrays, outputs=["z"]).keys() == {"z"}
    finally:
        model_client.close()


def test_concurrent_requests_are_batched_and_answered_each(
    server: LocalTriton, client: triton_grpc.InferenceServerClient, reference: ort.InferenceSession
) -> None:
    def executions() -> tuple[int, int]:
        stats = client.get_inference_statistics("tiny_batched").model_stats[0]
        return int(stats.inference_count), int(stats.execution_count)

    inferences_before, executions_before = executions()
    sizes = [1, 2, 3, 1, 2, 1, 1, 3, 2, 1, 1, 2]  # 20 rows: at least 3 batches of <= 8
    answers: queue.Queue[tuple[int, Any, Any]] = queue.Queue()
    requests = [inputs(size, seed=100 + i) for i, size in enumerate(sizes)]
    for i, arrays in enumerate(requests):
        client.async_infer(
            "tiny_batched",
            wire_inputs(arrays),
            partial(lambda index, result, error: answers.put((index, result, error)), i),
            client_timeout=30,
        )
    for _ in requests:
        index, result, error = answers.get(timeout=30)
        assert error is None, error
        expected = reference.run(["y", "z"], requests[index])
        assert_matches({n: result.as_numpy(n) for n in ("y", "z")}, expected)
        assert result.as_numpy("y").shape == (sizes[index], 3)

    inferences_after, executions_after = executions()
    assert inferences_after - inferences_before == sum(sizes)
    # Twelve requests inside one 50 ms queue window: Triton hands model.py several per execution.
    assert executions_after - executions_before < len(sizes)
    assert "one by one" not in server.log_path.read_text(errors="replace")


def test_metadata_and_config_match_the_source(
    client: triton_grpc.InferenceServerClient, source_repository: Path
) -> None:
    metadata = client.get_model_metadata("tiny")
    assert metadata.name == "tiny"
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("x", "FP32", [-1, 4]),
        ("offset", "INT64", [-1, 3]),
    ]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
        ("y", "FP32", [-1, 3]),
        ("z", "INT64", [-1, 3]),
    ]
    for name in ("tiny", "tiny_batched"):
        source = parse_config((source_repository / name / "config.pbtxt").read_text())
        served = client.get_model_config(name).config
        assert served.backend == "python"
        assert spec_from_config(served) == spec_from_config(source)
        assert served.dynamic_batching.max_queue_delay_microseconds == (
            source.dynamic_batching.max_queue_delay_microseconds
        )
        assert served.parameters["intra_op_thread_count"].string_value == "1"
    assert client.is_server_ready() and client.is_model_ready("tiny_batched")


def test_bad_input_is_refused_and_the_server_stays_up(
    client: triton_grpc.InferenceServerClient, reference: ort.InferenceSession
) -> None:
    from tritonclient.utils import InferenceServerException

    bad = triton_grpc.InferInput("x", [2, 5], "FP32")
    bad.set_data_from_numpy(np.zeros((2, 5), dtype=np.float32))
    offset = triton_grpc.InferInput("offset", [2, 3], "INT64")
    offset.set_data_from_numpy(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(InferenceServerException, match="unexpected shape"):
        client.infer("tiny", [bad, offset], client_timeout=10)
    arrays = inputs(2, seed=1)
    result = client.infer("tiny", wire_inputs(arrays), client_timeout=10)
    assert_matches({n: result.as_numpy(n) for n in ("y", "z")}, reference.run(["y", "z"], arrays))


def test_a_model_that_cannot_load_fails_the_start_fast(install: TritonInstall, tmp_path: Path) -> None:
    source = onnxruntime_repository(tmp_path / "source")
    (source / "tiny_batched" / "1" / "model.onnx").write_bytes(b"this is not an ONNX file")
    repository = python_backend_repository(source, tmp_path / "work")
    server = LocalTriton(repository, tmp_path / "work" / "server", venv=install.venv)
    began = time.monotonic()
    with pytest.raises(TritonLaunchError, match="exited with code") as failure:
        server.start(timeout_s=120)
    assert time.monotonic() - began < 60
    assert "tiny_batched" in str(failure.value)  # the log tail names the model that broke
    assert not server.running


def test_a_server_not_ready_in_time_is_stopped(install: TritonInstall, tmp_path: Path) -> None:
    repository = python_backend_repository(onnxruntime_repository(tmp_path / "source"), tmp_path / "work")
    server = LocalTriton(repository, tmp_path / "work" / "server", venv=install.venv)
    with pytest.raises(TritonLaunchError, match="not ready"):
        server.start(timeout_s=0.2)
    assert not server.running
    # Stopped while loading models, Triton leaves its Python-backend stubs hanging: none may remain.
    deadline = time.monotonic() + 5
    while processes_running_from(tmp_path / "work" / "server") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_running_from(tmp_path / "work" / "server") == []
    assert list(Path("/dev/shm").glob(f"{server._shm_prefix}*")) == []


@pytest.mark.parametrize("port", ["grpc_port", "metrics_port"])
def test_a_taken_fixed_port_fails_the_start(
    install: TritonInstall, server: LocalTriton, tmp_path: Path, port: str
) -> None:
    """The metrics port is bound last: readiness must not report a server that is about to exit."""
    taken = {port: getattr(server, port)}
    second = LocalTriton(server.repository, tmp_path / "second", venv=install.venv, **taken)
    with pytest.raises(TritonLaunchError, match=f"{taken[port]}' already in use"):
        second.start(timeout_s=60)
    assert not second.running


def test_a_lost_port_race_is_retried_with_new_ports(
    install: TritonInstall, server: LocalTriton, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free port can be taken between choosing it and the server binding it: start tries again."""
    from creativeloop.stack.broker import free_port

    ports = iter([server.grpc_port])  # the first pick is already taken (by the module's server)
    monkeypatch.setattr(
        "creativeloop.stack.triton.free_port", lambda host: next(ports, None) or free_port(host)
    )
    second = LocalTriton(server.repository, tmp_path / "second", venv=install.venv)
    assert second.grpc_port == server.grpc_port
    with second:
        assert second.grpc_port != server.grpc_port
        client = triton_grpc.InferenceServerClient(second.grpc_url)
        assert client.is_model_ready("tiny")
        client.close()


def test_a_missing_install_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(TritonLaunchError, match=r"scripts/install-triton\.sh"):
        triton_install(tmp_path / "no-venv")


def test_command_serves_until_sigterm(
    install: TritonInstall, source_repository: Path, tmp_path: Path
) -> None:
    """`creativeloop models triton` as a process: ready line, answers, SIGTERM stops it cleanly."""
    import signal
    import subprocess
    import sys

    command = [
        sys.executable,
        "-c",
        "from creativeloop.cli.models import triton_command; triton_command()",
        f"--repository={source_repository}",
        "--model=tiny",
        f"--work-dir={tmp_path / 'work'}",
        f"--venv={install.venv}",
        *("--grpc-port=0", "--http-port=0", "--metrics-port=0"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("triton ready in") and lines[0].rstrip().endswith(": tiny"), lines
        grpc_url = lines[1].split()[1]
        grpc_client = triton_grpc.InferenceServerClient(grpc_url)
        arrays = inputs(2, seed=3)
        assert grpc_client.infer("tiny", wire_inputs(arrays)).as_numpy("z").shape == (2, 3)
        grpc_client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert processes_running_from(tmp_path / "work" / "server") == []
