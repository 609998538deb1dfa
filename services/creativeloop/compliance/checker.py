"""Find ad-law violations in a piece of copy: candidate claims, their lawful senses, one code per span.

The checker is structured, not a word list:

1. **Candidates.** Every lexicon entry (terms and patterns, `lexicon/*.json`) and the Chinese
   最 + word rule propose candidate claims, each with a reason code, a law category and a
   *family* (rank, superlative, percent, medical ...). All lexicons run on every text, because
   copy mixes scripts (全网NO.1, "#1 热卖"); `language` only decides which lexicon wins when two
   match the same characters and which code a script-neutral term gets.
2. **Clauses and senses.** The text is cut into clauses (`segment.clauses`); a candidate is
   excused when a lawful sense applies inside its clause: it is quoted or negated, or a sense
   pattern covers it (sequence, position, time, stock, limit, specification, measurement,
   composition, internal comparison, fixed term, code, UI word, self-criticism, goal,
   consumption hint, preference, question; see `senses`).
3. **Resolution.** The remaining candidates are resolved leftmost-longest, so 天下第一 reports
   once, not as 天下第一 and 第一.
4. **Implied claims.** Sentences without any listed word (the rules judged every sentence that
   has one) go through the learned component (`implied`, a classifier trained by `creativeloop train
   adlaw-implied`), which catches claims said without a listed word; its verdicts carry the
   classifier's probability and cue words as reason.

Every `Violation` carries its reason code, law category, rule reference, the id of the rule
that fired and a reason in words; `analyse` also returns the excused candidates with the sense
that excused each.
"""

from __future__ import annotations

from dataclasses import dataclass

from creativeloop.compliance.implied import ImpliedModel, default_model
from creativeloop.compliance.lexicon import Entry, Lexicon, default_lexicon
from creativeloop.compliance.segment import Clause, Tokens, clause_at, clauses, sentences, superlative_hits
from creativeloop.compliance.senses import Excuse, excuse
from creativeloop.compliance.textnorm import Normalised, detect_language, normalise

_CONTEXT = 40  # characters of context the unless_next / unless_prev patterns may look at
_SUPERLATIVE_ID = "zh.superlative_prefix"


@dataclass(frozen=True)
class Violation:
    """`text[start:end]` (the caller's own offsets) is `term`, which breaks `rule`.

    `code` is the reason code admission and copygen report (``ADLAW_PLATFORM_ABSOLUTE``);
    `category` the law category (``ADLAW_ABSOLUTE_TERM``, one of `lexicon.CATEGORIES` for the
    shipped lexicon); `rule_id` names the lexicon entry, sense-free rule or model that fired;
    `reason` says why in words.
    """

    code: str
    term: str
    start: int
    end: int
    rule: str
    severity: str
    category: str = ""
    rule_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Excused:
    """A candidate claim that a lawful sense excused (original offsets)."""

    code: str
    term: str
    start: int
    end: int
    rule_id: str
    excuse: Excuse


@dataclass(frozen=True)
class Analysis:
    """What `analyse` found: the violations and the candidates excused, both in text order."""

    language: str
    violations: tuple[Violation, ...]
    excused: tuple[Excused, ...]


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    code: str
    priority: int
    family: str
    rule_id: str
    entry: Entry | None


_FAMILY_WORDS = {
    "superlative": "superlative",
    "rank": "rank or first-of-kind claim",
    "unique": "uniqueness or exclusivity claim",
    "grade": "top-grade claim",
    "absolute": "absolute claim",
    "percent": "100% claim",
    "medical": "medical claim",
    "guarantee": "guaranteed effect, pass or return",
    "state": "state endorsement",
    "misleading": "unverifiable or misleading claim",
    "implied": "superlative in other words",
}


def _language(text: str, language: str | None) -> str:
    if language:
        primary = language.replace("_", "-").split("-")[0].lower()
        if primary in ("zh", "en"):
            return primary
    return detect_language(text)


