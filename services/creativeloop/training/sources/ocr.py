"""OCR: RapidOCR 3.10.0's default Chinese + English models, copied byte for byte.

rapidocr itself is not installed (it requires opencv-python-headless, which would replace the
project's opencv-contrib build); its wheel is fetched with ``pip download --no-deps`` (pip's
cache or ``PIP_FIND_LINKS`` make that offline) unless the package happens to be importable. The
copies keep their tensor names (``x`` in; ``fetch_name_0`` / ``save_infer_model/scale_0.tmp_1``
out) so RapidOCR's pre- and post-processing code applies unchanged.

Which files: rapidocr's ``config.yaml`` (Det/Rec PP-OCRv6 small, Cls PP-OCRv4 mobile, lang ch)
routed through ``default_models.yaml`` exactly as rapidocr's resolver does; the build fails if a
future wheel routes ``ch`` elsewhere.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx

from creativeloop.datasets.wheels import downloaded_wheel, sha256_file
from creativeloop.training.repository.pbtxt import Batching, Tensor, render_config
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    FunctionSource,
    Measurement,
    SourceUnavailableError,
    register,
)
from creativeloop.training.sources._common import copy_verified, ort_session, tools

DISTRIBUTION = "rapidocr"
VERSION = "3.10.0"
UPSTREAM = "https://github.com/RapidAI/RapidOCR (weights: https://github.com/PaddlePaddle/PaddleOCR)"
LICENCE = "Apache-2.0 (rapidocr MODEL_LICENSES.md: weights © Baidu / PaddleOCR authors)"
BLANK, SPACE = "blank", " "


@dataclass(frozen=True)
class OcrModel:
    """One rapidocr task: its config.yaml section, the file it resolves to and that file's sha256."""

    name: str
    task: str
    section: str
    filename: str
    sha256: str


DET = OcrModel("ocr_det", "det", "Det", "PP-OCRv6_det_small.onnx",
               "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f")  # fmt: skip
CLS = OcrModel("ocr_cls", "cls", "Cls", "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
               "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c")  # fmt: skip
REC = OcrModel("ocr_rec", "rec", "Rec", "PP-OCRv6_rec_small.onnx",
               "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884")  # fmt: skip

# A synthetic banner with known text: the recogniser must read it back through labels.txt.
PROBE_TEXT = "SUMMER SALE 50% OFF"


def _package_dir(ctx: BuildContext) -> Path:
    """rapidocr's package folder: the installed one, or extracted once per build from its wheel."""
    spec = importlib.util.find_spec(DISTRIBUTION)
    if spec is not None and spec.origin is not None and importlib.metadata.version(DISTRIBUTION) == VERSION:
        return Path(spec.origin).parent
    target = ctx.workdir / f"{DISTRIBUTION}-{VERSION}"
    if (target / "rapidocr" / "default_models.yaml").is_file():
        return target / "rapidocr"
    try:
        with (
            downloaded_wheel(f"{DISTRIBUTION}=={VERSION}", "rapidocr-*.whl") as wheel,
            zipfile.ZipFile(wheel) as z,
        ):
            members = [n for n in z.namelist() if n.startswith("rapidocr/models/") or n.endswith(".yaml")]
            z.extractall(target, members=members)
    except RuntimeError as error:
        raise SourceUnavailableError(
            ctx.name, f"cannot fetch the {DISTRIBUTION}=={VERSION} wheel: {error}"
        ) from error
    return target / "rapidocr"


def resolve_default(package: Path, model: OcrModel) -> tuple[str, str]:
    """The file rapidocr's default config loads for ``model.task`` and its sha256, per its YAML."""
    import yaml  # pyyaml: the `models` extra (build time only)

    config = yaml.safe_load((package / "config.yaml").read_text(encoding="utf-8"))[model.section]
    catalogue = yaml.safe_load((package / "default_models.yaml").read_text(encoding="utf-8"))
    version, kind, lang = config["ocr_version"], config["model_type"], config["lang_type"]
    routes = catalogue["model_routes"][version][model.task][kind]
    key = next(r["model_key"] for r in routes if lang in r["supported_langs"])
    entry = catalogue[config["engine_type"]][version][model.task][key]
    return str(entry["model_dir"]).rsplit("/", 1)[-1], str(entry["SHA256"])


