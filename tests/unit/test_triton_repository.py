"""The Python-backend repository derived for the local Triton keeps the production model contract."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from tritonclient.grpc import model_config_pb2

from creativeloop.kit.models.errors import ModelNotFoundError
from creativeloop.kit.models.spec import parse_config, spec_from_config
from creativeloop.stack.triton import (
    MODEL_PY,
    RepositoryError,
    failure_summary,
    listening_ports,
    python_backend_config,
    python_backend_repository,
)

SOURCE_CONFIG = """
name: "scorer"
platform: "onnxruntime_onnx"
max_batch_size: 8
version_policy { specific { versions: [1, 2] } }
input [
  { name: "features" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "ids" data_type: TYPE_INT64 dims: [ -1 ] }
]
output [ { name: "score" data_type: TYPE_FP32 dims: [ 1 ] } ]
dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 500 }
instance_group [ { kind: KIND_GPU count: 2 gpus: [ 0 ] } ]
optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" } ] } }
parameters { key: "intra_op_thread_count" value { string_value: "2" } }
"""


def _source(tmp_path: Path, config: str = SOURCE_CONFIG, name: str = "scorer") -> Path:
    repository = tmp_path / "source"
    for version in ("1", "2"):
        (repository / name / version).mkdir(parents=True)
        (repository / name / version / "model.onnx").write_bytes(f"onnx v{version}".encode())
    (repository / name / "labels.txt").write_text("a label per line: an output's label_filename\n")
    (repository / name / "config.pbtxt").write_text(config)
    return repository


def test_config_keeps_the_contract_and_runs_python_on_cpu() -> None:
    source = parse_config(SOURCE_CONFIG)
    derived = python_backend_config(source)

    assert derived.backend == "python"
    assert derived.platform == ""
    assert spec_from_config(derived) == spec_from_config(source)
    assert derived.dynamic_batching == source.dynamic_batching
    assert derived.version_policy == source.version_policy
    assert derived.parameters["intra_op_thread_count"].string_value == "2"
    assert list(derived.instance_group) == [
        model_config_pb2.ModelInstanceGroup(kind=model_config_pb2.ModelInstanceGroup.KIND_CPU, count=1)
    ]
    assert not derived.HasField("optimization")


def test_repository_layout(tmp_path: Path) -> None:
    source = _source(tmp_path)
    derived = python_backend_repository(source, tmp_path / "work", instance_count=2)

    assert derived == tmp_path / "work" / "repository"
    assert sorted(p.name for p in derived.iterdir()) == ["scorer"]
    config = parse_config((derived / "scorer" / "config.pbtxt").read_text())
    assert config.backend == "python" and config.instance_group[0].count == 2
    for version in ("1", "2"):
        onnx_file = derived / "scorer" / version / "model.onnx"
        assert onnx_file.read_bytes() == f"onnx v{version}".encode()
        assert os.path.samefile(onnx_file, source / "scorer" / version / "model.onnx")  # linked, not copied
        assert (derived / "scorer" / version / "model.py").read_text() == MODEL_PY
    assert (derived / "scorer" / "labels.txt").read_text() == (source / "scorer" / "labels.txt").read_text()


def test_rebuild_replaces_the_previous_repository(tmp_path: Path) -> None:
    source = _source(tmp_path)
    derived = python_backend_repository(source, tmp_path / "work")
    (derived / "stale").mkdir()
    python_backend_repository(source, tmp_path / "work")
    assert not (derived / "stale").exists()


def test_model_py_is_valid_python() -> None:
    compile(MODEL_PY, "model.py", "exec")
    assert "class TritonPythonModel" in MODEL_PY
    assert '"CPUExecutionProvider"' in MODEL_PY


def test_default_model_filename_is_served_as_model_onnx(tmp_path: Path) -> None:
    config = SOURCE_CONFIG.replace(
        "max_batch_size: 8", 'max_batch_size: 8\ndefault_model_filename: "net.onnx"'
    )
    source = _source(tmp_path, config)
    for version in ("1", "2"):
        (source / "scorer" / version / "model.onnx").rename(source / "scorer" / version / "net.onnx")
    derived = python_backend_repository(source, tmp_path / "work")
    assert (derived / "scorer" / "2" / "model.onnx").read_bytes() == b"onnx v2"
    assert parse_config((derived / "scorer" / "config.pbtxt").read_text()).default_model_filename == ""


def test_selected_models_only(tmp_path: Path) -> None:
    source = _source(tmp_path)
    other = _source(tmp_path / "b", SOURCE_CONFIG.replace('"scorer"', '"other"'), "other")
    (source / "other").symlink_to(other / "other")
    assert sorted(p.name for p in python_backend_repository(source, tmp_path / "w1").iterdir()) == [
        "other",
        "scorer",
    ]
    only_other = python_backend_repository(source, tmp_path / "w2", ["other"])
    assert [p.name for p in only_other.iterdir()] == ["other"]
    with pytest.raises(RepositoryError, match="missing"):
        python_backend_repository(source, tmp_path / "w3", ["missing"])


DYNAMIC_BATCHING = "dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 500 }"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('platform: "onnxruntime_onnx"', 'platform: "tensorrt_plan"', "not an ONNX model"),
        ('platform: "onnxruntime_onnx"', 'backend: "pytorch"', "not onnxruntime"),
        ('platform: "onnxruntime_onnx"', "", "neither platform nor backend"),
        (DYNAMIC_BATCHING, "sequence_batching { }", "sequence_batching"),
        ('name: "scorer"', 'name: "renamed"', "holds a config named"),
    ],
)
def test_unservable_models_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SOURCE_CONFIG
    with pytest.raises(RepositoryError, match=message):
        python_backend_repository(_source(tmp_path, SOURCE_CONFIG.replace(old, new)), tmp_path / "work")


def test_backend_onnxruntime_is_accepted(tmp_path: Path) -> None:
    config = SOURCE_CONFIG.replace('platform: "onnxruntime_onnx"', 'backend: "onnxruntime"')
    derived = python_backend_repository(_source(tmp_path, config), tmp_path / "work")
    assert parse_config((derived / "scorer" / "config.pbtxt").read_text()).backend == "python"


def test_missing_versions_and_files(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="no model repository"):
        python_backend_repository(tmp_path / "nowhere", tmp_path / "work")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RepositoryError, match="no models"):
        python_backend_repository(empty, tmp_path / "work")
    (empty / "m").mkdir()
    (empty / "m" / "config.pbtxt").write_text(SOURCE_CONFIG.replace('"scorer"', '"m"'))
    with pytest.raises(ModelNotFoundError):
        python_backend_repository(empty, tmp_path / "work")
    (empty / "m" / "1").mkdir()
    with pytest.raises(RepositoryError, match=r"holds model\.onnx"):
        python_backend_repository(empty, tmp_path / "work")


FAILED_START_LOG = """\
I1124 12:24:55.713122 2264 pinned_memory_manager.cc:283] "Pinned memory pool disabled"
E1124 12:24:55.713640 2264 server.cc:241] "CudaDriverHelper has not been initialized."
E1124 12:24:57.447598 2264 model_lifecycle.cc:642] "failed to load 'scorer' version 1: Internal: bad file"
+--------+---------+------------------------------+
| Model  | Version | Status                       |
+--------+---------+------------------------------+
| other  | 1       | READY                        |
| scorer | 1       | UNAVAILABLE: Internal: bad file |
+--------+---------+------------------------------+
I1124 12:24:57.668417 2264 server.cc:305] "Waiting for in-flight requests to complete."
error: creating server: Internal - failed to load all models
"""


def test_failure_summary_keeps_the_reasons_not_the_noise() -> None:
    assert failure_summary(FAILED_START_LOG) == [
        FAILED_START_LOG.splitlines()[2],
        "scorer 1 UNAVAILABLE: Internal: bad file",
        "error: creating server: Internal - failed to load all models",
    ]


def test_listening_ports_sees_only_the_process_own_sockets() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        assert port not in (listening_ports(os.getpid()) or set())
        listener.listen()
        assert port in (listening_ports(os.getpid()) or set())
        assert port not in (listening_ports(os.getppid()) or set())
