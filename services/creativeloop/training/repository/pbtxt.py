"""Render a Triton ``config.pbtxt`` from a few facts, readable and with comments.

Hand-rendered rather than ``text_format.MessageToString`` so the file carries comments (how to
move a model onto a GPU, why a model does or does not batch) that survive being committed. The
builder parses every rendered text with Triton's own schema before writing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# What a model gets when nobody says otherwise: one CPU instance. On a GPU node Triton takes
# KIND_GPU with `gpus: [ 0 ]`; the ONNX files are the same.
CPU_INSTANCES = """\
# CPU by default. On a GPU node use `kind: KIND_GPU` (optionally `gpus: [ 0 ]`) and serve the
# same model.onnx with Triton's onnxruntime backend (CUDA provider); for TensorRT add
# optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" } ] } }.
instance_group [
  {
    count: 1
    kind: KIND_CPU
  }
]
"""


@dataclass(frozen=True)
class Tensor:
    """One input or output; ``dims`` excludes the batch dimension when the model batches."""

    name: str
    data_type: str
    dims: tuple[int, ...]
    label_filename: str = ""


@dataclass(frozen=True)
class Batching:
    """Triton's dynamic batcher: merges concurrent requests of equal shapes into one run."""

    preferred_batch_size: tuple[int, ...]
    max_queue_delay_microseconds: int


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tensors(kind: str, tensors: Sequence[Tensor]) -> list[str]:
    lines = [f"{kind} ["]
    for index, tensor in enumerate(tensors):
        lines += [
            "  {",
            f"    name: {_quote(tensor.name)}",
            f"    data_type: {tensor.data_type}",
            f"    dims: [ {', '.join(str(d) for d in tensor.dims)} ]",
        ]
        if tensor.label_filename:
            lines.append(f"    label_filename: {_quote(tensor.label_filename)}")
        lines.append("  }," if index < len(tensors) - 1 else "  }")
    lines.append("]")
    return lines


def render_config(
    name: str,
    *,
    max_batch_size: int,
    inputs: Sequence[Tensor],
    outputs: Sequence[Tensor],
    batching: Batching | None,
    comment: Sequence[str] = (),
) -> str:
    """The config.pbtxt text for an ONNX model served by Triton's onnxruntime backend."""
    lines = [f"# {line}".rstrip() for line in comment]
    lines += [
        f"name: {_quote(name)}",
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch_size}",
        "version_policy: { latest: { num_versions: 1 } }",
    ]
    lines += _tensors("input", inputs)
    lines += _tensors("output", outputs)
    if batching is not None:
        lines += [
            "dynamic_batching {",
            f"  preferred_batch_size: [ {', '.join(str(b) for b in batching.preferred_batch_size)} ]",
            f"  max_queue_delay_microseconds: {batching.max_queue_delay_microseconds}",
            "}",
        ]
    return "\n".join(lines) + "\n" + CPU_INSTANCES
