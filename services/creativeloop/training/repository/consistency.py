"""Check that every config.pbtxt states what its ONNX file really takes and returns.

Triton's onnxruntime backend cannot be started on these machines, so this is the test that
stands in for "the server loads the repository": names, data types, dims and the batch
dimension of each config are compared with the ONNX graph, the way the backend compares them
at load time. Every problem names the model and the tensor.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from creativeloop.kit.models.spec import parse_config

ONNX_PLATFORMS = ("onnxruntime_onnx",)

# ONNX element types and the Triton data types that carry them.
ONNX_TO_TRITON: dict[int, str] = {
    onnx.TensorProto.BOOL: "TYPE_BOOL",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.UINT16: "TYPE_UINT16",
    onnx.TensorProto.UINT32: "TYPE_UINT32",
    onnx.TensorProto.UINT64: "TYPE_UINT64",
    onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.INT16: "TYPE_INT16",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.BFLOAT16: "TYPE_BF16",
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.STRING: "TYPE_STRING",
}


def _onnx_tensors(values: list[onnx.ValueInfoProto]) -> dict[str, tuple[str, tuple[int | None, ...] | None]]:
    """name -> (Triton type, dims with None for a symbolic/unknown dim; None if rank unknown)."""
    found: dict[str, tuple[str, tuple[int | None, ...] | None]] = {}
    for value in values:
        tensor_type = value.type.tensor_type
        type_name = ONNX_TO_TRITON.get(tensor_type.elem_type, f"onnx element type {tensor_type.elem_type}")
        dims: tuple[int | None, ...] | None = None
        if tensor_type.HasField("shape"):
            dims = tuple(
                d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in tensor_type.shape.dim
            )
        found[value.name] = (type_name, dims)
    return found


def _fmt(dims: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _compare(
    model: str,
    kind: str,
    tensor: model_config_pb2.ModelInput | model_config_pb2.ModelOutput,
    onnx_type: str,
    onnx_dims: tuple[int | None, ...] | None,
    max_batch_size: int,
) -> list[str]:
    where = f"{model}: {kind} {tensor.name!r}"
    problems: list[str] = []
    config_type = model_config_pb2.DataType.Name(tensor.data_type)
    if config_type != onnx_type:
        problems.append(f"{where}: data_type {config_type} in config.pbtxt, {onnx_type} in model.onnx")
    if onnx_dims is None:
        return problems
    config_dims = tuple(int(d) for d in tensor.dims)
    model_dims = onnx_dims
    if max_batch_size > 0:
        if not model_dims:
            return [*problems, f"{where}: max_batch_size {max_batch_size} but model.onnx has a scalar"]
        if model_dims[0] is not None:
            problems.append(
                f"{where}: max_batch_size {max_batch_size} needs a variable leading (batch) dim, "
                f"model.onnx fixes it at {model_dims[0]} (set max_batch_size: 0 and list every dim)"
            )
        model_dims = model_dims[1:]
    if len(config_dims) != len(model_dims):
        batch = " plus the batch dim" if max_batch_size > 0 else ""
        problems.append(
            f"{where}: dims {list(config_dims)}{batch} in config.pbtxt, {_fmt(onnx_dims)} in model.onnx "
            f"(rank {len(config_dims)} vs {len(model_dims)})"
        )
        return problems
    for axis, (want, have) in enumerate(zip(config_dims, model_dims, strict=True)):
        if have is not None and want != have:
            problems.append(
                f"{where}: dim {axis} is {want} in config.pbtxt, {have} in model.onnx "
                f"(config dims {list(config_dims)}, model dims {_fmt(onnx_dims)})"
            )
        elif want == 0 or want < -1:
            problems.append(f"{where}: dim {axis} is {want}; use -1 for a variable size")
    return problems


def check_model(model_dir: Path, name: str | None = None) -> list[str]:
    """Problems of one model folder (``name`` defaults to the folder's name)."""
    model = name or model_dir.name
    config_path = model_dir / "config.pbtxt"
    if not config_path.is_file():
        return [f"{model}: no config.pbtxt in {model_dir}"]
    try:
        config = parse_config(config_path.read_text(encoding="utf-8"))
    except text_format.ParseError as error:
        return [f"{model}: config.pbtxt does not parse with Triton's schema: {error}"]
    problems: list[str] = []
    if config.name and config.name != model:
        problems.append(f"{model}: config.pbtxt names the model {config.name!r}, its folder is {model!r}")
    if config.platform not in ONNX_PLATFORMS and config.backend != "onnxruntime":
        return [*problems, f"{model}: platform {config.platform!r} / backend {config.backend!r} is not ONNX"]
    if config.max_batch_size < 0:
        problems.append(f"{model}: max_batch_size {config.max_batch_size} is negative")
    if config.HasField("dynamic_batching") and config.max_batch_size == 0:
        problems.append(f"{model}: dynamic_batching needs max_batch_size > 0")
    for tensor in (*config.input, *config.output):
        if tensor.HasField("reshape"):
            problems.append(f"{model}: tensor {tensor.name!r} uses reshape, which this check does not model")
    for tensor in config.output:
        if tensor.label_filename and not (model_dir / tensor.label_filename).is_file():
            problems.append(
                f"{model}: tensor {tensor.name!r}: label_filename {tensor.label_filename!r} missing"
            )
    versions = sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())
    if not versions:
        return [*problems, f"{model}: no numbered version folder (e.g. {model_dir / '1'})"]
    filename = config.default_model_filename or "model.onnx"
    for version in versions:
        onnx_path = model_dir / str(version) / filename
        if not onnx_path.is_file():
            problems.append(f"{model}: version {version} has no {filename}")
            continue
        problems += _check_graph(model, config, onnx_path, version, len(versions) > 1)
    return problems


def _check_graph(
    model: str, config: model_config_pb2.ModelConfig, onnx_path: Path, version: int, tag: bool
) -> list[str]:
    label = f"{model} (version {version})" if tag else model
    try:
        graph = onnx.load(str(onnx_path), load_external_data=False).graph
    except Exception as error:  # onnx raises DecodeError and friends
        return [f"{label}: {onnx_path} is not a readable ONNX file: {error}"]
    initializers = {i.name for i in graph.initializer}
    inputs = _onnx_tensors([v for v in graph.input if v.name not in initializers])
    outputs = _onnx_tensors(list(graph.output))
    problems: list[str] = []
    for kind, declared, actual in (("input", config.input, inputs), ("output", config.output, outputs)):
        for tensor in declared:
            if tensor.name not in actual:
                problems.append(
                    f"{label}: {kind} {tensor.name!r} is in config.pbtxt but not in model.onnx "
                    f"(model {kind}s: {sorted(actual)})"
                )
                continue
            onnx_type, onnx_dims = actual[tensor.name]
            problems += _compare(label, kind, tensor, onnx_type, onnx_dims, int(config.max_batch_size))
    declared_inputs = {t.name for t in config.input}
    for name in sorted(set(inputs) - declared_inputs):
        problems.append(f"{label}: input {name!r} of model.onnx is missing from config.pbtxt")
    return problems


def check_repository(root: Path) -> list[str]:
    """Problems of every model folder under ``root`` (a folder with config.pbtxt or versions)."""
    root = Path(root)
    if not root.is_dir():
        return [f"no model repository at {root} (build it: creativeloop models build)"]
    problems: list[str] = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        problems += check_model(model_dir)
    return problems
