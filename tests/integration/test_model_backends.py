"""Every model in the built repository answers the same through both backends.

The `triton` backend runs against a real tritonserver (nvidia-pytriton's, python backend over the
very same ONNX files) on loopback; the `embedded` backend runs onnxruntime in-process. Needs
`creativeloop models build` and `scripts/install-triton.sh` (CI runs both before the tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.bench_models import make_inputs
from creativeloop.kit.models import InputMismatchError, ModelNotFoundError
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.spec import load_spec
from creativeloop.kit.models.triton import TritonModelClient
from creativeloop.stack.triton import LocalTriton, python_backend_repository

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2] / "deploy" / "model-repository"
MODELS = sorted(p.parent.name for p in REPOSITORY.glob("*/config.pbtxt"))


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    tmp = tmp_path_factory.mktemp("triton")
    derived = python_backend_repository(REPOSITORY, tmp / "repository", MODELS)
    with LocalTriton(derived, tmp / "workspace") as server:
        yield server


def test_the_repository_holds_the_issue_models() -> None:
    for name in ("ocr_det", "ocr_cls", "ocr_rec", "image_classifier", "text_embedding"):
        assert name in MODELS
        assert (REPOSITORY / name / "1" / "model.onnx").is_file(), "run `creativeloop models build` first"


@pytest.mark.parametrize("model", MODELS)
def test_triton_equals_embedded(triton: LocalTriton, model: str) -> None:
    spec = load_spec(REPOSITORY, model)
    embedded = EmbeddedModelClient(REPOSITORY)
    remote = TritonModelClient(triton.grpc_url, timeout_s=60)
    assert remote.spec(model) == embedded.spec(model)  # the server reports the repository's contract
    for batch in sorted({1, min(3, spec.max_batch_size or 1)}):
        inputs = make_inputs(model, spec, batch, seed=batch)
        local, served = embedded.infer(model, inputs), remote.infer(model, inputs)
        assert set(local) == set(served) == set(spec.output_names())
        for name in local:
            assert served[name].shape == local[name].shape
            np.testing.assert_allclose(served[name], local[name], rtol=1e-5, atol=1e-5)
    remote.close()
    embedded.close()


async def test_async_calls_batch_on_the_server_and_match(triton: LocalTriton) -> None:
    # fp32: the int8 model quantises activations per call, so its output depends on which calls
    # a batcher happened to join (cosine to fp32 stays above 0.97; see docs/models).
    model = "text_embedding"
    spec = load_spec(REPOSITORY, model)
    calls = [make_inputs(model, spec, 1, seed=i) for i in range(12)]
    remote = TritonModelClient(triton.grpc_url, timeout_s=60)
    embedded = EmbeddedModelClient(REPOSITORY, micro_batch_max=8)
    served = await asyncio.gather(*(remote.ainfer(model, c) for c in calls))
    local = await asyncio.gather(*(embedded.ainfer(model, c) for c in calls))
    for a, b in zip(served, local, strict=True):
        np.testing.assert_allclose(a["embedding"], b["embedding"], rtol=1e-4, atol=1e-5)
    assert (await remote.health(MODELS)).ok
    health = await remote.health(["no_such_model"])
    assert not health.ok and "no_such_model" in health.reason
    await remote.aclose()
    embedded.close()


def test_both_backends_fail_the_same_way_on_bad_input(triton: LocalTriton) -> None:
    remote = TritonModelClient(triton.grpc_url, timeout_s=60)
    embedded = EmbeddedModelClient(REPOSITORY)
    wrong = {"image": np.zeros((1, 224, 224, 3), np.float32)}
    for client in (remote, embedded):
        with pytest.raises(InputMismatchError, match=r"'image_classifier'.*'image'.*dtype float32"):
            client.infer("image_classifier", wrong)
        with pytest.raises(ModelNotFoundError, match="'no_such_model'"):
            client.infer("no_such_model", wrong)
    remote.close()
