"""Shot embeddings both ways: colour histograms (no model) and a model through the kit's client.

The model path runs a real onnxruntime session: a small ONNX graph with the `image_classifier`
contract (uint8 [N,224,224,3] in; `probabilities` [N,1000] and L2-normalised `embedding`
[N,1280] out), and the repository's EfficientNet-Lite0 when `creativeloop models build` has put
it in deploy/model-repository.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from creativeloop.datasets.synthetic_video import default_script, make_video, product_png, to_mp4
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.videogen.embed import HistogramEmbedder, ModelEmbedder
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.settings import VideogenSettings

REPOSITORY = Path(__file__).resolve().parents[2] / "deploy" / "model-repository"
CONFIG = """name: "image_classifier"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "image", data_type: TYPE_UINT8, dims: [ 224, 224, 3 ] } ]
output [
  { name: "probabilities", data_type: TYPE_FP32, dims: [ 1000 ] },
  { name: "embedding", data_type: TYPE_FP32, dims: [ 1280 ] }
]
"""


def colour_model() -> onnx.ModelProto:
    """embedding = L2-normalise(relu(mean colour of 4x4 image blocks @ W)); probabilities = softmax."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[56, 56], strides=[56, 56]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Sub", ["flat", "centre"], ["centred"]),
        helper.make_node("MatMul", ["centred", "w"], ["hidden"]),
        helper.make_node("Relu", ["hidden"], ["positive"]),
        helper.make_node("LpNormalization", ["positive"], ["embedding"], axis=1, p=2),
        helper.make_node("MatMul", ["embedding", "w2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "image_classifier",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 224, 224, 3])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 1000]),
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 1280]),
        ],
        initializer=[
            numpy_helper.from_array(np.full((1, 48), 127.0, np.float32), "centre"),
            numpy_helper.from_array(rng.normal(0, 1, (48, 1280)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.normal(0, 1, (1280, 1000)).astype(np.float32), "w2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def tiny_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "image_classifier" / "1").mkdir(parents=True)
    (root / "image_classifier" / "config.pbtxt").write_text(CONFIG)
    onnx.save(colour_model(), str(root / "image_classifier" / "1" / "model.onnx"))
    return root


@pytest.fixture(scope="module")
def clip() -> bytes:
    shots, transitions = default_script(1.6)
    return to_mp4(make_video(shots, transitions, size=(256, 144)))


def product() -> np.ndarray:
    return np.asarray(cv2.imdecode(np.frombuffer(product_png(), np.uint8), cv2.IMREAD_COLOR))


def test_histogram_embeddings_are_unit_rows() -> None:
    image = product()
    rows = HistogramEmbedder().embed([image, image, 255 - image])
    assert rows.shape == (3, 256)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    assert rows[0] @ rows[1] == pytest.approx(1.0) and rows[0] @ rows[2] < 0.9


def test_model_embeddings_through_the_embedded_client(tiny_repository: Path, clip: bytes) -> None:
    client = EmbeddedModelClient(tiny_repository)
    try:
        embedder = ModelEmbedder(client)
        rows = embedder.embed([product()] * 10)  # more than one batch of 8
        assert rows.shape == (10, 1280) and np.allclose(np.linalg.norm(rows, axis=1), 1.0)
        pipeline = VideoPipeline(VideogenSettings(x264_preset="ultrafast", output_long_side=160), embedder)
        summary = pipeline.summarize(clip, 4.0, product_image=product())
        assert summary.rendered.frames == 100
        assert all("product_similarity" in s.features for s in summary.understanding.shots)
        assert all(s.descriptor.shape == (1280,) for s in summary.understanding.shots)
    finally:
        client.close()


@pytest.mark.skipif(
    not (REPOSITORY / "image_classifier" / "1" / "model.onnx").is_file(),
    reason="deploy/model-repository has no image_classifier (run `creativeloop models build`)",
)
def test_the_real_classifier_tells_product_shots_apart(clip: bytes) -> None:
    client = EmbeddedModelClient(REPOSITORY)
    try:
        pipeline = VideoPipeline(VideogenSettings(), ModelEmbedder(client))
        understanding = pipeline.understand(clip, product())
    finally:
        client.close()
    shots, _ = default_script(1.6)
    similarity = {s.shot.index: s.features["product_similarity"] for s in understanding.shots}
    with_product = [similarity[i] for i, spec in enumerate(shots) if spec.product and i in similarity]
    without = [similarity[i] for i, spec in enumerate(shots) if not spec.product and i in similarity]
    assert len(understanding.shots) == len(shots)
    assert min(with_product) > max(without)
