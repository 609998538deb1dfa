"""A tiny ONNX model in a Triton-layout repository, for backend tests that need no real weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WEIGHTS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0

CONFIG = """name: "tiny"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "x", data_type: TYPE_FP32, dims: [ 4 ] },
  { name: "ids", data_type: TYPE_INT64, dims: [ 2 ] }
]
output [
  { name: "y", data_type: TYPE_FP32, dims: [ 3 ] },
  { name: "ids_sum", data_type: TYPE_INT64, dims: [ 1 ] }
]
dynamic_batching { max_queue_delay_microseconds: 1000 }
"""


def tiny_model() -> onnx.ModelProto:
    """y = x @ W ; ids_sum = sum(ids, axis=1): a float and an integer path."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["y"]),
            helper.make_node("ReduceSum", ["ids", "axes"], ["ids_sum"], keepdims=1),
        ],
        "tiny",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 2]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("ids_sum", TensorProto.INT64, ["batch", 1]),
        ],
        initializer=[numpy_helper.from_array(WEIGHTS, "w"), numpy_helper.from_array(np.array([1]), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_tiny_repository(root: Path) -> Path:
    """``root/tiny/config.pbtxt`` and ``root/tiny/1/model.onnx``; returns ``root``."""
    (root / "tiny" / "1").mkdir(parents=True, exist_ok=True)
    (root / "tiny" / "config.pbtxt").write_text(CONFIG)
    onnx.save(tiny_model(), str(root / "tiny" / "1" / "model.onnx"))
    return root
