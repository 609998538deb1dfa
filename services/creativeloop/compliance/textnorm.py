"""Text normalisation with offsets back into the original, and script-based language detection.

Lexicon terms are written in plain half-width lower case; ad copy arrives with full-width forms
("ＮＯ．１", "１００％"), curly apostrophes and mixed case. Matching runs on a normalised copy, and
every violation must still point at the caller's own characters, so the copy keeps a map from
each of its characters to the original index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: CJK unified ideographs (basic block and extension A) and compatibility ideographs.
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Normalised:
    """`text` normalised; `origin[i]` is the index in the original of normalised character i."""

    text: str
    origin: tuple[int, ...]
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised [start, end)."""
        if start >= end:
            at = self.origin[start] if start < len(self.origin) else self.original_length
            return at, at
        return self.origin[start], self.origin[end - 1] + 1


def normalise(text: str) -> Normalised:
    """NFKC (full-width to half-width), case-folded, curly quotes made straight, per character.

    Per-character NFKC keeps the offset map exact; the few sequences NFKC would compose across
    characters (combining accents) do not occur in the lexicon.
    """
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).translate(_QUOTES).casefold()
        if folded.isspace():
            folded = " " * len(folded)  # one kind of space: lexicon patterns write " "
        pieces.append(folded)
        origin.extend([index] * len(folded))
    return Normalised("".join(pieces), tuple(origin), len(text))


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among the letters (CJK + Latin) of `text`; 0 when it has none."""
    cjk = len(CJK_RE.findall(text))
    latin = len(_LATIN_RE.findall(unicodedata.normalize("NFKC", text)))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def detect_language(text: str, threshold: float = 0.3) -> str:
    """Return "zh" when CJK ideographs make up at least `threshold` of the letters, else "en".

    A character ratio, not a model: product titles are short and mix scripts ("全网NO.1",
    "iPhone 15 手机壳"), where one Chinese word in a Latin-heavy title is still Chinese copy;
    a Chinese character counts for roughly a word, hence the low threshold.
    """
    return "zh" if cjk_ratio(text) >= threshold else "en"
