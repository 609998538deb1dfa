"""`creativeloop eval` and `creativeloop train`: the click commands over the evaluation and training
libraries (the cheap ones run for real; the slow ones are checked for their options and refusals)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from creativeloop.cli import main
from creativeloop.cli import train as train_cli
from creativeloop.cli.evaluate import evaluate
from creativeloop.cli.train import train
from creativeloop.datasets.scenes import SPLITS, make_example, missing_sources
from creativeloop.evaluation import aesthetics as aesthetics_report
from creativeloop.evaluation import compliance as compliance_report
from creativeloop.evaluation import product_box as product_box_report
from creativeloop.understanding.scene import CLASSES

EVAL_COMMANDS = ("compliance", "copy", "creatives", "video", "ocr", "scene", "product-box", "aesthetics")
TRAIN_COMMANDS = ("scene", "scene-samples", "copy-model")


def test_top_level_lists_eval_and_train() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "eval" in result.output and "train" in result.output
    assert CliRunner().invoke(main, ["eval", "--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["train", "--help"]).exit_code == 0


@pytest.mark.parametrize("name", EVAL_COMMANDS)
def test_every_eval_command_has_help(name: str) -> None:
    result = CliRunner().invoke(evaluate, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: eval {name}" in result.output


@pytest.mark.parametrize("name", TRAIN_COMMANDS)
def test_every_train_command_has_help(name: str) -> None:
    result = CliRunner().invoke(train, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: train {name}" in result.output


def test_eval_compliance_prints_the_library_report() -> None:
    result = CliRunner().invoke(evaluate, ["compliance", "--split", "dev"])
    assert result.exit_code == 0, result.output
    assert result.output == compliance_report.evaluate("dev").format() + "\n"
    as_json = CliRunner().invoke(evaluate, ["compliance", "--split", "dev", "--json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.output)
    assert payload["split"] == "dev"
    assert payload == json.loads(json.dumps(compliance_report.evaluate("dev").to_dict()))


def test_eval_compliance_rejects_an_unknown_split() -> None:
    result = CliRunner().invoke(evaluate, ["compliance", "--split", "test"])
    assert result.exit_code == 2
    assert "Invalid value for '--split'" in result.output


def test_eval_creatives_without_sheet_passes_every_check(tmp_path: Path) -> None:
    result = CliRunner().invoke(evaluate, ["creatives", "--no-sheet", "--sheet", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    table, line = result.output.rstrip("\n").rsplit("\n", 1)
    assert table.startswith("| check | count |")
    counts = json.loads(line)
    assert counts["quality"] == "imagegen_layout"
    assert counts["creatives"] > 0 and counts["wrong_size"] == 0
    assert counts["text_over_product"] == counts["contrast_below_minimum"] == counts["safe_margin"] == 0
    assert not (tmp_path / "s.png").exists()


def test_eval_product_box_on_one_cutout(tmp_path: Path) -> None:
    if product_box_report.missing():
        pytest.skip("sample photos not installed (opencv-doc, scikit-image, scikit-learn)")
    result = CliRunner().invoke(
        evaluate,
        ["product-box", "--limit", "1", "--backgrounds", "plain", "--save", str(tmp_path / "worst")],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("| background | n | mean IoU |")
    assert "| plain | 4 |" in result.output and "| dress | 4 |" in result.output
    assert len(list((tmp_path / "worst").glob("*.jpg"))) == 4


def test_eval_product_box_and_aesthetics_refuse_without_photos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(product_box_report, "missing", lambda: ["skimage:brick.png (pip install x)"])
    result = CliRunner().invoke(evaluate, ["product-box"])
    assert result.exit_code == 2
    assert result.output == "missing sample files: skimage:brick.png (pip install x)\n"
    monkeypatch.setattr(aesthetics_report, "missing", lambda: ["skimage:coffee.png (pip install x)"])
    result = CliRunner().invoke(evaluate, ["aesthetics"])
    assert result.exit_code == 2
    assert result.output == "missing sample photos: skimage:coffee.png (pip install x)\n"


def test_train_scene_refuses_a_partial_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(train_cli, "missing_sources", lambda: ["skimage:astronaut.png"])
    result = CliRunner().invoke(train, ["scene", "--model", str(tmp_path / "scene.txt")])
    assert result.exit_code == 2
    assert "refusing to train on a partial set" in result.output
    assert not (tmp_path / "scene.txt").exists()


def test_train_scene_samples_writes_the_set(tmp_path: Path) -> None:
    if missing_sources():
        pytest.skip("photos of the scene set not installed (opencv-doc, scikit-image, scikit-learn)")
    out = tmp_path / "samples"
    result = CliRunner().invoke(train, ["scene-samples", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {len(CLASSES) * len(SPLITS) * 4} samples to {out}\n"
    assert len(list(out.glob("*.png"))) == len(CLASSES) * len(SPLITS) * 4
    kind, split = CLASSES[0], SPLITS[1]
    written = cv2.imread(str(out / f"{kind.value}-{split}-2.png"), cv2.IMREAD_COLOR)
    assert written is not None
    assert np.array_equal(np.asarray(written), make_example(kind, split, 2, 3))


def test_copy_model_profiles_match_the_trainer() -> None:
    pytest.importorskip("torch")
    from creativeloop.training.copy_model.train import PROFILES

    assert tuple(sorted(PROFILES)) == train_cli._COPY_PROFILES
