"""aesthetics: the project's own LightGBM LambdaRank model of picture quality, 0..100.

Trained at build time (deterministic: one thread, fixed seed, CPU, about a minute) from
controlled degradations of real photos and studio-style product shots
(`creativeloop.training.aesthetics`); input is the feature vector of
`creativeloop.understanding.aesthetics.FEATURE_NAMES` (FP32 [N, F]), output the calibrated score
(FP32 [N, 1]). Measured here: ONNX vs native LightGBM on held-out photos, and how the score
follows degradation level on those held-out photos (Spearman).
"""

from __future__ import annotations

from creativeloop.datasets.cutouts import missing_pictures
from creativeloop.training import aesthetics as train
from creativeloop.training.repository.pbtxt import Batching, Tensor, render_config
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    Measurement,
    SourceUnavailableError,
    source,
)
from creativeloop.training.sources._common import fmt, require_version, tools
from creativeloop.understanding.aesthetics import FEATURE_NAMES

NAME = "aesthetics"


def _config(n_features: int) -> str:
    return render_config(
        NAME,
        max_batch_size=64,
        inputs=[Tensor("features", "TYPE_FP32", (n_features,))],
        outputs=[Tensor("score", "TYPE_FP32", (1,))],
        batching=Batching((8, 32), 1000),
        comment=[
            "aesthetics: LightGBM LambdaRank trained by the project (onnxmltools export),",
            "with the 0..100 logistic calibration appended to the graph.",
            "Input: creativeloop.understanding.aesthetics.features() rows, in FEATURE_NAMES order",
            "(feature_names.txt beside this file). Output: score, higher is better.",
        ],
    )


@source(NAME)
def build(ctx: BuildContext) -> BuildResult:
    packages = [
        require_version(NAME, "lightgbm", "4.7.0"),
        require_version(NAME, "onnxmltools", "1.16.0"),
        require_version(NAME, "onnx", "1.23.2"),
    ]
    missing = missing_pictures((*train.TRAIN_PHOTOS, *train.HELD_OUT_PHOTOS))
    if missing:
        raise SourceUnavailableError(NAME, "sample photos missing: " + ", ".join(missing))

    data = train.build_dataset(train.TRAIN_PHOTOS)
    ranker = train.train(data, seed=ctx.seed)
    model_bytes = train.to_onnx(ranker)
    ctx.model_path.parent.mkdir(parents=True, exist_ok=True)
    ctx.model_path.write_bytes(model_bytes)
    (ctx.out_dir / "feature_names.txt").write_text("\n".join(FEATURE_NAMES) + "\n", encoding="utf-8")

    held = train.build_dataset(train.HELD_OUT_PHOTOS)
    native = ranker.score(held.X)
    exported = train.onnx_scores(model_bytes, held.X)
    report = train.evaluate(held, exported)
    measurements = [
        Measurement(
            "training rows / queries", f"{ranker.rows} / {ranker.queries}", f"{len(data.photo)} images"
        ),
        Measurement(
            "held-out images",
            str(len(held.photo)),
            f"{len(train.HELD_OUT_PHOTOS)} photos x "
            f"(original + {len(train.DEGRADATIONS) * train.LEVELS} copies)",
        ),
        Measurement(
            "score max abs diff, ONNX vs LightGBM (0..100 scale)", fmt(float(abs(exported - native).max()))
        ),
        Measurement(
            "Spearman(score, -level), held-out, mean within photo",
            f"{report.overall_within:.2f}",
            "per (photo, kind) chain of original + 3 levels",
        ),
        Measurement("Spearman(score, -level), held-out, pooled", f"{report.overall_pooled:.2f}"),
        Measurement("original scored above its degraded copy, held-out", f"{report.overall_pairs:.2f}"),
    ]
    measurements += [
        Measurement(f"Spearman within photo, {kind}", f"{row.within:.2f}")
        for kind, row in report.kinds.items()
    ]
    return BuildResult(
        config=_config(len(FEATURE_NAMES)),
        summary="Picture quality 0..100 from sharpness, exposure, clipped highlights, contrast, colour, "
        "noise, BRISQUE, framing (a subject cut by the frame).",
        licence="Apache-2.0 (trained by the project from sample photos shipped by Debian opencv-doc, "
        "scikit-image and scikit-learn; see their copyright files)",
        packages=dict(p.split("==", 1) for p in packages),
        how_built=(
            f"features of {len(train.TRAIN_PHOTOS)} training photos and product shots and of "
            f"{len(train.DEGRADATIONS)} degradations x 3 levels of each (creativeloop.training.aesthetics)",
            "LightGBM lambdarank, one query per (photo, degradation) chain plus one cross-photo query per "
            f"degradation; {train.NUM_ROUNDS} rounds, 10 leaves, one thread, deterministic, seed {ctx.seed}",
            f"calibration: 100 * sigmoid((raw - {ranker.calibration.centre}) / {ranker.calibration.scale}) "
            "(median training original -> 80, median level-3 copy -> 20), appended as ONNX nodes",
            "onnxmltools.convert_lightgbm (opset 15, ai.onnx.ml TreeEnsembleRegressor)",
        ),
        measurements=tuple(measurements),
        notes=(
            "Trained on degradations, not on human ratings: it ranks technical quality (blur, noise, JPEG, "
            "exposure, contrast, framing), not taste.",
            "Bad crops are the weakest kind: a crop of a scene is often still a good picture.",
            "Feature order is a contract: retrain and rebuild when FEATURE_NAMES changes (append only).",
        ),
        upstream="",
        build_tools=tools(
            NAME,
            "onnxruntime",
            "onnxconverter-common",
            "opencv-contrib-python-headless",
            "numpy",
            "scikit-image",
            "scikit-learn",
        ),
    )
