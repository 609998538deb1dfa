"""`creativeloop models build`: deterministic, partial builds merge, new sources plug in."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from creativeloop.cli.models import models
from creativeloop.training.repository import source as source_module
from creativeloop.training.repository.builder import BuildError, build_repository
from creativeloop.training.repository.consistency import check_repository
from creativeloop.training.repository.manifest import check_manifest, read_manifest
from creativeloop.training.repository.pbtxt import Tensor, render_config
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    FunctionSource,
    Measurement,
    SourceUnavailableError,
    registered,
)
from tests.unit.test_modelrepo_support import BUILTIN, DATA_DIR, can_build, reference_repository

# Cover both torch exports (a CNN, a transformer via its int8 child), quantisation and a copy.
REBUILT = ("image_classifier", "ocr_rec", "text_embedding_int8")


def test_builtin_sources_are_registered() -> None:
    assert set(BUILTIN) <= set(registered())


@pytest.mark.skipif(not can_build(), reason="needs the `models` build extra (torch, transformers, ...)")
def test_a_second_build_changes_no_checksum(tmp_path: Path) -> None:
    reference = reference_repository()

    build_repository(
        tmp_path / "repo", only=REBUILT, docs_dir=tmp_path / "docs", data_dir=DATA_DIR, log=lambda _: None
    )

    mine = read_manifest(tmp_path / "repo")["models"]
    theirs = read_manifest(reference.repository)["models"]
    assert sorted(mine) == sorted(REBUILT)
    for name in REBUILT:
        assert mine[name] == theirs[name], name
        if reference.docs is not None:
            assert (tmp_path / "docs" / f"{name}.md").read_bytes() == (
                reference.docs / f"{name}.md"
            ).read_bytes()


def test_partial_builds_merge_into_the_manifest(tmp_path: Path) -> None:
    repository, docs = tmp_path / "repo", tmp_path / "docs"
    build_repository(repository, only=["ocr_cls"], docs_dir=docs, data_dir=DATA_DIR, log=lambda _: None)
    first = read_manifest(repository)["models"]
    build_repository(repository, only=["ocr_det"], docs_dir=docs, data_dir=DATA_DIR, log=lambda _: None)
    second = read_manifest(repository)["models"]

    assert sorted(second) == ["ocr_cls", "ocr_det"]
    assert second["ocr_cls"] == first["ocr_cls"]
    assert second["ocr_det"]["packages"] == ["rapidocr==3.10.0"]
    assert check_repository(repository) == [] and check_manifest(repository) == []
    index = (docs / "README.md").read_text()
    assert "[`ocr_cls`](ocr_cls.md)" in index and "[`ocr_det`](ocr_det.md)" in index
    assert not any(p.name.startswith(".") for p in repository.iterdir() if p.is_dir())


def test_an_unknown_model_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="no model source named \\['nope'\\]"):
        build_repository(tmp_path / "repo", only=["nope"], docs_dir=None, log=lambda _: None)


def _identity_source(ctx: BuildContext) -> BuildResult:
    """What a later model (aesthetics, ranker) looks like to the builder: ONNX + config + facts."""
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("Sigmoid", ["features"], ["score"])], "toy", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), ctx.model_path)
    config = render_config(
        ctx.name,
        max_batch_size=16,
        inputs=[Tensor("features", "TYPE_FP32", (4,))],
        outputs=[Tensor("score", "TYPE_FP32", (4,))],
        batching=None,
    )
    return BuildResult(
        config=config,
        summary="A toy.",
        licence="Apache-2.0",
        packages={"onnx": "1"},
        measurements=(Measurement("agreement", "1.0"),),
    )


def test_a_new_source_joins_through_the_same_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(source_module._REGISTRY, "toy_ranker", FunctionSource("toy_ranker", _identity_source))

    result = CliRunner().invoke(
        models, ["build", "--repository", str(tmp_path / "repo"), "--docs", str(tmp_path / "docs"), "--only",
                 "toy_ranker"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert (tmp_path / "repo" / "toy_ranker" / "1" / "model.onnx").is_file()
    card = (tmp_path / "docs" / "toy_ranker.md").read_text()
    assert "| input | `features` | FP32 | [N] + [4] |" in card and "| agreement | 1.0 |" in card
    check = CliRunner().invoke(models, ["check", "--repository", str(tmp_path / "repo")])
    assert check.exit_code == 0, check.output


def test_a_source_whose_config_lies_is_not_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lying(ctx: BuildContext) -> BuildResult:
        result = _identity_source(ctx)
        return BuildResult(
            config=result.config.replace('"score"', '"scores"'),
            summary="",
            licence="",
            packages={},
        )

    monkeypatch.setitem(source_module._REGISTRY, "liar", FunctionSource("liar", lying))
    with pytest.raises(BuildError, match=r"liar: output 'scores' is in config\.pbtxt but not in model\.onnx"):
        build_repository(tmp_path / "repo", only=["liar"], docs_dir=None, log=lambda _: None)
    assert not (tmp_path / "repo" / "liar").exists()


def test_unavailable_sources_fail_clearly_or_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(ctx: BuildContext) -> BuildResult:
        raise SourceUnavailableError(ctx.name, "no training data: run `creativeloop data fetch` first")

    monkeypatch.setitem(source_module._REGISTRY, "needs_data", FunctionSource("needs_data", missing))
    args = ["build", "--repository", str(tmp_path / "repo"), "--docs", str(tmp_path / "docs")]

    failed = CliRunner().invoke(models, [*args, "--only", "needs_data"])
    assert failed.exit_code == 1
    assert "model 'needs_data' cannot be built: no training data" in failed.output

    skipped = CliRunner().invoke(
        models, [*args, "--only", "needs_data", "--only", "ocr_cls", "--skip-unavailable"]
    )
    assert skipped.exit_code == 0, skipped.output
    assert "skipped needs_data" in skipped.output
    assert sorted(json.loads((tmp_path / "repo" / "manifest.json").read_text())["models"]) == ["ocr_cls"]


def test_check_fails_on_a_broken_repository(tmp_path: Path) -> None:
    build_repository(tmp_path / "repo", only=["ocr_cls"], docs_dir=None, log=lambda _: None)
    (tmp_path / "repo" / "ocr_cls" / "labels.txt").write_text("stray\n")

    result = CliRunner().invoke(models, ["check", "--repository", str(tmp_path / "repo")])

    assert result.exit_code == 1
    assert "ocr_cls: labels.txt is not listed in manifest.json" in result.output


def test_registering_a_second_source_under_one_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(source_module._REGISTRY, "twice", FunctionSource("twice", _identity_source))
    with pytest.raises(ValueError, match="registered twice"):
        source_module.register(FunctionSource("twice", _identity_source))
