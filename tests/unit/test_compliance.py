"""Ad-law checker: positives caught with the right code and span, everyday phrases left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from creativeloop.cli.evaluate import evaluate
from creativeloop.compliance import (
    LexiconError,
    Violation,
    check,
    detect_language,
    explain,
    is_compliant,
    lexicon_version,
    redact,
)
from creativeloop.compliance.lexicon import load_lexicon
from creativeloop.evaluation.compliance import read_phrases, run, score


def codes(text: str, language: str | None = None) -> list[tuple[str, str]]:
    return [(v.code, v.term) for v in check(text, language=language)]


@pytest.mark.parametrize(
    ("text", "code", "term"),
    [
        ("国家级品质，值得信赖", "ADLAW_ABSOLUTE_TERM", "国家级"),
        ("这是市面上最好的面膜", "ADLAW_ABSOLUTE_TERM", "最好"),
        ("本店最佳选择", "ADLAW_ABSOLUTE_TERM", "最佳"),
        ("最舒适的跑鞋", "ADLAW_ABSOLUTE_TERM", "最舒适"),
        ("销量第一的面霜", "ADLAW_PLATFORM_ABSOLUTE", "第一"),
        ("唯一指定官方旗舰店", "ADLAW_PLATFORM_ABSOLUTE", "唯一"),
        ("独家代理进口红酒", "ADLAW_PLATFORM_ABSOLUTE", "独家"),
        ("万能清洁剂", "ADLAW_PLATFORM_ABSOLUTE", "万能"),
        ("好评率100%", "ADLAW_PLATFORM_ABSOLUTE", "100%"),
        ("可治疗失眠", "ADLAW_MEDICAL_CLAIM", "治疗失眠"),
        ("药用级原料", "ADLAW_MEDICAL_CLAIM", "药用"),
        ("这款枕头能治颈椎病", "ADLAW_MEDICAL_CLAIM", "治颈椎病"),
        ("保证一个月瘦十斤", "ADLAW_GUARANTEE", "保证一个月瘦"),
        ("The best moisturizer", "ADLAW_SUPERLATIVE_EN", "best"),
        ("#1 rated running shoe", "ADLAW_SUPERLATIVE_EN", "#1"),
        ("World's leading skincare brand", "ADLAW_SUPERLATIVE_EN", "World's leading"),
        ("FDA-approved formula", "ADLAW_MEDICAL_CLAIM_EN", "FDA-approved"),
        ("Pillow that treats neck pain", "ADLAW_MEDICAL_CLAIM_EN", "treats neck pain"),
        ("Guaranteed results in 30 days", "ADLAW_GUARANTEE", "Guaranteed results"),
        ("100% effective against wrinkles", "ADLAW_PLATFORM_ABSOLUTE", "100%"),
    ],
)
def test_positives_are_caught_with_code_and_exact_span(text: str, code: str, term: str) -> None:
    found = check(text)
    assert (code, term) in [(v.code, v.term) for v in found]
    for v in found:
        assert text[v.start : v.end] == v.term
        assert v.rule and v.severity in ("error", "warning")


@pytest.mark.parametrize(
    "text",
    [
        "第一次买这个牌子，质量很好",
        "我们会第一时间为您发货",
        "唯一的缺点是有点贵",
        "最佳赏味期12个月",
        "建议最好手洗，不要暴晒",
        "最好选大一码",
        "最喜欢这件的颜色了",
        "最大承重150公斤",
        "面料：100%纯棉",
        "成分：棉100%",
        "万能胶水，粘接力强",
        "正品保证，假一赔十",
        "治愈系的插画风格",
        "不是药品，不能代替药物治疗疾病",
        "My best friend loved it",
        "Best seller in our summer collection",
        "Best before: see bottom of can",
        "It's best to hand wash this sweater",
        "Treat yourself to something special",
        "Dog treats made with real chicken",
        "Dry-cured ham from Spain",
        "100% cotton, machine washable",
        "Item no. 12345",
        "Model #12 in navy",
        "Satisfaction guaranteed or your money back",
        "Heel height 3 inches",
        "Bestselling dress is back",
    ],
)
def test_everyday_phrases_pass(text: str) -> None:
    assert check(text) == [], explain(text)
    assert is_compliant(text)


def test_spans_point_into_the_original_text_after_normalisation() -> None:
    text = "全网ＮＯ．１的好评，BEST PRICE"
    found = check(text)
    assert [(v.term, v.start, v.end) for v in found] == [("ＮＯ．１", 2, 6), ("BEST", 10, 14)]
    assert all(text[v.start : v.end] == v.term for v in found)


def test_language_decides_code_of_script_neutral_terms() -> None:
    assert codes("人气TOP1") == [("ADLAW_PLATFORM_ABSOLUTE", "TOP1")]
    assert codes("No.1 in sales") == [("ADLAW_SUPERLATIVE_EN", "No.1")]
    assert codes("No.1 in sales", language="zh-CN") == [("ADLAW_PLATFORM_ABSOLUTE", "No.1")]


def test_mixed_script_copy_runs_both_lexicons() -> None:
    found = codes("最好的T-shirt, the best choice")
    assert ("ADLAW_ABSOLUTE_TERM", "最好") in found
    assert ("ADLAW_SUPERLATIVE_EN", "best") in found


def test_overlapping_terms_report_once_leftmost_longest() -> None:
    assert codes("天下第一好吃的辣条") == [("ADLAW_PLATFORM_ABSOLUTE", "天下第一")]


def test_english_words_need_boundaries_even_next_to_chinese() -> None:
    assert codes("销量NO.1") == [("ADLAW_PLATFORM_ABSOLUTE", "NO.1")]
    assert check("bestseller") == []
    assert check("Gift card for Best Buy") == []


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "!!!", "12345", "\x00\ufffd", "🙂🙂"])
def test_empty_and_garbage_input(text: str) -> None:
    assert check(text) == []
    assert is_compliant(text)


def test_deterministic_and_fast_enough() -> None:
    text = "全网最低价，销量第一，最好的面膜，100%有效！The best, #1, FDA approved."
    first = check(text)
    assert all(check(text) == first for _ in range(5))
    assert len(first) >= 6
    assert all(isinstance(v, Violation) for v in first)


def test_redact_keeps_offsets_and_explain_names_rule() -> None:
    text = "全网最低价，质量很好"
    assert redact(text) == "****价，质量很好"
    assert len(redact(text)) == len(text)
    lines = explain(text)
    assert len(lines) == 1 and "Art. 9(3)" in lines[0]


def test_detect_language_by_script() -> None:
    assert detect_language("iPhone 15 手机壳") == "zh"
    assert detect_language("Striped Pink Knit Top") == "en"
    assert detect_language("") == "en"


def test_lexicon_is_versioned_data() -> None:
    version = lexicon_version()
    assert "zh:" in version and "en:" in version and "common:" in version


def _write_lexicon(tmp_path: Path, entry: dict[str, object]) -> Path:
    data = {
        "format": 1,
        "language": "en",
        "version": "t",
        "codes": {"X": {"rule": "r", "severity": "error"}},
        "entries": [entry],
    }
    (tmp_path / "en.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"code": "X", "terms": ["a"], "unles_next": "x"}, "unknown keys"),
        ({"code": "Y", "terms": ["a"]}, "not declared"),
        ({"code": "X", "patterns": ["(unclosed"]}, "bad regex"),
        ({"code": "X"}, "neither terms nor patterns"),
    ],
)
def test_lexicon_loader_is_strict(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        load_lexicon(_write_lexicon(tmp_path, entry))


def test_custom_lexicon_can_be_passed(tmp_path: Path) -> None:
    lexicon = load_lexicon(_write_lexicon(tmp_path, {"code": "X", "terms": ["foo bar"]}))
    assert [(v.code, v.term) for v in check("a Foo-Bar here", lexicon=lexicon)] == [("X", "Foo-Bar")]
    assert check("foobar", lexicon=lexicon) == []


def test_phrase_set_is_large_labelled_and_scored() -> None:
    phrases = read_phrases()
    assert len(phrases) >= 250
    assert {p.language for p in phrases} == {"zh", "en"}
    assert sum(p.positive for p in phrases) > 100 and sum(not p.positive for p in phrases) > 100
    outcomes = run(phrases)
    for language in ("zh", "en"):
        s = score(outcomes, language)
        # Regression floor, well under the measured figures (see docs/_drafts/compliance-and-tags.md).
        assert s.precision >= 0.9 and s.recall >= 0.95 and s.code_ok >= 0.95, s


def test_evaluate_command_prints_scores() -> None:
    result = CliRunner().invoke(evaluate, ["compliance", "--split", "heldout"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "prec" in out and "heldout" in out
    result = CliRunner().invoke(evaluate, ["compliance", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {s["language"] for s in payload["scores"]} == {"zh", "en", "all"}
