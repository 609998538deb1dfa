"""The structured ad-law checker: clauses, negation and quotes, every lawful sense (each with the
claim it must not excuse), law categories, the learned component and the closed test-set report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from creativeloop.cli.evaluate import evaluate
from creativeloop.cli.train import train
from creativeloop.compliance import check
from creativeloop.compliance.checker import analyse
from creativeloop.compliance.implied import ImpliedModel, default_model, features, model_data
from creativeloop.compliance.lexicon import (
    CATEGORIES,
    FAMILIES,
    SENSES,
    LexiconError,
    default_lexicon,
    load_lexicon,
)
from creativeloop.compliance.scope import negator_before, quoted
from creativeloop.compliance.segment import clauses, sentences
from creativeloop.compliance.textnorm import normalise
from creativeloop.evaluation import compliance as compliance_report


def senses_of(text: str, language: str | None = None) -> set[str]:
    return {e.excuse.sense for e in analyse(text, language=language, implied=False).excused}


def categories_of(text: str, language: str | None = None) -> set[str]:
    return {v.category for v in analyse(text, language=language).violations}


# --------------------------------------------------------------------------- lawful senses

LAWFUL = [
    # (text, the sense that excuses its flagged word)
    ("Print #1 of 500 in a numbered edition", "sequence"),
    ("最上层放调料，最底层放锅具", "position"),
    ("Place pans on the lowest rack", "position"),
    ("最新版本的APP支持夜间模式", "time"),
    ("Install the latest firmware before use", "time"),
    ("唯一一件样品，清仓处理", "stock"),
    ("每人最多限购2件", "limit"),
    ("潜水表最深可达100米", "specification"),
    ("The largest size is XXL", "specification"),
    ("电量剩余100%时指示灯变绿", "measurement"),
    ("Set the brightness to 100% outdoors", "measurement"),
    ("100%新疆长绒棉毛巾", "composition"),
    ("100% Egyptian cotton sheets", "composition"),
    ("这是我们店里最轻的一款", "internal_comparison"),
    ("Our lightest backpack yet", "internal_comparison"),
    ("第一人民医院对面的门店", "fixed_term"),
    ("Best Western hotel voucher", "fixed_term"),
    ("口红色号NO.1蜜桃粉", "code"),
    ("Shade #1 Ivory for fair skin", "code"),
    ("点击右上角最小化窗口", "ui"),
    ("Sort by: Best Match", "ui"),
    ("《最好的我们》同款书包", "quote"),
    ('Tina Turner\'s "Simply the Best" on vinyl', "quote"),
    ("不是最便宜的，但用料实在", "negation"),
    ("This product is not intended to diagnose, treat, cure, or prevent any disease.", "negation"),
    ("最大的缺点是有点重", "self_criticism"),
    ("The most annoying thing is the zipper", "self_criticism"),
    ("顾客第一，服务至上", "goal"),
    ("We strive to be the best we can be", "goal"),
    ("开封后最好一周内吃完", "consumption_hint"),
    ("宝宝最常穿的一件", "preference"),
    ("今年最流行什么颜色？", "question"),
]


@pytest.mark.parametrize(("text", "sense"), LAWFUL)
def test_each_lawful_sense_excuses_its_reading(text: str, sense: str) -> None:
    analysis = analyse(text, implied=False)
    assert analysis.violations == (), analysis.violations
    assert sense in senses_of(text), analysis.excused
    for excused in analysis.excused:
        assert excused.excuse.reason == SENSES[excused.excuse.sense]
        assert text[excused.start : excused.end] == excused.term


CLAIMS = [
    # the same words as claims: no sense may excuse them
    ("第一品牌，销量第一", "ADLAW_ABSOLUTE_TERM"),
    ("The industry's first self-heating mug", "ADLAW_ABSOLUTE_TERM"),
    ("最强续航，一周一充", "ADLAW_ABSOLUTE_TERM"),  # a dimension word without a stated value
    ("The lightest stroller on the market", "ADLAW_ABSOLUTE_TERM"),
    ("100%有效，无效退款", "ADLAW_ABSOLUTE_TERM"),
    ("100% natural and chemical-free", "ADLAW_ABSOLUTE_TERM"),
    ("本店最佳选择", "ADLAW_ABSOLUTE_TERM"),  # an evaluative superlative is no self-comparison
    ("Our coffee is simply the best in the world", "ADLAW_ABSOLUTE_TERM"),
    (
        '"Best purchase ever!" says every customer',
        "ADLAW_ABSOLUTE_TERM",
    ),  # a testimonial is used, not mentioned
    ("不贵，最好的选择", "ADLAW_ABSOLUTE_TERM"),  # the negation ends at the comma
    ("Not expensive, but the best choice", "ADLAW_ABSOLUTE_TERM"),  # ... and at a contrast
    ("绝对不会起球的羊毛衫", "ADLAW_ABSOLUTE_TERM"),  # 绝对 + a negative verb is an absolute promise
    ("质量第一的大米", "ADLAW_ABSOLUTE_TERM"),  # a rank of the goods, not a motto
    ("Premium top-shelf quality", "ADLAW_ABSOLUTE_TERM"),  # top shelf as a grade, not a place
]


@pytest.mark.parametrize(("text", "category"), CLAIMS)
def test_claims_with_the_same_words_stay_violations(text: str, category: str) -> None:
    assert category in categories_of(text), analyse(text)


# --------------------------------------------------------------------------- categories, both languages


@pytest.mark.parametrize(
    ("zh", "en", "category"),
    [
        ("中南海特供茶叶", "Official tea of the Great Hall of the People", "ADLAW_STATE_ENDORSEMENT"),
        ("卫健委推荐的儿童牙膏", "Endorsed by the Ministry of Health", "ADLAW_STATE_ENDORSEMENT"),
        ("同类产品无人能及", "Nothing else comes close", "ADLAW_IMPLIED_SUPERLATIVE"),
        ("别家根本比不了", "Other brands can't compete", "ADLAW_IMPLIED_SUPERLATIVE"),
        ("零副作用，孕妇也能用", "No side effects whatsoever", "ADLAW_MISLEADING"),
        ("永不褪色的项链", "Never fades, never pills", "ADLAW_MISLEADING"),
        ("专家推荐的奶粉", "Recommended by doctors worldwide", "ADLAW_MISLEADING"),
        ("不瘦全额退款", "Lose 10 pounds in two weeks or your money back", "ADLAW_GUARANTEE"),
        ("包你考过四六级", "Guaranteed admission to a top university", "ADLAW_GUARANTEE"),
        ("从此和药罐子说再见", "Throw away your blood pressure pills", "ADLAW_MEDICAL_CLAIM"),
        ("顶级配方", "Top-grade stainless steel", "ADLAW_ABSOLUTE_TERM"),
    ],
)
def test_english_is_judged_by_the_same_rules_as_chinese(zh: str, en: str, category: str) -> None:
    assert category in categories_of(zh, "zh"), analyse(zh)
    assert category in categories_of(en, "en"), analyse(en)


@pytest.mark.parametrize(
    "text",
    [
        "正品保证，假一赔十",
        "Satisfaction guaranteed, free returns",
        "Risk-free trial: return within 60 days",
        "通过国家3C认证",
        "Meets FDA food-contact requirements",
        "USDA Certified Organic",
        "参与国家以旧换新补贴，立减15%",
        "终身保修，放心使用",
        "医生建议孕妇多补充叶酸",
        "Dermatologist tested for sensitive skin",
        "秒杀价，限时抢购",
    ],
)
def test_service_commitments_standards_and_advice_pass(text: str) -> None:
    assert check(text) == [], analyse(text)


def test_every_violation_has_category_rule_reference_rule_id_and_reason() -> None:
    text = "全网最低价，中南海特供，别家根本比不了。Nothing else comes close, no side effects, FDA approved."
    found = check(text)
    assert {v.category for v in found} >= {
        "ADLAW_ABSOLUTE_TERM",
        "ADLAW_STATE_ENDORSEMENT",
        "ADLAW_IMPLIED_SUPERLATIVE",
        "ADLAW_MISLEADING",
    }
    for v in found:
        assert v.category in CATEGORIES and v.rule and v.rule_id and v.reason
        assert text[v.start : v.end] == v.term


def test_shipped_codes_entries_and_senses_are_consistent() -> None:
    lexicon = default_lexicon()
    assert {info.category for info in lexicon.codes.values()} == set(CATEGORIES)
    entries = [e for group in lexicon.entries.values() for e in group]
    assert len({e.id for e in entries}) == len(entries)
    assert all(e.family in FAMILIES for e in entries)
    assert {rule.sense for rule in lexicon.senses} | {"negation", "quote"} == set(SENSES)


def test_overlapping_hits_of_two_categories_are_both_reported() -> None:
    found = check("Permanent results guaranteed")
    assert {v.category for v in found} == {"ADLAW_MISLEADING", "ADLAW_GUARANTEE"}


# --------------------------------------------------------------------------- clauses and scope


def test_clauses_cut_at_chinese_commas_and_english_contrasts_only() -> None:
    text = normalise(
        "不是最便宜的，但用料实在。Does not diagnose, treat, cure or prevent, but smells great"
    ).text
    parts = [c.of(text) for c in clauses(text)]
    assert parts == [
        "不是最便宜的",
        "但用料实在",
        "does not diagnose, treat, cure or prevent",
        " but smells great",
    ]
    title = "voted no. 1 in 2024. great!"
    assert [s.of(title) for s in sentences(title)] == ["voted no. 1 in 2024", " great"]


@pytest.mark.parametrize(
    ("clause", "word", "negator"),
    [
        ("不敢说是第一", "第一", "不敢"),
        ("没有任何一款护肤品是万能的", "万能", "没有"),
        ("we don't claim to be the best", "best", "don't"),
        ("不仅是最好的", "最好", None),  # not only
        ("质量不错最好的", "最好", None),  # not bad
        ("no.1 in sales", "no.1", None),
        ("not only the best", "best", None),
    ],
)
def test_negation_scope(clause: str, word: str, negator: str | None) -> None:
    assert negator_before(clause, clause.index(word)) == negator


def test_quotes_are_titles_or_mentions_not_testimonials() -> None:
    text = "《最好的我们》同款"
    assert quoted(text, 1, 3) == "title"
    mention = '广告法规定不能用"最"字'
    assert quoted(mention, mention.index("最"), mention.index("最") + 1) == "mention"
    testimonial = '"best purchase ever!" - sarah'
    assert quoted(testimonial, 1, 5) is None


# --------------------------------------------------------------------------- lexicon loader


def _write(tmp_path: Path, extra: dict[str, object]) -> Path:
    data = {
        "format": 1,
        "language": "en",
        "version": "t",
        "codes": {"X": {"rule": "r", "severity": "error"}},
        "entries": [{"code": "X", "terms": ["foo"]}],
        **extra,
    }
    (tmp_path / "en.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"senses": [{"sense": "sequnce", "families": ["rank"], "covers": ["x"]}]}, "sense 'sequnce'"),
        ({"senses": [{"sense": "sequence", "families": ["rnak"], "covers": ["x"]}]}, "families"),
        ({"senses": [{"sense": "sequence", "families": ["rank"], "covers": []}]}, "no covers"),
        ({"entries": [{"code": "X", "terms": ["foo"], "family": "nope"}]}, "family 'nope'"),
        ({"entries": [{"code": "X", "terms": ["foo"], "category": "ADLAW_NOPE"}]}, "category"),
        (
            {
                "entries": [
                    {"id": "a", "code": "X", "terms": ["foo"]},
                    {"id": "a", "code": "X", "terms": ["b"]},
                ]
            },
            "duplicate",
        ),
    ],
)
def test_loader_checks_senses_families_categories_and_ids(
    tmp_path: Path, extra: dict[str, object], message: str
) -> None:
    with pytest.raises(LexiconError, match=message):
        load_lexicon(_write(tmp_path, extra))


def test_a_custom_lexicon_runs_its_own_senses(tmp_path: Path) -> None:
    senses = [{"sense": "fixed_term", "families": ["absolute"], "covers": ["foo ?bar"]}]
    lexicon = load_lexicon(_write(tmp_path, {"senses": senses}))
    assert [v.term for v in check("foo here", lexicon=lexicon)] == ["foo"]
    assert check("a foobar here", lexicon=lexicon) == []


# --------------------------------------------------------------------------- learned component


def test_features_fold_width_case_and_digits() -> None:
    assert features("ＮＯＴＨＩＮＧ comes 12") == features("nothing Comes 7")
    assert "c:无人" in features("无人能及") and "b:comes close" in features("Nothing comes close")


def test_shipped_model_loads_and_catches_an_implied_claim_no_rule_has() -> None:
    model = default_model()
    assert model is not None and 0.5 <= model.threshold < 1.0
    text = "Kiss your headaches goodbye"
    assert analyse(text, implied=False).violations == ()
    verdict = model.predict(text)
    assert verdict is not None and verdict.category == "ADLAW_MEDICAL_CLAIM"
    assert [v.rule_id for v in check(text)] == [model.rule_id]
    assert model.predict("Soft cotton crew socks, 6 pairs") is None
    assert model.predict("面料柔软亲肤，可机洗") is None


def test_learned_verdicts_carry_model_reason_and_rules_only_leaves_them_out() -> None:
    model = ImpliedModel(
        model_data(
            ["ok", "ADLAW_IMPLIED_SUPERLATIVE"],
            [2.0, -2.0],
            {"w:zebras": [-5.0, 5.0], "w:adore": [-5.0, 5.0]},
            0.6,
            "t",
            {},
        )
    )
    text = "Zebras adore us. Free shipping."
    learned = analyse(text, implied=model).violations
    assert [(v.term, v.category, v.rule_id) for v in learned] == [
        ("Zebras adore us", "ADLAW_IMPLIED_SUPERLATIVE", "learned.implied@t")
    ]
    assert "p(ADLAW_IMPLIED_SUPERLATIVE)" in learned[0].reason and "zebras" in learned[0].reason
    assert analyse(text, implied=False).violations == ()
    # A sentence whose flagged word the rules found lawful is not second-guessed by the model.
    assert analyse("Zebras adore our 100% cotton tee", implied=model).violations == ()


def test_model_format_is_checked() -> None:
    with pytest.raises(ValueError, match="format"):
        ImpliedModel({"format": 99})
    with pytest.raises(ValueError, match="one weight per class"):
        ImpliedModel(model_data(["ok", "X"], [0, 0], {"w:a": [1.0]}, 0.5, "t", {}))


def test_train_command_has_help() -> None:
    result = CliRunner().invoke(train, ["adlaw-implied", "--help"])
    assert result.exit_code == 0 and "Usage: train adlaw-implied" in result.output


# --------------------------------------------------------------------------- evaluation


def _phrases(tmp_path: Path) -> Path:
    path = tmp_path / "phrases.tsv"
    path.write_text(
        "# a comment\n"
        "ADLAW_ABSOLUTE_TERM\tzh\t全网最低价\tkind=explicit\n"
        "ADLAW_IMPLIED_SUPERLATIVE\ten\tNothing else comes close\tkind=implicit\n"
        "ok\ten\t100% cotton tee\tkind=tricky_ok\n"
        "ok\tzh\t最好的朋友送的\tkind=tricky_ok\n"
        "ADLAW_GUARANTEE\ten\tSoft cotton tee\tkind=implicit\n",
        encoding="utf-8",
    )
    return path


def test_report_has_rates_and_categories(tmp_path: Path) -> None:
    report = compliance_report.evaluate(path=_phrases(tmp_path), set_name="tuning")
    rates = {(r.name, r.language): (r.n, r.hits) for r in report.rates}
    assert rates[("tricky_fp", "all")] == (2, 0)
    assert rates[("implicit_recall", "all")] == (2, 1)
    by_category = {c.category: c for c in report.categories}
    assert by_category["ADLAW_GUARANTEE"].found == 0 and by_category["ADLAW_ABSOLUTE_TERM"].found == 1
    assert len(report.errors) == 1 and "Soft cotton tee" in report.format()


def test_test_set_report_shows_aggregates_only(tmp_path: Path) -> None:
    report = compliance_report.evaluate(path=_phrases(tmp_path), set_name="test")
    text = report.format()
    assert report.errors == () and "aggregate figures only" in text
    for phrase in ("全网最低价", "Nothing else", "Soft cotton", "100% cotton"):
        assert phrase not in text and phrase not in json.dumps(report.to_dict(), ensure_ascii=False)
    result = CliRunner().invoke(
        evaluate, ["compliance", "--set", "test", "--phrases", str(_phrases(tmp_path))]
    )
    assert result.exit_code == 0 and "Soft cotton" not in result.output and "tricky_fp" in result.output


def test_tuning_sets_are_labelled_with_law_categories_and_kinds() -> None:
    phrases = compliance_report.read_phrases(compliance_report.phrase_file("tuning"))
    assert len(phrases) >= 1000
    assert {p.label for p in phrases} == {"ok", *CATEGORIES}
    assert {p.kind for p in phrases} == {"explicit", "implicit", "tricky_ok", "plain_ok", "real_review"}
    assert {p.language for p in phrases} == {"zh", "en"}