def _routing(ctx: BuildContext, package: Path, model: OcrModel) -> Measurement:
    filename, sha256 = resolve_default(package, model)
    if (filename, sha256) != (model.filename, model.sha256):
        raise SourceUnavailableError(
            ctx.name, f"rapidocr's default config now loads {filename} ({sha256}), not {model.filename}"
        )
    return Measurement(
        "file rapidocr's default `ch` config loads",
        f"`{filename}`",
        f"sha256 `{sha256}` per default_models.yaml",
    )


def _copy(ctx: BuildContext, model: OcrModel) -> tuple[Path, list[Measurement]]:
    package = _package_dir(ctx)
    measurements = [_routing(ctx, package, model)]
    copy_verified(ctx.name, package / "models" / model.filename, ctx.model_path, model.sha256)
    same = sha256_file(ctx.model_path) == sha256_file(package / "models" / model.filename)
    measurements.append(Measurement("copy identical to the wheel's file (sha256)", "yes" if same else "NO"))
    return package, measurements


def _line_image(text: str, height: int = 48) -> np.ndarray:
    """A dark-on-light text line rendered with OpenCV's Hershey font (deterministic, no font files)."""
    face, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1.2, 2
    (width, text_height), _ = cv2.getTextSize(text, face, scale, thickness)
    image = np.full((text_height + 24, width + 24, 3), 245, dtype=np.uint8)
    cv2.putText(image, text, (12, text_height + 12), face, scale, (20, 20, 20), thickness, cv2.LINE_AA)
    return np.asarray(cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height)))