class _Context:
    """The normalised text plus its jieba words and clauses, computed only when needed."""

    def __init__(self, norm: Normalised) -> None:
        self.text = norm.text
        self._tokens: Tokens | None = None
        self._boundaries: frozenset[int] | None = None
        self._clauses: list[Clause] | None = None
        #: Spans of every listed word the rules looked at, kept or not (an entry exception, a
        #: jieba boundary or the 最 rule's own exclusions decided it): the learned component
        #: judges only sentences without one.
        self.triggers: list[tuple[int, int]] = []

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            self._tokens = Tokens.of(self.text)
        return self._tokens

    @property
    def clauses(self) -> list[Clause]:
        if self._clauses is None:
            self._clauses = clauses(self.text)
        return self._clauses

    def aligned(self, start: int, end: int) -> bool:
        if self._boundaries is None:
            self._boundaries = self.tokens.boundaries()
        return start in self._boundaries and end in self._boundaries


def _entry_hits(entry: Entry, ctx: _Context, code: str, priority: int) -> list[_Hit]:
    hits = []
    text = ctx.text
    for regex in entry.regexes:
        for match in regex.finditer(text):
            start, end = match.span()
            if start == end:
                continue
            ctx.triggers.append((start, end))
            if entry.unless_next and entry.unless_next.match(text[end : end + _CONTEXT]):
                continue
            if entry.unless_prev and entry.unless_prev.search(text[max(0, start - _CONTEXT) : start]):
                continue
            if entry.align and not ctx.aligned(start, end):
                continue
            hits.append(_Hit(start, end, code, priority, entry.family, entry.id, entry))
    return hits


def _resolve(hits: list[_Hit], lex: Lexicon) -> list[_Hit]:
    """Leftmost-longest, non-overlapping within each law category (天下第一 once, not also 第一);
    on equal spans the higher-priority lexicon wins. Hits of different categories may overlap
    ("Permanent results guaranteed" is misleading and a guarantee)."""
    kept: list[_Hit] = []
    last_end: dict[str, int] = {}
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start), h.priority)):
        category = lex.category(hit.code, hit.entry)
        if hit.start >= last_end.get(category, -1):
            kept.append(hit)
            last_end[category] = hit.end
    return kept


def _candidates(ctx: _Context, lex: Lexicon, lang: str) -> list[_Hit]:
    order = [lang, "*", "en" if lang == "zh" else "zh"]
    hits: list[_Hit] = []
    priority = 0
    for lexicon_language in order:
        for entry in lex.entries.get(lexicon_language, ()):
            hits.extend(_entry_hits(entry, ctx, entry.code_for(lang), priority))
            priority += 1
        if lexicon_language == "zh" and lex.superlative and lex.superlative.prefix in ctx.text:
            rule = lex.superlative
            at = ctx.text.find(rule.prefix)
            while at != -1:
                ctx.triggers.append((at, at + len(rule.prefix)))
                at = ctx.text.find(rule.prefix, at + 1)
            spans = superlative_hits(ctx.text, ctx.tokens, rule)
            hits.extend(
                _Hit(s, e, rule.code, priority, "superlative", _SUPERLATIVE_ID, None) for s, e in spans
            )
            priority += 1
    return hits


def _reason(hit: _Hit, term: str, lex: Lexicon) -> str:
    basis = hit.entry.source if hit.entry is not None else (lex.superlative.source if lex.superlative else "")
    what = f"{_FAMILY_WORDS.get(hit.family, hit.family)} {term!r}, no lawful sense in its clause"
    return f"{what}: {basis}" if basis else what


