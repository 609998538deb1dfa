"""Copy generation: templates, limits, languages, the GenerateCopy RPC and the stream stage."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest
from google.protobuf.message import Message

from creativeloop.copygen.copywriter import (
    TEMPLATES,
    copy_id,
    resolve_language,
    shorten,
    template_of,
    write_copy,
)
from creativeloop.copygen.service import (
    CopygenServicer,
    ProfileHandler,
    generate,
    text_creative_id,
    text_creatives,
)
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.money import format_price
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.topics import CREATIVES, Topic
from creativeloop.v1 import common_pb2, copygen_pb2, copygen_pb2_grpc, events_pb2

SETTINGS = CopygenSettings()
CJK = re.compile(r"[\u4e00-\u9fff]")


def profile(**fields: Any) -> common_pb2.ContentProfile:
    base: dict[str, Any] = {
        "product_id": "p1",
        "product_version": 2,
        "title": "Flowy Linen Summer Dress with Pockets and Adjustable Straps",
        "category": "Women / Dresses",
        "selling_points": ["flowy", "linen", "summer", "pockets"],
        "price": common_pb2.Price(currency="USD", amount_micros=59_990_000),
        "admission": common_pb2.Admission(admitted=True),
        "language": "en",
        "images": [common_pb2.Media(uri="file:///tmp/p1.png")],
    }
    base.update(fields)
    return common_pb2.ContentProfile(**base)


def zh_profile(**fields: Any) -> common_pb2.ContentProfile:
    return profile(
        title="纯棉短袖T恤男款夏季宽松上衣",
        category="服装 / T恤",
        selling_points=["纯棉", "宽松", "夏季"],
        price=common_pb2.Price(currency="CNY", amount_micros=89_000_000),
        language="zh",
        **fields,
    )


@pytest.mark.parametrize("max_length", [10, 15, 24, 40, 60, 200])
def test_candidates_never_exceed_max_length_or_count(max_length: int) -> None:
    for language, source in (("en", profile()), ("zh", zh_profile())):
        candidates = write_copy(source, language=language, max_candidates=6, max_length=max_length)  # type: ignore[arg-type]
        assert candidates, f"no {language} candidate within {max_length} characters"
        assert len(candidates) <= 6
        assert all(len(c.text) <= max_length for c in candidates), [c.text for c in candidates]


def test_titles_are_cut_on_word_boundaries() -> None:
    words = profile().title.split()
    prefixes = [" ".join(words[:n]) for n in range(1, len(words) + 1)]
    slots = {t.template_id: t.slots for t in TEMPLATES["en"]}
    checked = 0
    for candidate in write_copy(profile(), language="en", max_candidates=10, max_length=30):
        if "title" not in slots[template_of(candidate)]:
            continue
        used = max((p for p in prefixes if p in candidate.text), key=len)
        end = candidate.text.index(used) + len(used)
        assert end == len(candidate.text) or not candidate.text[end].isalpha(), candidate.text
        assert used.split()[-1] not in ("with", "and"), candidate.text
        checked += 1
    assert checked >= 3
    assert shorten("Flowy Linen Summer Dress with Pockets", 30) == "Flowy Linen Summer Dress"  # no "with"
    assert shorten("Flowy Linen", 5) == "Flowy"
    assert shorten("Supercalifragilistic", 8) == ""  # never half a word
    assert shorten("纯棉短袖T恤男款", 4) == "纯棉短袖"  # CJK breaks between characters


def test_candidates_are_ranked_explained_deterministic_and_distinct() -> None:
    source = profile(selling_points=["linen", "Linen", "LINEN ", "flowy", "flowy"])
    first = write_copy(source, language="en", max_candidates=10, max_length=60)
    second = write_copy(source, language="en", max_candidates=10, max_length=60)
    assert [(c.copy_id, c.text, c.score) for c in first] == [(c.copy_id, c.text, c.score) for c in second]
    scores = [c.score for c in first]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    texts = [" ".join(c.text.casefold().split()) for c in first]
    assert len(set(texts)) == len(texts), "duplicate copy"
    assert len({c.copy_id for c in first}) == len(first)
    for candidate in first:
        assert candidate.generator == "template"
        assert candidate.reason.startswith("template en-")
        assert candidate.copy_id == copy_id(template_of(candidate), candidate.text)
    # Diversity: the top of the list uses different templates.
    top = [template_of(c) for c in first[:4]]
    assert len(set(top)) == 4, top
    # The best selling point is said first.
    assert any("with selling point 'linen'" in c.reason for c in first[:3])


def test_templates_need_their_slots() -> None:
    bare = profile(selling_points=[], price=common_pb2.Price(), category="")
    candidates = write_copy(bare, language="en", max_candidates=10, max_length=80)
    assert {template_of(c) for c in candidates} == {"en-shop-now", "en-new-in", "en-title"}
    assert all("$" not in c.text for c in candidates)


def test_chinese_copy() -> None:
    candidates = write_copy(zh_profile(), language="zh", max_candidates=4, max_length=24)
    assert len(candidates) == 4
    assert all(CJK.search(c.text) and template_of(c).startswith("zh-") for c in candidates)
    assert any("¥89" in c.text for c in candidates)
    assert resolve_language(common_pb2.COPY_LANGUAGE_UNSPECIFIED, "zh-CN") == "zh"
    assert resolve_language(common_pb2.COPY_LANGUAGE_ZH, "en") == "zh"
    assert resolve_language(common_pb2.COPY_LANGUAGE_EN, "zh") == "en"
    assert resolve_language(common_pb2.COPY_LANGUAGE_UNSPECIFIED, "") == "en"


@pytest.mark.parametrize(
    ("currency", "micros", "text"),
    [
        ("USD", 59_990_000, "$59.99"),
        ("usd", 60_000_000, "$60"),
        ("CNY", 1_288_000_000, "¥1,288"),
        ("EUR", 5_500_000, "€5.50"),
        ("CHF", 12_500_000, "12.50 CHF"),
        ("USD", 0, ""),
    ],
)
def test_prices(currency: str, micros: int, text: str) -> None:
    assert format_price(common_pb2.Price(currency=currency, amount_micros=micros)) == text


@pytest.mark.parametrize(
    ("source", "options", "reason"),
    [
        (profile(title="  "), {}, "empty profile.title"),
        (profile(title="x" * 501), {}, "limit 500"),
        (profile(), {"max_length": 3}, "max_length 3 outside"),
        (profile(), {"max_length": 100_000}, "max_length 100000 outside"),
        (profile(), {"max_length": -1}, "max_length -1 outside"),
        (profile(), {"max_candidates": -2}, "max_candidates -2 outside"),
        (profile(), {"max_candidates": 1000}, "max_candidates 1000 outside"),
        (profile(), {"language": 9}, "unknown language 9"),
        (profile(), {"slot": "banner"}, "unknown slot 'banner'"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(
    source: common_pb2.ContentProfile, options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        generate(source, SETTINGS, **options)


def test_defaults_come_from_settings() -> None:
    language, candidates = generate(profile(), CopygenSettings(max_candidates=2, max_length=30))
    assert language == "en" and len(candidates) == 2 and all(len(c.text) <= 30 for c in candidates)


def test_text_creatives_are_deterministic() -> None:
    _, candidates = generate(profile(), SETTINGS)
    creatives = text_creatives(profile(), candidates, "en")
    again = text_creatives(profile(), generate(profile(), SETTINGS)[1], "en")
    assert [c.SerializeToString(deterministic=True) for c in creatives] == [
        c.SerializeToString(deterministic=True) for c in again
    ]
    first = creatives[0]
    assert first.format == common_pb2.CREATIVE_FORMAT_TEXT and not first.asset_uri
    assert first.creative_id == text_creative_id("p1", 2, first.copy_id)
    assert first.headline == candidates[0].text and first.product_version == 2
    assert first.attributes["generator"] == "template" and first.attributes["language"] == "en"
    assert text_creative_id("p1", 3, first.copy_id) != first.creative_id


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message]] = []

    async def send_batch(self, topic: Topic, items: list[tuple[str, Message]]) -> None:
        self.sent += [(topic.name, key, event) for key, event in items]


def handler_with_fake() -> tuple[ProfileHandler, FakeProducer]:
    fake = FakeProducer()
    return ProfileHandler(SETTINGS, cast(EventProducer, fake)), fake


async def test_stream_publishes_text_creatives_idempotently() -> None:
    handler, fake = handler_with_fake()
    event = events_pb2.ContentProfileUpdated(profile=profile())
    await handler(event)
    first = [(key, e.creative.creative_id) for _, key, e in fake.sent]  # type: ignore[attr-defined]
    assert len(first) == SETTINGS.creatives_per_profile
    assert all(topic == CREATIVES.name for topic, _, _ in fake.sent)
    assert all(key == creative_id for key, creative_id in first)
    await handler(event)  # a replay publishes the same creatives again
    second = [(key, e.creative.creative_id) for _, key, e in fake.sent[len(first) :]]  # type: ignore[attr-defined]
    assert second == first


async def test_stream_skips_unadmitted_and_stale_profiles_and_rejects_bad_ones() -> None:
    handler, fake = handler_with_fake()
    refused = profile(admission=common_pb2.Admission(admitted=False, reason_codes=["AD_LAW_ABSOLUTE_TERM"]))
    await handler(events_pb2.ContentProfileUpdated(profile=refused))
    assert fake.sent == []
    await handler(events_pb2.ContentProfileUpdated(profile=profile(product_version=5)))
    published = len(fake.sent)
    await handler(events_pb2.ContentProfileUpdated(profile=profile(product_version=4)))
    assert len(fake.sent) == published, "an older version must not publish"
    with pytest.raises(InvalidEvent, match=r"empty profile\.title"):
        await handler(events_pb2.ContentProfileUpdated(profile=profile(product_version=6, title="")))


@pytest.fixture
async def copygen_stub() -> AsyncIterator[copygen_pb2_grpc.CopyGenerationServiceStub]:
    server = grpc.aio.server()
    copygen_pb2_grpc.add_CopyGenerationServiceServicer_to_server(CopygenServicer(SETTINGS), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield copygen_pb2_grpc.CopyGenerationServiceStub(channel)
    finally:
        await server.stop(None)


async def test_generate_copy_rpc(copygen_stub: copygen_pb2_grpc.CopyGenerationServiceStub) -> None:
    reply = await copygen_stub.GenerateCopy(
        copygen_pb2.GenerateCopyRequest(profile=profile(), max_candidates=3, max_length=40)
    )
    assert len(reply.candidates) == 3
    assert all(len(c.text) <= 40 and c.copy_id and c.reason for c in reply.candidates)
    default = await copygen_stub.GenerateCopy(copygen_pb2.GenerateCopyRequest(profile=profile()))
    assert len(default.candidates) == SETTINGS.max_candidates
    assert all(len(c.text) <= SETTINGS.max_length for c in default.candidates)
    zh = await copygen_stub.GenerateCopy(
        copygen_pb2.GenerateCopyRequest(profile=profile(), language=common_pb2.COPY_LANGUAGE_ZH)
    )
    assert all(c.reason.startswith("template zh-") for c in zh.candidates)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (copygen_pb2.GenerateCopyRequest(), "missing profile"),
        (copygen_pb2.GenerateCopyRequest(profile=profile(title="")), "empty profile.title"),
        (copygen_pb2.GenerateCopyRequest(profile=profile(), max_length=2), "max_length 2 outside"),
        (copygen_pb2.GenerateCopyRequest(profile=profile(), max_length=10**6), "outside"),
    ],
)
async def test_generate_copy_rpc_rejects_bad_input(
    copygen_stub: copygen_pb2_grpc.CopyGenerationServiceStub,
    request_: copygen_pb2.GenerateCopyRequest,
    reason: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await copygen_stub.GenerateCopy(request_)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (error.value.details() or "")
