"""Score the checker on the labelled phrase set: precision, recall and F1 per language, and the errors.

    creativeloop eval compliance [--split dev|heldout|all] [--phrases PATH] [--json]

A phrase is positive when its label is a violation code. Detection counts a positive as found
when `check` reports any violation; `code_ok` is the share of found positives whose expected code
is among the reported ones. The set was written before the checker; a fixed third of it (by a
hash of the text) is the held-out split, never looked at while the lexicon was tuned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from creativeloop.compliance.checker import check
from creativeloop.compliance.lexicon import default_lexicon

OK = "ok"


@dataclass(frozen=True)
class Phrase:
    label: str
    language: str
    text: str
    note: str

    @property
    def positive(self) -> bool:
        return self.label != OK

    @property
    def split(self) -> str:
        return "heldout" if int(hashlib.sha256(self.text.encode()).hexdigest(), 16) % 3 == 0 else "dev"


@dataclass(frozen=True)
class Scores:
    language: str
    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    code_ok: float


@dataclass(frozen=True)
class Outcome:
    phrase: Phrase
    predicted: tuple[str, ...]
    terms: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.predicted)

    @property
    def correct(self) -> bool:
        if self.phrase.positive:
            return self.phrase.label in self.predicted
        return not self.flagged


def read_phrases(path: Path | None = None) -> list[Phrase]:
    """The phrase set (tab-separated label, language, text, note; '#' lines are comments)."""
    if path is None:
        text = (resources.files("creativeloop.datasets") / "ad_phrases.tsv").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    phrases = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise ValueError(f"phrases line {number}: {len(fields)} fields, expected 4")
        phrases.append(Phrase(*fields))
    return phrases


def run(phrases: Iterable[Phrase]) -> list[Outcome]:
    out = []
    for phrase in phrases:
        found = check(phrase.text, language=phrase.language)
        out.append(Outcome(phrase, tuple(v.code for v in found), tuple(v.term for v in found)))
    return out


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def score(outcomes: Sequence[Outcome], language: str) -> Scores:
    rows = [o for o in outcomes if language in ("all", o.phrase.language)]
    tp = sum(1 for o in rows if o.phrase.positive and o.flagged)
    fp = sum(1 for o in rows if not o.phrase.positive and o.flagged)
    fn = sum(1 for o in rows if o.phrase.positive and not o.flagged)
    tn = len(rows) - tp - fp - fn
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    code_ok = _ratio(sum(1 for o in rows if o.phrase.positive and o.correct), tp)
    return Scores(language, len(rows), tp, fp, fn, tn, precision, recall, f1, code_ok)


@dataclass(frozen=True)
class Report:
    """Scores per language (zh, en, all) and every phrase the checker got wrong, on one split."""

    lexicon: str
    split: str
    phrases: int
    scores: tuple[Scores, ...]
    errors: tuple[Outcome, ...]

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` prints."""
        return {
            "lexicon": self.lexicon,
            "split": self.split,
            "scores": [asdict(s) for s in self.scores],
            "errors": [
                {**asdict(o.phrase), "split": o.phrase.split, "predicted": o.predicted, "terms": o.terms}
                for o in self.errors
            ],
        }

    def format(self) -> str:
        """The scores table and the errors, one per line."""
        lines = [
            f"lexicon {self.lexicon}, split {self.split}, {self.phrases} phrases",
            f"{'lang':<5}{'n':>5}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}{'prec':>8}{'recall':>8}{'f1':>8}{'code':>8}",
        ]
        for s in self.scores:
            lines.append(
                f"{s.language:<5}{s.n:>5}{s.tp:>5}{s.fp:>5}{s.fn:>5}{s.tn:>5}"
                f"{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.code_ok:>8.3f}"
            )
        lines.append(
            f"\n{len(self.errors)} errors "
            "(FP: flagged an ok phrase, FN: missed, CODE: flagged with another code)"
        )
        for o in self.errors:
            kind = "FP" if not o.phrase.positive else ("FN" if not o.flagged else "CODE")
            found = ", ".join(f"{c}:{t}" for c, t in zip(o.predicted, o.terms, strict=True)) or "-"
            where = f"{kind:<5}{o.phrase.split:<8}{o.phrase.language:<3}"
            lines.append(f"{where}{o.phrase.text}  [{o.phrase.label}] -> {found}")
        return "\n".join(lines)


def evaluate(split: str = "all", path: Path | None = None) -> Report:
    """Check every phrase of ``split`` (``all``, ``dev`` or ``heldout``) of the phrase set."""
    phrases = [p for p in read_phrases(path) if split in ("all", p.split)]
    outcomes = run(phrases)
    return Report(
        lexicon=default_lexicon().version,
        split=split,
        phrases=len(phrases),
        scores=tuple(score(outcomes, language) for language in ("zh", "en", "all")),
        errors=tuple(o for o in outcomes if not o.correct),
    )
