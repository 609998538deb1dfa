"""Find ad-law violations in a piece of copy: lexicon matches, context exceptions, one code per span.

All lexicons run on every text, because copy mixes scripts (全网NO.1, "#1 热卖"); `language` only
decides which lexicon wins when two match the same characters and which code a script-neutral
term gets. Overlapping hits are resolved leftmost-longest, so 天下第一 reports once, not as 天下第一
and 第一.
"""

from __future__ import annotations

from dataclasses import dataclass

from creativeloop.compliance.lexicon import Entry, Lexicon, default_lexicon
from creativeloop.compliance.segment import Tokens, superlative_hits
from creativeloop.compliance.textnorm import Normalised, detect_language, normalise

_CONTEXT = 40  # characters of context the unless_next / unless_prev patterns may look at


@dataclass(frozen=True)
class Violation:
    """`text[start:end]` (the caller's own offsets) is `term`, which breaks `rule`."""

    code: str
    term: str
    start: int
    end: int
    rule: str
    severity: str


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    code: str
    priority: int


def _language(text: str, language: str | None) -> str:
    if language:
        primary = language.replace("_", "-").split("-")[0].lower()
        if primary in ("zh", "en"):
            return primary
    return detect_language(text)


class _Context:
    """The normalised text plus its jieba words, segmented only when a rule needs them."""

    def __init__(self, norm: Normalised) -> None:
        self.text = norm.text
        self._tokens: Tokens | None = None
        self._boundaries: frozenset[int] | None = None

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            self._tokens = Tokens.of(self.text)
        return self._tokens

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
            if entry.unless_next and entry.unless_next.match(text[end : end + _CONTEXT]):
                continue
            if entry.unless_prev and entry.unless_prev.search(text[max(0, start - _CONTEXT) : start]):
                continue
            if entry.align and not ctx.aligned(start, end):
                continue
            hits.append(_Hit(start, end, code, priority))
    return hits


def _resolve(hits: list[_Hit]) -> list[_Hit]:
    """Leftmost-longest, non-overlapping; on equal spans the higher-priority lexicon wins."""
    kept: list[_Hit] = []
    last_end = -1
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start), h.priority)):
        if hit.start >= last_end:
            kept.append(hit)
            last_end = hit.end
    return kept


def check(text: str, *, language: str | None = None, lexicon: Lexicon | None = None) -> list[Violation]:
    """Every ad-law violation in `text`, in text order (deterministic).

    `language` ("zh", "en", or a tag like "zh-CN"; detected from the script when None) picks
    the code of script-neutral terms (NO.1 is a platform absolute word in Chinese copy, an
    English superlative in English copy) and which lexicon wins a tie.
    """
    if not text or not text.strip():
        return []
    lex = lexicon or default_lexicon()
    lang = _language(text, language)
    norm = normalise(text)
    ctx = _Context(norm)
    order = [lang, "*", "en" if lang == "zh" else "zh"]
    hits: list[_Hit] = []
    priority = 0
    for lexicon_language in order:
        for entry in lex.entries.get(lexicon_language, ()):
            hits.extend(_entry_hits(entry, ctx, entry.code_for(lang), priority))
            priority += 1
        if lexicon_language == "zh" and lex.superlative and lex.superlative.prefix in ctx.text:
            rule = lex.superlative
            spans = superlative_hits(ctx.text, ctx.tokens, rule)
            hits.extend(_Hit(s, e, rule.code, priority) for s, e in spans)
            priority += 1
    violations = []
    for hit in _resolve(hits):
        start, end = norm.span(hit.start, hit.end)
        info = lex.codes[hit.code]
        violations.append(Violation(hit.code, text[start:end], start, end, info.rule, info.severity))
    return violations


def is_compliant(text: str, *, language: str | None = None) -> bool:
    """True when `check` finds nothing: the gate for admission and for generated copy."""
    return not check(text, language=language)


def explain(text: str, *, language: str | None = None) -> list[str]:
    """One human-readable line per violation, e.g. for review queues and copygen logs."""
    return [
        f"{v.term!r} at {v.start}-{v.end}: {v.code} ({v.severity}) - {v.rule}"
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
