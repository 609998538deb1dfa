"""The served models agree with their sources: OCR byte for byte, exports with the torch originals.

Inference goes through the embedded onnxruntime backend and the kit helpers, i.e. the path the
services use, and is compared with the original implementations (rapidocr's own files and
routing, the efficientnet package's torch model, sentence-transformers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from creativeloop.datasets.wheels import sha256_file
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.image_classifier import prepare_image
from creativeloop.kit.models.text_embedder import TextEmbedder
from creativeloop.training.repository.source import BuildContext
from creativeloop.training.sources import ocr
from tests.unit.test_modelrepo_support import DATA_DIR, can_build, reference_repository

needs_build_extra = pytest.mark.skipif(not can_build(), reason="needs the `models` build extra")
PHOTOS = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture(scope="module")
def repository() -> Path:
    return reference_repository().repository


@pytest.fixture(scope="module")
def client(repository: Path) -> Iterator[EmbeddedModelClient]:
    embedded = EmbeddedModelClient(repository)
    yield embedded
    embedded.close()


@pytest.mark.parametrize("model", [ocr.DET, ocr.CLS, ocr.REC])
def test_ocr_models_are_rapidocrs_default_files_byte_for_byte(
    repository: Path, tmp_path: Path, model: ocr.OcrModel
) -> None:
    package = ocr._package_dir(BuildContext(model.name, tmp_path / "out", tmp_path, DATA_DIR))

    assert ocr.resolve_default(package, model) == (model.filename, model.sha256)
    assert sha256_file(repository / model.name / "1" / "model.onnx") == model.sha256
    assert sha256_file(package / "models" / model.filename) == model.sha256


def test_ocr_models_read_a_rendered_line_through_the_served_files(
    repository: Path, client: EmbeddedModelClient
) -> None:
    line = ocr._line_image(ocr.PROBE_TEXT)
    probabilities = client.infer("ocr_rec", {"x": ocr._normalise(line)[None]})["fetch_name_0"][0]
    labels = (repository / "ocr_rec" / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert ocr.ctc_greedy(probabilities, labels) == ocr.PROBE_TEXT

    crop = np.zeros((48, 192, 3), dtype=np.uint8)
    fitted = cv2.resize(line, (192, 48))
    crop[:, : fitted.shape[1]] = fitted
    batch = np.stack([ocr._normalise(crop), ocr._normalise(np.ascontiguousarray(crop[::-1, ::-1]))])
    angles = client.infer("ocr_cls", {"x": batch})["save_infer_model/scale_0.tmp_1"]
    assert list(angles.argmax(axis=1)) == [0, 1]

    page = np.full((96, 320, 3), 250, dtype=np.uint8)
    cv2.putText(page, "SALE", (20, 64), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 3, cv2.LINE_AA)
    heat = client.infer("ocr_det", {"x": ocr._normalise(page)[None]})["fetch_name_0"]
    assert heat.shape == (1, 1, 96, 320)
    assert heat[0, 0, 30:70, 20:120].max() > 0.9 and heat[0, 0, :, 200:].max() < 0.3


@needs_build_extra
def test_image_classifier_agrees_with_the_torch_model(client: EmbeddedModelClient, tmp_path: Path) -> None:
    import torch

    from creativeloop.training.sources import image_classifier as source

    names = ["squirrel_cls.jpg", "baboon.jpg", "orange.jpg", "messi5.jpg", "fruits.jpg", "HappyFish.jpg"]
    images = [cv2.imread(str(PHOTOS / n)) for n in names]
    if any(i is None for i in images):
        pytest.skip("Debian opencv-doc sample photos are not installed")
    crops = np.stack([prepare_image(np.asarray(i)) for i in images])
    torch.set_num_threads(1)
    network = source._load_network(BuildContext("image_classifier", tmp_path, tmp_path, DATA_DIR))
    want_probs, want_features = source._reference(network, crops)

    got = client.infer("image_classifier", {"image": crops})

    assert list(got["probabilities"].argmax(1)) == list(want_probs.argmax(1))
    assert np.abs(got["probabilities"] - want_probs).max() < 1e-4
    unit = want_features / np.linalg.norm(want_features, axis=1, keepdims=True)
    assert (unit * got["embedding"]).sum(axis=1).min() > 0.9999


@needs_build_extra
def test_text_embeddings_agree_with_sentence_transformers(
    repository: Path, client: EmbeddedModelClient
) -> None:
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    from creativeloop.training.sources import text_embedding as source

    texts = source.review_sentences(BuildContext("text_embedding", repository, repository, DATA_DIR))[::8]
    texts += ["Runs small; order a size up.", "这条裙子很好看", ""]
    original = SentenceTransformer(str(source.model_dir("text_embedding")), device="cpu")
    original.max_seq_length = 128
    want = original.encode(texts, convert_to_numpy=True)

    fp32 = TextEmbedder(client, repository / "text_embedding" / "vocab.txt").embed(texts)
    int8 = TextEmbedder(client, repository / "text_embedding_int8" / "vocab.txt", model="text_embedding_int8")
    quantised = int8.embed(texts)

    assert (fp32 * want).sum(axis=1).min() > 0.9999
    assert np.abs(fp32 - want).max() < 1e-4
    cosine = (quantised * fp32).sum(axis=1)
    assert cosine.mean() > 0.98 and cosine.min() > 0.95
