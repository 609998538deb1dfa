"""background_generator: the imagegen background slot's reference model, constructed (not trained).

An ONNX graph written node by node with `onnx.helper` (no weights, no torch): a vertical
gradient tinted with the product's dominant colour plus a soft glow around the product, the same
field as `creativeloop.imagegen.generator.colour_field` computes in numpy. It does **not**
generate photoreal scenes. It exists so the contract (`cutout` UINT8 [N, H, W, 4] RGBA +
`condition` FP32 [N, 4] -> `background` UINT8 [N, H, W, 3] RGB) is served and tested through both
model backends; a learned generator (a GAN or a distilled diffusion model exported to ONNX) drops
in under the same name with the same tensors.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper

from creativeloop.imagegen import generator as g
from creativeloop.training.repository.pbtxt import Tensor, render_config
from creativeloop.training.repository.source import BuildContext, BuildResult, Measurement, source
from creativeloop.training.sources._common import fmt, ort_session, tools

NAME = "background_generator"
OPSET = 17


def _config() -> str:
    return render_config(
        NAME,
        max_batch_size=8,
        inputs=[Tensor("cutout", "TYPE_UINT8", (-1, -1, 4)), Tensor("condition", "TYPE_FP32", (4,))],
        outputs=[Tensor("background", "TYPE_UINT8", (-1, -1, 3))],
        batching=None,
        comment=[
            "background_generator: imagegen's background slot. Inputs: the product cut-out placed on a",
            "transparent canvas of the creative's size (RGBA) and a condition vector (dominant colour",
            "r, g, b in 0..1, target lightness 0..1). Output: the RGB background, same size.",
            "This build is a constructed colour-field graph (see the model card), not a learned model;",
            "no dynamic batching: canvases of different sizes do not batch.",
        ],
    )


def build_graph() -> Any:
    """The ONNX model (an onnx.ModelProto): colour field + glow, constants from the generator."""

    def const(name: str, value: Any, dtype: Any = np.float32) -> Any:
        return helper.make_node(
            "Constant", [], [name], value=onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
        )

    nodes = [
        const("c255", 255.0),
        const("one", 1.0),
        const("zero", 0.0),
        const("wash", g.WASH),
        const("keep", 1.0 - g.WASH),
        const("shade", g.SHADE),
        const("gain", g.GLOW_GAIN),
        const("glow_k", g.GLOW),
        const("half", 0.5),
        const("a_start", [3], np.int64),
        const("a_end", [4], np.int64),
        const("axis3", [3], np.int64),
        const("c_start", [0], np.int64),
        const("c_end", [3], np.int64),
        const("axis1", [1], np.int64),
        const("idx1", 1, np.int64),
        const("ramp_shape", [1, -1, 1, 1], np.int64),
        const("col_shape", [-1, 1, 1, 3], np.int64),
        # glow from the alpha channel: pool by 8, two 5x5 means (pads excluded), resize back
        helper.make_node("Slice", ["cutout", "a_start", "a_end", "axis3"], ["alpha_u8"]),
        helper.make_node("Cast", ["alpha_u8"], ["alpha_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["alpha_f", "c255"], ["alpha"]),
        helper.make_node("Transpose", ["alpha"], ["alpha_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node(
            "AveragePool", ["alpha_nchw"], ["pooled"], kernel_shape=[g.POOL, g.POOL], strides=[g.POOL, g.POOL]
        ),
        helper.make_node(
            "AveragePool",
            ["pooled"],
            ["blur1"],
            kernel_shape=[g.BLUR, g.BLUR],
            pads=[g.BLUR // 2] * 4,
            count_include_pad=0,
        ),
        helper.make_node(
            "AveragePool",
            ["blur1"],
            ["blur2"],
            kernel_shape=[g.BLUR, g.BLUR],
            pads=[g.BLUR // 2] * 4,
            count_include_pad=0,
        ),
        helper.make_node("Shape", ["alpha_nchw"], ["full_size"]),
        helper.make_node(
            "Resize",
            ["blur2", "", "", "full_size"],
            ["up"],
            mode="linear",
            coordinate_transformation_mode="half_pixel",
        ),
        helper.make_node("Mul", ["up", "gain"], ["up_gain"]),
        helper.make_node("Clip", ["up_gain", "zero", "one"], ["glow_nchw"]),
        helper.make_node("Transpose", ["glow_nchw"], ["glow"], perm=[0, 2, 3, 1]),
        # the tinted vertical gradient
        helper.make_node("Slice", ["condition", "c_start", "c_end", "axis1"], ["colour"]),
        helper.make_node("Slice", ["condition", "c_end", "a_end", "axis1"], ["lightness"]),
        helper.make_node("Mul", ["colour", "keep"], ["colour_part"]),
        helper.make_node("Mul", ["lightness", "wash"], ["light_part"]),
        helper.make_node("Add", ["colour_part", "light_part"], ["top_flat"]),
        helper.make_node("Reshape", ["top_flat", "col_shape"], ["top"]),
        helper.make_node("Mul", ["top", "shade"], ["bottom"]),
        helper.make_node("Sub", ["bottom", "top"], ["span"]),
        helper.make_node("Shape", ["cutout"], ["in_shape"]),
        helper.make_node("Gather", ["in_shape", "idx1"], ["height_i"], axis=0),
        helper.make_node("Cast", ["height_i"], ["height_f"], to=TensorProto.FLOAT),
        helper.make_node("Range", ["zero", "height_f", "one"], ["rows"]),
        helper.make_node("Sub", ["height_f", "one"], ["last_row"]),
        helper.make_node("Max", ["last_row", "one"], ["denominator"]),
        helper.make_node("Div", ["rows", "denominator"], ["ramp_flat"]),
        helper.make_node("Reshape", ["ramp_flat", "ramp_shape"], ["ramp"]),
        helper.make_node("Mul", ["span", "ramp"], ["delta"]),
        helper.make_node("Add", ["top", "delta"], ["field"]),
        # field + (1 - field) * GLOW * glow, to uint8 (round half up, as numpy's +0.5 and cast)
        helper.make_node("Sub", ["one", "field"], ["headroom"]),
        helper.make_node("Mul", ["glow", "glow_k"], ["glow_scaled"]),
        helper.make_node("Mul", ["headroom", "glow_scaled"], ["lift"]),
        helper.make_node("Add", ["field", "lift"], ["lit"]),
        helper.make_node("Mul", ["lit", "c255"], ["lit255"]),
        helper.make_node("Add", ["lit255", "half"], ["rounded"]),
        helper.make_node("Clip", ["rounded", "zero", "c255"], ["clipped"]),
        helper.make_node("Cast", ["clipped"], ["background"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes,
        NAME,
        [
            helper.make_tensor_value_info("cutout", TensorProto.UINT8, ["N", "H", "W", 4]),
            helper.make_tensor_value_info("condition", TensorProto.FLOAT, ["N", 4]),
        ],
        [helper.make_tensor_value_info("background", TensorProto.UINT8, ["N", "H", "W", 3])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="creativeloop"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def sample_inputs(height: int = 160, width: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic RGBA cut-out (an ellipse) and a condition, for agreement checks."""
    rgba = np.zeros((height, width, 4), np.uint8)
    cv2.ellipse(rgba, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, (200, 40, 40, 255), -1)
    return rgba, np.asarray([0.8, 0.15, 0.2, 0.9], np.float32)


