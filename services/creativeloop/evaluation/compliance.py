"""Score the ad-law checker on labelled phrase sets: precision, recall and F1 per language, the
tricky-negative false-positive rate, implicit-violation recall and per-category figures.

    creativeloop eval compliance [--set project|tuning|test] [--split dev|heldout|all] [--phrases PATH]
                                 [--rules-only] [--json]

Three sets, each `label<TAB>language<TAB>text<TAB>note` ('#' lines are comments):

- ``project`` (`datasets/ad_phrases.tsv`): the project's first set, written with the old checker;
  a fixed third of it (by a hash of the text) is its ``heldout`` split. Its labels may be reason
  codes (``ADLAW_PLATFORM_ABSOLUTE``); they are compared by law category.
- ``tuning`` (`datasets/ad_phrases_tuning.tsv`): written for issue 16's failure modes before the
  structured checker's rules changed, and tuned on; notes carry ``kind=explicit|implicit|
  tricky_ok|plain_ok|real_review``.
- ``test`` (`datasets/ad_phrases_test.tsv`): written independently, never tuned on. Its report
  holds aggregate figures only: no phrase and no error is printed or returned.

A phrase is positive when its label is a violation code. Detection counts a positive as found
when the checker reports any violation; `code_ok` is the share of found positives whose law
category is among the reported ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from creativeloop.compliance.checker import analyse
from creativeloop.compliance.lexicon import CATEGORIES, default_lexicon

OK = "ok"
SETS = {"project": "ad_phrases.tsv", "tuning": "ad_phrases_tuning.tsv", "test": "ad_phrases_test.tsv"}
#: Sets whose phrases and errors may be printed (the test set's never are).
OPEN_SETS = ("project", "tuning")
_KIND_RE = re.compile(r"kind=([a-z_]+)")


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

    @property
    def kind(self) -> str:
        """The note's ``kind=`` (explicit, implicit, tricky_ok, plain_ok, real_review), or ""."""
        found = _KIND_RE.search(self.note)
        return found.group(1) if found else ""

    @property
    def category(self) -> str:
        """The label as a law category (a reason-code label maps through the lexicon)."""
        codes = default_lexicon().codes
        return codes[self.label].category if self.label in codes else self.label


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
    categories: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.predicted)

    @property
    def correct(self) -> bool:
        if self.phrase.positive:
            return self.phrase.label in self.predicted or self.phrase.category in self.categories
        return not self.flagged


def phrase_file(name: str) -> Path:
    """The shipped file of phrase set `name` (one of `SETS`)."""
    with resources.as_file(resources.files("creativeloop.datasets") / SETS[name]) as path:
        return Path(path)


def read_phrases(path: Path | None = None) -> list[Phrase]:
    """A phrase set (tab-separated label, language, text, note; '#' lines are comments); the
    project set when `path` is None."""
    text = (path or phrase_file("project")).read_text(encoding="utf-8")
    phrases = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise ValueError(f"phrases line {number}: {len(fields)} fields, expected 4")
        phrases.append(Phrase(*fields))
    return phrases


def run(phrases: Iterable[Phrase], *, rules_only: bool = False) -> list[Outcome]:
    out = []
    for phrase in phrases:
        found = analyse(phrase.text, language=phrase.language, implied=not rules_only).violations
        out.append(
            Outcome(
                phrase,
                tuple(v.code for v in found),
                tuple(v.term for v in found),
                tuple(v.category for v in found),
            )
        )
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
class Rate:
    """`hits` of `n` phrases (flagged negatives, or found positives), per language and overall."""

    name: str
    language: str
    n: int
    hits: int

    @property
    def rate(self) -> float:
        return _ratio(self.hits, self.n)


@dataclass(frozen=True)
class CategoryScores:
    """Per law category: positives labelled with it, how many were found (any code) and found
    with it, and how often it was predicted on any phrase and right."""

    category: str
    n: int
    found: int
    found_with_category: int
    predicted: int
    predicted_right: int


def rates(outcomes: Sequence[Outcome]) -> tuple[Rate, ...]:
    """Tricky-negative FP, plain-negative FP, real-review error, explicit and implicit recall."""
    out = []
    for language in ("zh", "en", "all"):
        rows = [o for o in outcomes if language in ("all", o.phrase.language)]
        for name, kind, positive in (
            ("tricky_fp", "tricky_ok", False),
            ("plain_fp", "plain_ok", False),
            ("explicit_recall", "explicit", True),
            ("implicit_recall", "implicit", True),
        ):
            chosen = [o for o in rows if o.phrase.kind == kind and o.phrase.positive == positive]
            if chosen:
                out.append(Rate(name, language, len(chosen), sum(o.flagged for o in chosen)))
        reviews = [o for o in rows if o.phrase.kind == "real_review"]
        if reviews:
            out.append(Rate("real_review_wrong", language, len(reviews), sum(not o.correct for o in reviews)))
    return tuple(out)