def analyse(
    text: str,
    *,
    language: str | None = None,
    lexicon: Lexicon | None = None,
    implied: ImpliedModel | bool | None = True,
) -> Analysis:
    """Violations and excused candidates of `text` (deterministic).

    `implied`: the learned component for claims without a listed word; True uses the shipped
    model, False (or None) runs the rules only, or pass a model of your own.
    """
    lang = _language(text, language) if text and text.strip() else "en"
    if not text or not text.strip():
        return Analysis(lang, (), ())
    lex = lexicon or default_lexicon()
    norm = normalise(text)
    ctx = _Context(norm)
    kept: list[_Hit] = []
    excused: list[Excused] = []
    for hit in _candidates(ctx, lex, lang):
        clause = clause_at(ctx.clauses, hit.start, hit.end)
        why = excuse(ctx.text, hit.start, hit.end, hit.family, clause, lex)
        if why is None:
            kept.append(hit)
        else:
            start, end = norm.span(hit.start, hit.end)
            excused.append(Excused(hit.code, text[start:end], start, end, hit.rule_id, why))
    violations = []
    for hit in _resolve(kept, lex):
        start, end = norm.span(hit.start, hit.end)
        info = lex.codes[hit.code]
        term = text[start:end]
        violations.append(
            Violation(
                hit.code,
                term,
                start,
                end,
                info.rule,
                info.severity,
                lex.category(hit.code, hit.entry),
                hit.rule_id,
                _reason(hit, term, lex),
            )
        )
    model = default_model() if implied is True else (implied or None)
    if model is not None:
        triggers = [norm.span(start, end) for start, end in ctx.triggers]
        violations += _implied(text, norm, violations, triggers, model, lex)
    violations.sort(key=lambda v: (v.start, v.end))
    excused.sort(key=lambda e: (e.start, e.end))
    return Analysis(lang, tuple(violations), tuple(excused))


def _implied(
    text: str,
    norm: Normalised,
    found: list[Violation],
    triggers: list[tuple[int, int]],
    model: ImpliedModel,
    lex: Lexicon,
) -> list[Violation]:
    """The learned component's verdicts on the sentences without any listed word: the rules
    judged every sentence that has one (flagged or excused it), and the less precise model does
    not second-guess them."""
    out = []
    for sentence in sentences(norm.text):
        start, end = norm.span(sentence.start, sentence.end)
        if any(v.start < end and v.end > start for v in found):
            continue
        if any(t_start < end and t_end > start for t_start, t_end in triggers):
            continue
        verdict = model.predict(sentence.of(norm.text))
        if verdict is None:
            continue
        # Strip the sentence's own outer spaces so the span is the words themselves.
        body = text[start:end]
        start += len(body) - len(body.lstrip())
        end -= len(body) - len(body.rstrip())
        code = verdict.category if verdict.category in lex.codes else model.code
        info = lex.codes.get(code)
        rule = info.rule if info else verdict.category
        severity = info.severity if info else "error"
        reason = (
            f"learned component: p({verdict.category}) {verdict.probability:.2f} >= {model.threshold:.2f} "
            f"(cues: {', '.join(verdict.cues) or '-'})"
        )
        out.append(
            Violation(
                code, text[start:end], start, end, rule, severity, verdict.category, model.rule_id, reason
            )
        )
    return out


def check(text: str, *, language: str | None = None, lexicon: Lexicon | None = None) -> list[Violation]:
    """Every ad-law violation in `text`, in text order (deterministic).

    `language` ("zh", "en", or a tag like "zh-CN"; detected from the script when None) picks
    the code of script-neutral terms (NO.1 is a platform absolute word in Chinese copy, an
    English superlative in English copy) and which lexicon wins a tie. A custom `lexicon` runs
    its rules only (the learned component is trained for the shipped one).
    """
    return list(analyse(text, language=language, lexicon=lexicon, implied=lexicon is None).violations)


def is_compliant(text: str, *, language: str | None = None) -> bool:
    """True when `check` finds nothing: the gate for admission and for generated copy."""
    return not check(text, language=language)


def explain(text: str, *, language: str | None = None) -> list[str]:
    """One human-readable line per violation, e.g. for review queues and copygen logs."""
    return [
        f"{v.term!r} at {v.start}-{v.end}: {v.code} ({v.severity}) - {v.rule} [{v.rule_id}: {v.reason}]"
        for v in check(text, language=language)
    ]


def redact(text: str, *, language: str | None = None, mask: str = "*") -> str:
    """`text` with every violating span masked character by character (same length, so offsets
    computed on the original still apply)."""
    chars = list(text)
    for violation in check(text, language=language):
        for index in range(violation.start, violation.end):
            chars[index] = mask
    return "".join(chars)