@source(NAME)
def build(ctx: BuildContext) -> BuildResult:
    model = build_graph()
    ctx.model_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.model_path.write_bytes(model.SerializeToString())
    session = ort_session(ctx.model_path)
    worst = 0
    for height, width in ((160, 120), (628, 1200), (800, 800)):
        rgba, condition = sample_inputs(height, width)
        served = session.run(["background"], {"cutout": rgba[None], "condition": condition[None]})[0][0]
        worst = max(worst, int(np.abs(served.astype(np.int16) - g.colour_field(rgba, condition)).max()))
    return BuildResult(
        config=_config(),
        summary="imagegen background slot: a constructed colour field with a glow around the product.",
        licence="Apache-2.0 (written by the project; no weights, no data)",
        packages={},
        how_built=(
            "ONNX graph written with onnx.helper (opset 17): alpha -> 8x8 average pool -> two 5x5 means "
            "-> linear resize -> glow; dominant colour and lightness -> vertical gradient; mixed, to uint8",
            "constants shared with creativeloop.imagegen.generator (the numpy reference)",
        ),
        measurements=(
            Measurement(
                "max abs diff vs numpy colour_field (0..255)",
                fmt(float(worst)),
                "160x120, 1200x628 and 800x800 canvases, onnxruntime CPU",
            ),
        ),
        notes=(
            "Not a generative model: it demonstrates the slot. A GAN or diffusion generator with the same "
            "inputs and outputs replaces it without code changes "
            "(CREATIVELOOP_IMAGEGEN_BACKGROUND_GENERATOR=model).",
            "Canvases of different sizes cannot share a batch, so the config has no dynamic batching.",
        ),
        build_tools=tools(NAME, "onnxruntime", "numpy", "opencv-contrib-python-headless"),
    )
