"""Every config.pbtxt states what its ONNX file takes and returns; wrong copies are caught by name."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2

from creativeloop.kit.models.spec import load_spec, parse_config
from creativeloop.training.repository.consistency import check_model, check_repository
from creativeloop.training.repository.manifest import check_manifest
from creativeloop.training.repository.pbtxt import Batching, Tensor, render_config
from tests.unit.test_modelrepo_support import BUILTIN, reference_repository

# The contract other code is written against: names, wire types and dims without the batch dim.
CONTRACT = {
    "ocr_det": ({"x": ("FP32", (3, -1, -1))}, {"fetch_name_0": ("FP32", (1, -1, -1))}),
    "ocr_cls": ({"x": ("FP32", (3, 48, 192))}, {"save_infer_model/scale_0.tmp_1": ("FP32", (2,))}),
    "ocr_rec": ({"x": ("FP32", (3, 48, -1))}, {"fetch_name_0": ("FP32", (-1, 18710))}),
    "image_classifier": (
        {"image": ("UINT8", (224, 224, 3))},
        {"probabilities": ("FP32", (1000,)), "embedding": ("FP32", (1280,))},
    ),
    "text_embedding": (
        {"input_ids": ("INT64", (-1,)), "attention_mask": ("INT64", (-1,))},
        {"embedding": ("FP32", (384,))},
    ),
    "text_embedding_int8": (
        {"input_ids": ("INT64", (-1,)), "attention_mask": ("INT64", (-1,))},
        {"embedding": ("FP32", (384,))},
    ),
}
BATCHED = {"ocr_cls", "ocr_rec", "image_classifier", "text_embedding", "text_embedding_int8"}


@pytest.fixture(scope="module")
def repository() -> Path:
    return reference_repository().repository


def _copy_model(repository: Path, name: str, target: Path) -> Path:
    """A copy of one model folder (hard links where possible: the ONNX files are large)."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(repository / name, target / name, copy_function=link_or_copy)
    return target / name


def _edit_config(model_dir: Path, old: str, new: str) -> None:
    path = model_dir / "config.pbtxt"
    text = path.read_text()
    assert old in text
    path.unlink()  # a hard link: replace, never write through
    path.write_text(text.replace(old, new))


def test_built_repository_is_consistent(repository: Path) -> None:
    assert check_repository(repository) == []
    assert check_manifest(repository) == []


@pytest.mark.parametrize("name", BUILTIN)
def test_config_states_the_contract(repository: Path, name: str) -> None:
    config = parse_config((repository / name / "config.pbtxt").read_text())
    spec = load_spec(repository, name)
    inputs, outputs = CONTRACT[name]
    assert config.platform == "onnxruntime_onnx"
    assert {t.name: (t.wire_type, t.dims) for t in spec.inputs} == inputs
    assert {t.name: (t.wire_type, t.dims) for t in spec.outputs} == outputs
    assert config.max_batch_size > 0
    assert config.HasField("dynamic_batching") == (name in BATCHED)
    assert config.version_policy.latest.num_versions == 1
    assert [g.kind for g in config.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_CPU]
    assert (repository / name / "1" / "model.onnx").is_file()