def _normalise(image: np.ndarray) -> np.ndarray:
    """rapidocr's input normalisation: BGR, /255, -0.5, /0.5, CHW float32."""
    return ((image.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)


def ctc_greedy(probabilities: np.ndarray, characters: list[str]) -> str:
    """rapidocr's CTC decoding: argmax per step, merge repeats, drop blanks (index 0)."""
    table = [BLANK, *characters, SPACE]
    best = probabilities.argmax(axis=-1)
    keep = np.ones_like(best, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return "".join(table[i] for i in best[keep & (best != 0)])


def _config_comment(model: OcrModel, extra: list[str]) -> list[str]:
    return [
        f"{model.name}: {model.filename} from rapidocr=={VERSION}, byte for byte (tensor names kept).",
        "Input: BGR image normalised (x/255 - 0.5) / 0.5, NCHW float32 (rapidocr's preprocessing).",
        *extra,
    ]


def build_det(ctx: BuildContext) -> BuildResult:
    _, measurements = _copy(ctx, DET)
    banner = np.full((160, 640, 3), 250, dtype=np.uint8)
    for row, text in enumerate(("SUMMER SALE", "50% OFF", "creativeloop.example")):
        cv2.putText(
            banner, text, (24, 44 + 48 * row), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (30, 30, 30), 2, cv2.LINE_AA
        )
    prob = ort_session(ctx.model_path).run(None, {"x": _normalise(banner)[None]})[0][0, 0]
    regions = cv2.connectedComponents((prob > 0.3).astype(np.uint8))[0] - 1
    measurements.append(
        Measurement("text regions on a rendered 3-line banner (DB map > 0.3)", str(regions), "expected 3")
    )
    config = render_config(
        DET.name,
        max_batch_size=4,
        inputs=[Tensor("x", "TYPE_FP32", (3, -1, -1))],
        outputs=[Tensor("fetch_name_0", "TYPE_FP32", (1, -1, -1))],
        batching=None,
        comment=_config_comment(
            DET,
            [
                "Height and width: multiples of 32 (rapidocr: shorter side to 736). Output: text probability",
                "map, same H x W. No dynamic batching: page sizes differ, so requests rarely share a shape.",
            ],
        ),
    )
    return _result(DET, config, measurements, "Text detector (DB): where the text lines are.")


def build_cls(ctx: BuildContext) -> BuildResult:
    _, measurements = _copy(ctx, CLS)
    line = _line_image(PROBE_TEXT)
    crop = np.full((48, 192, 3), 0, dtype=np.uint8)
    fitted = cv2.resize(line, (192, 48)) if line.shape[1] > 192 else line
    crop[:, : fitted.shape[1]] = fitted
    batch = np.stack([_normalise(crop), _normalise(crop[::-1, ::-1].copy())])
    probs = ort_session(ctx.model_path).run(None, {"x": batch})[0]
    verdict = ["0" if p[0] > p[1] else "180" for p in probs]
    measurements.append(
        Measurement("angle of an upright / a rotated rendered line", " / ".join(verdict), "expected 0 / 180")
    )
    config = render_config(
        CLS.name,
        max_batch_size=32,
        inputs=[Tensor("x", "TYPE_FP32", (3, 48, 192))],
        outputs=[Tensor("save_infer_model/scale_0.tmp_1", "TYPE_FP32", (2,))],
        batching=Batching((6, 12), 2000),
        comment=_config_comment(
            CLS, ["Crops resized to height 48, right-padded to width 192. Output: softmax over [0°, 180°]."]
        ),
    )
    return _result(CLS, config, measurements, "Text-line angle classifier: upright (0) or upside down (180).")


def build_rec(ctx: BuildContext) -> BuildResult:
    package, measurements = _copy(ctx, REC)
    metadata = {
        p.key: p.value for p in onnx.load(str(ctx.model_path), load_external_data=False).metadata_props
    }
    characters = metadata["character"].splitlines()
    (ctx.out_dir / "labels.txt").write_text("\n".join(characters) + "\n", encoding="utf-8")
    line = _line_image(PROBE_TEXT)
    probs = ort_session(ctx.model_path).run(None, {"x": _normalise(line)[None]})[0][0]
    read = ctc_greedy(probs, characters)
    measurements += [
        Measurement("labels.txt lines (ONNX metadata `character`)", str(len(characters)),
                    f"output classes {probs.shape[-1]} = blank + {len(characters)} + space"),
        Measurement("reads a rendered line", f"`{read}`", f"rendered `{PROBE_TEXT}`"),
    ]  # fmt: skip
    config = render_config(
        REC.name,
        max_batch_size=32,
        inputs=[Tensor("x", "TYPE_FP32", (3, 48, -1))],
        outputs=[Tensor("fetch_name_0", "TYPE_FP32", (-1, len(characters) + 2))],
        batching=Batching((6, 12), 2000),
        comment=_config_comment(
            REC,
            [
                "Crops at height 48, width padded to the batch's widest (rapidocr: 48 x 320 minimum).",
                "Output: per-step softmax; CTC table = blank, labels.txt lines in order, then space.",
                "Dynamic batching merges requests of equal width only.",
            ],
        ),
    )
    del package
    return _result(
        REC, config, measurements, "Text recogniser (CTC), Chinese + English + 50 Latin-script languages."
    )


def _result(model: OcrModel, config: str, measurements: list[Measurement], summary: str) -> BuildResult:
    notes = [
        "Pre- and post-processing (resizing, DB box extraction, CTC decoding) stay in the client, as in "
        "rapidocr; `creativeloop.training.sources.ocr.ctc_greedy` shows the decoding against labels.txt.",
        f"Source file: `rapidocr/models/{model.filename}` in the rapidocr=={VERSION} wheel.",
    ]
    if model is REC:
        notes.append("labels.txt is the ONNX metadata key `character`, one entry per line (18,708).")
    return BuildResult(
        config=config,
        summary=summary,
        licence=LICENCE,
        packages={DISTRIBUTION: VERSION},
        how_built=(
            f"`pip download --no-deps rapidocr=={VERSION}` (or the installed package), "
            f"then `rapidocr/models/{model.filename}` copied after checking sha256 `{model.sha256}`",
        ),
        measurements=tuple(measurements),
        notes=tuple(notes),
        upstream=UPSTREAM,
        build_tools=tools(model.name, "onnx", "onnxruntime", "pyyaml"),
    )


def _register() -> None:
    handlers: dict[str, Any] = {DET.name: build_det, CLS.name: build_cls, REC.name: build_rec}
    for name, handler in handlers.items():
        register(FunctionSource(name, handler))


_register()