def categories(outcomes: Sequence[Outcome]) -> tuple[CategoryScores, ...]:
    out = []
    for category in CATEGORIES:
        labelled = [o for o in outcomes if o.phrase.positive and o.phrase.category == category]
        predicted = [o for o in outcomes if category in o.categories]
        out.append(
            CategoryScores(
                category,
                len(labelled),
                sum(o.flagged for o in labelled),
                sum(category in o.categories for o in labelled),
                len(predicted),
                sum(o.phrase.category == category for o in predicted),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Report:
    """Scores of one phrase set (and split); `errors` is always empty for the test set."""

    lexicon: str
    split: str
    phrases: int
    scores: tuple[Scores, ...]
    errors: tuple[Outcome, ...]
    set: str = "project"
    rates: tuple[Rate, ...] = ()
    categories: tuple[CategoryScores, ...] = ()
    learned: bool = True
    kinds: dict[str, int] = field(default_factory=dict)
    path: str = ""

    @property
    def open(self) -> bool:
        """Whether phrases and errors may be shown (never for the test set)."""
        return self.set in OPEN_SETS

    def to_dict(self) -> dict[str, Any]:
        """What ``--json`` prints (no phrase of the test set)."""
        return {
            "lexicon": self.lexicon,
            "set": self.set,
            "path": self.path,
            "split": self.split,
            "learned": self.learned,
            "phrases": self.phrases,
            "kinds": self.kinds,
            "scores": [asdict(s) for s in self.scores],
            "rates": [{**asdict(r), "rate": r.rate} for r in self.rates],
            "categories": [asdict(c) for c in self.categories],
            "errors": [
                {
                    **asdict(o.phrase),
                    "split": o.phrase.split,
                    "predicted": o.predicted,
                    "categories": o.categories,
                    "terms": o.terms,
                }
                for o in self.errors
            ],
        }

    def format(self) -> str:
        """The scores tables and (open sets only) the errors, one per line."""
        component = "rules + learned component" if self.learned else "rules only"
        where = f" ({self.path})" if self.path else ""
        lines = [
            f"lexicon {self.lexicon}, set {self.set}{where}, split {self.split}, "
            f"{self.phrases} phrases, {component}",
            f"{'lang':<5}{'n':>5}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}{'prec':>8}{'recall':>8}{'f1':>8}{'code':>8}",
        ]
        for s in self.scores:
            lines.append(
                f"{s.language:<5}{s.n:>5}{s.tp:>5}{s.fp:>5}{s.fn:>5}{s.tn:>5}"
                f"{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.code_ok:>8.3f}"
            )
        if self.rates:
            lines.append(f"\n{'rate':<20}{'lang':<5}{'n':>5}{'hits':>6}{'rate':>8}")
            for r in self.rates:
                lines.append(f"{r.name:<20}{r.language:<5}{r.n:>5}{r.hits:>6}{r.rate:>8.3f}")
        if self.categories:
            lines.append(
                f"\n{'category':<28}{'n':>5}{'found':>7}{'as it':>7}{'recall':>8}"
                f"{'pred':>6}{'right':>7}{'prec':>7}"
            )
            for c in self.categories:
                lines.append(
                    f"{c.category:<28}{c.n:>5}{c.found:>7}{c.found_with_category:>7}"
                    f"{_ratio(c.found, c.n):>8.3f}"
                    f"{c.predicted:>6}{c.predicted_right:>7}{_ratio(c.predicted_right, c.predicted):>7.3f}"
                )
        if not self.open:
            lines.append("\n(test set: aggregate figures only; its phrases and errors are not shown)")
            return "\n".join(lines)
        lines.append(
            f"\n{len(self.errors)} errors "
            "(FP: flagged an ok phrase, FN: missed, CODE: flagged with another category)"
        )
        for o in self.errors:
            kind = "FP" if not o.phrase.positive else ("FN" if not o.flagged else "CODE")
            found = ", ".join(f"{c}:{t}" for c, t in zip(o.categories, o.terms, strict=True)) or "-"
            tag = o.phrase.kind or o.phrase.split
            where = f"{kind:<5}{tag:<12}{o.phrase.language:<3}"
            lines.append(f"{where}{o.phrase.text}  [{o.phrase.label}] -> {found}")
        return "\n".join(lines)


def evaluate(
    split: str = "all", path: Path | None = None, *, set_name: str = "project", rules_only: bool = False
) -> Report:
    """Check every phrase of ``split`` (``all``, ``dev`` or ``heldout``) of a phrase set: the set
    named `set_name` (``project``, ``tuning``, ``test``), or the file at `path`."""
    if set_name not in SETS:
        raise ValueError(f"unknown phrase set {set_name!r}, expected one of {sorted(SETS)}")
    phrases = [p for p in read_phrases(path or phrase_file(set_name)) if split in ("all", p.split)]
    outcomes = run(phrases, rules_only=rules_only)
    kinds: dict[str, int] = {}
    for p in phrases:
        if p.kind:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
    is_open = set_name in OPEN_SETS
    return Report(
        lexicon=default_lexicon().version,
        split=split,
        phrases=len(phrases),
        scores=tuple(score(outcomes, language) for language in ("zh", "en", "all")),
        errors=tuple(o for o in outcomes if not o.correct) if is_open else (),
        set=set_name,
        rates=rates(outcomes),
        categories=categories(outcomes),
        learned=not rules_only,
        kinds=dict(sorted(kinds.items())),
        path=str(path) if path else "",
    )