def test_side_files_are_where_the_configs_say(repository: Path) -> None:
    assert len((repository / "ocr_rec" / "labels.txt").read_text(encoding="utf-8").splitlines()) == 18708
    labels = (repository / "image_classifier" / "labels.txt").read_text().splitlines()
    assert len(labels) == 1000 and labels[0].startswith("tench")
    for name in ("text_embedding", "text_embedding_int8"):
        vocab = (repository / name / "vocab.txt").read_text(encoding="utf-8").splitlines()
        assert len(vocab) == 30522 and vocab[101] == "[CLS]"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'name: "image"',
            'name: "pixels"',
            "image_classifier: input 'pixels' is in config.pbtxt but not in model",
        ),
        (
            "data_type: TYPE_UINT8",
            "data_type: TYPE_FP32",
            "input 'image': data_type TYPE_FP32 in config.pbtxt",
        ),
        ("dims: [ 224, 224, 3 ]", "dims: [ 3, 224, 224 ]", "image_classifier: input 'image': dim 0 is 3"),
        ("dims: [ 224, 224, 3 ]", "dims: [ 224, 224 ]", "image_classifier: input 'image': dims [224, 224]"),
        ("dims: [ 1280 ]", "dims: [ 1000 ]", "image_classifier: output 'embedding': dim 0 is 1000"),
        ('name: "embedding"', 'name: "features"', "output 'features' is in config.pbtxt but not in model"),
        ('label_filename: "labels.txt"', 'label_filename: "classes.txt"', "'probabilities': label_filename"),
        ("max_batch_size: 32", "max_batch_size: 0", "image_classifier: input 'image': dims [224, 224, 3]"),
    ],
)
def test_a_wrong_config_fails_naming_model_and_tensor(
    repository: Path, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    model_dir = _copy_model(repository, "image_classifier", tmp_path)
    _edit_config(model_dir, old, new)

    problems = check_repository(tmp_path)

    assert any(expected in p for p in problems), problems


def test_an_unparseable_config_and_a_missing_version_are_reported(repository: Path, tmp_path: Path) -> None:
    model_dir = _copy_model(repository, "ocr_cls", tmp_path)
    _edit_config(model_dir, "max_batch_size: 32", "max_batch_size: 32\nmax_batch: 1")
    assert any(p.startswith("ocr_cls: config.pbtxt does not parse") for p in check_repository(tmp_path))

    other = _copy_model(repository, "ocr_det", tmp_path / "b")
    shutil.rmtree(other / "1")
    assert check_repository(tmp_path / "b") == [
        "ocr_det: no numbered version folder (e.g. " + str(other / "1") + ")"
    ]


def _fixed_batch_model(directory: Path) -> None:
    """A tiny ONNX graph whose leading dim is fixed at 1, as many exported detectors are."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "fixed", [x], [y])
    (directory / "1").mkdir(parents=True)
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), directory / "1" / "model.onnx"
    )


def test_max_batch_size_on_a_fixed_leading_dim_fails(tmp_path: Path) -> None:
    model_dir = tmp_path / "detector"
    _fixed_batch_model(model_dir)
    batched = render_config(
        "detector",
        max_batch_size=8,
        inputs=[Tensor("x", "TYPE_FP32", (3, 4, 4))],
        outputs=[Tensor("y", "TYPE_FP32", (3, 4, 4))],
        batching=Batching((4,), 100),
    )
    (model_dir / "config.pbtxt").write_text(batched)

    problems = check_model(model_dir)

    assert any("detector: input 'x': max_batch_size 8 needs a variable leading" in p for p in problems), (
        problems
    )
    assert any("detector: output 'y': max_batch_size 8" in p for p in problems), problems

    unbatched = render_config(
        "detector",
        max_batch_size=0,
        inputs=[Tensor("x", "TYPE_FP32", (1, 3, 4, 4))],
        outputs=[Tensor("y", "TYPE_FP32", (1, 3, 4, 4))],
        batching=None,
    )
    (model_dir / "config.pbtxt").write_text(unbatched)
    assert check_model(model_dir) == []


def test_dynamic_batching_without_a_batch_dim_fails(tmp_path: Path) -> None:
    model_dir = tmp_path / "detector"
    _fixed_batch_model(model_dir)
    (model_dir / "config.pbtxt").write_text(
        render_config(
            "detector",
            max_batch_size=0,
            inputs=[Tensor("x", "TYPE_FP32", (1, 3, 4, 4))],
            outputs=[Tensor("y", "TYPE_FP32", (1, 3, 4, 4))],
            batching=Batching((4,), 100),
        )
    )
    assert check_model(model_dir) == ["detector: dynamic_batching needs max_batch_size > 0"]


def test_manifest_catches_a_changed_file(repository: Path, tmp_path: Path) -> None:
    model_dir = _copy_model(repository, "ocr_cls", tmp_path)
    shutil.copy2(repository / "manifest.json", tmp_path / "manifest.json")
    problems = check_manifest(tmp_path)
    assert (
        all("listed in manifest.json but" in p for p in problems) and problems
    )  # the other models are absent

    _edit_config(model_dir, "max_queue_delay_microseconds: 2000", "max_queue_delay_microseconds: 100")
    assert "ocr_cls: config.pbtxt differs from manifest.json" in " ".join(check_manifest(tmp_path))


def test_staged_onnx_input_missing_from_config_is_reported(tmp_path: Path) -> None:
    model_dir = tmp_path / "two"
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 2])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", 2])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, ["n", 2])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "two", [a, b], [c])
    (model_dir / "1").mkdir(parents=True)
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model_dir / "1" / "model.onnx"
    )
    (model_dir / "config.pbtxt").write_text(
        render_config(
            "two",
            max_batch_size=4,
            inputs=[Tensor("a", "TYPE_FP32", (2,))],
            outputs=[Tensor("c", "TYPE_FP32", (2,))],
            batching=None,
        )
    )
    assert check_model(model_dir) == ["two: input 'b' of model.onnx is missing from config.pbtxt"]
