"""The background generator slot: the project's small model served through the ModelClient,
selected by settings, agreeing with the in-process procedural generator."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from creativeloop.imagegen.cutout import decode_image
from creativeloop.imagegen.generator import (
    MODEL_NAME,
    ModelGenerator,
    ProceduralGenerator,
    colour_field,
)
from creativeloop.imagegen.render import Copy, FontBook, Renderer, make_cutout
from creativeloop.imagegen.service import build_renderer
from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.imagegen.templates import SIZES, load_catalogue
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.models.errors import InputMismatchError
from creativeloop.kit.settings import ModelSettings
from creativeloop.training.repository.builder import build_repository
from creativeloop.training.sources.background_generator import sample_inputs


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models") / "repo"
    report = build_repository(root, only=[MODEL_NAME], docs_dir=None, log=lambda _: None)
    assert report.built == [MODEL_NAME]
    return root


@pytest.fixture(scope="module")
def client(repository: Path) -> Iterator[EmbeddedModelClient]:
    embedded = EmbeddedModelClient(repository)
    try:
        yield embedded
    finally:
        embedded.close()


def test_the_contract_is_the_documented_one(client: EmbeddedModelClient) -> None:
    spec = client.spec(MODEL_NAME)
    tensors = {t.name: (t.dtype, t.dims) for t in (*spec.inputs, *spec.outputs)}
    assert tensors == {
        "cutout": (np.dtype(np.uint8), (-1, -1, 4)),
        "condition": (np.dtype(np.float32), (4,)),
        "background": (np.dtype(np.uint8), (-1, -1, 3)),
    }
    with pytest.raises(InputMismatchError, match="condition"):
        client.infer(
            MODEL_NAME,
            {"cutout": np.zeros((1, 8, 8, 4), np.uint8), "condition": np.zeros((1, 3), np.float32)},
        )


@pytest.mark.parametrize(("height", "width"), [(160, 120), (628, 1200), (1280, 720)])
def test_the_model_agrees_with_the_procedural_generator(
    client: EmbeddedModelClient, height: int, width: int
) -> None:
    rgba, condition = sample_inputs(height, width)
    served = ModelGenerator(client).generate(rgba, condition)
    reference = ProceduralGenerator().generate(rgba, condition)
    assert served.shape == reference.shape == (height, width, 3)
    assert int(np.abs(served.astype(np.int16) - reference).max()) <= 2
    centre, corner = served[height // 2, width // 2].astype(int), served[0, 0].astype(int)
    assert centre.sum() > corner.sum(), "the glow lights the product's surroundings"
    assert np.array_equal(colour_field(rgba, condition), reference)


def test_settings_choose_the_generator_and_creatives_say_which(
    client: EmbeddedModelClient, repository: Path
) -> None:
    procedural = build_renderer(ImagegenSettings())
    assert procedural.generator.name == "procedural"
    settings = ImagegenSettings(background_generator="model", models=ModelSettings(repository=repository))
    assert build_renderer(settings).generator.name == "model"
    renderer = build_renderer(settings, client)
    picture = np.full((300, 200, 3), (40, 30, 200), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    cutout = make_cutout(decode_image(buffer.getvalue(), max_bytes=10**7, max_pixels=10**8))
    for size in SIZES:
        rendered = renderer.render("studio-glow", cutout, "Linen dress", "$5", size=size)
        assert rendered.attributes["generator"] == "model"
        assert rendered.attributes["background_kind"] == "generated"
        assert Image.open(io.BytesIO(rendered.content)).size == SIZES[size]
    template = load_catalogue()["studio-glow"]
    by_model = renderer.compose(template, cutout, Copy("Linen"), 800, 800).canvas
    by_code = Renderer(FontBook.default()).compose(template, cutout, Copy("Linen"), 800, 800).canvas
    assert int(np.abs(by_model.astype(np.int16) - by_code).max()) <= 3
