"""Clauses, jieba word boundaries and the Chinese 最 + word rule.

A claim, its negation and its lawful sense live in one clause: in 不是最便宜的，但用料实在 the
不是 reaches 最便宜 but nothing after the comma, and 100% in "Battery at 100%, ready" is read with
"battery" before it. `clauses` cuts the normalised text at clause punctuation (Chinese commas too,
since a Chinese comma separates clauses; English commas only before a contrast word, since they
mostly separate list items: "does not diagnose, treat, cure or prevent"); `sentences` cuts at
sentence ends only (what the learned component reads).

Chinese has no spaces, so "whole word" needs a segmenter: 万能 inside 万能胶 (contact adhesive)
or 第一 inside 第一次 (the first time) is another word, and 最好 before a verb (最好手洗, "had
better hand-wash") is advice while 最好的 is a superlative. jieba's default dictionary is used
read-only (no add_word), so other users of jieba in the process are unaffected and results are
deterministic.
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass

import jieba
import jieba.posseg

from creativeloop.compliance.lexicon import SuperlativeRule
from creativeloop.compliance.textnorm import CJK_RE

jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG to stderr

#: posseg flags read as verb-like after 最好: verbs, adverbs (不要, 先), prepositions (用, 在).
_VERBISH = ("v", "d", "p", "c")

#: Always the end of a clause (normalised text: ，→ ,  ！→ !  ？→ ?  ；→ ;).
_HARD = "。!?;\n|…"
#: Abbreviations whose full stop ends nothing ("No. 1", "approx. 3 kg").
_ABBREVIATION_RE = re.compile(
    r"(?<![a-z])(no|nos|vol|art|ref|st|dr|mr|mrs|ms|approx|vs|fig|inc|ltd|co|e\.g|i\.e|etc)$"
)
#: An English comma ends a clause only before a contrast ("Not the cheapest, but built to last").
_CONTRAST_RE = re.compile(r" *(but|yet|however|although|though|while|whereas|except)(?![a-z])")
_CJK_OR_FULLWIDTH_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Clause:
    """`text[start:end]` of the normalised text."""

    start: int
    end: int

    def of(self, text: str) -> str:
        return text[self.start : self.end]


def _cjk_neighbour(text: str, index: int) -> bool:
    """A CJK character is the nearest non-space character before or after `index`."""
    before = text[:index].rstrip()[-1:]
    after = text[index + 1 :].lstrip()[:1]
    return bool(_CJK_OR_FULLWIDTH_RE.match(before) or _CJK_OR_FULLWIDTH_RE.match(after))


def _boundary(text: str, index: int, sentences_only: bool) -> bool:
    char = text[index]
    if char in _HARD:
        return True
    nxt = text[index + 1 : index + 2]
    if char == ".":
        if nxt and not nxt.isspace() and not _CJK_OR_FULLWIDTH_RE.match(nxt):
            return False  # 3.5, No.1, e.g.
        return not _ABBREVIATION_RE.search(text[max(0, index - 6) : index])
    if sentences_only:
        return False
    if char == ",":
        return _cjk_neighbour(text, index) or bool(_CONTRAST_RE.match(text, index + 1))
    # " - " and " — " separate the parts of a title.
    return char in "-\u2014\u2013" and text[index - 1 : index] == " " and nxt == " "


def _split(text: str, sentences_only: bool) -> list[Clause]:
    out: list[Clause] = []
    start = 0
    for index in range(len(text)):
        if _boundary(text, index, sentences_only):
            if index > start:
                out.append(Clause(start, index))
            start = index + 1
    if start < len(text):
        out.append(Clause(start, len(text)))
    return [c for c in out if text[c.start : c.end].strip()]


def clauses(text: str) -> list[Clause]:
    """The clauses of normalised `text`, in order (separators belong to none)."""
    return _split(text, sentences_only=False)


def sentences(text: str) -> list[Clause]:
    """The sentences of normalised `text` (cut at 。!?; newlines and full stops only)."""
    return _split(text, sentences_only=True)


def clause_at(spans: list[Clause], start: int, end: int) -> Clause:
    """The clause holding [start, end); a candidate across a boundary gets the clauses it spans."""
    first = next((c for c in spans if c.end > start), None)
    last = next((c for c in reversed(spans) if c.start < end), None)
    if first is None or last is None:
        return Clause(start, end)
    return Clause(min(first.start, start), max(last.end, end))


@dataclass(frozen=True)
class Tokens:
    """jieba words of a text, with their start offsets (for boundary and containment checks)."""

    words: tuple[str, ...]
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Tokens:
        words, starts = [], []
        for word, start, _end in jieba.tokenize(text):
            words.append(word)
            starts.append(start)
        return cls(tuple(words), tuple(starts))

    def boundaries(self) -> frozenset[int]:
        ends = (start + len(word) for word, start in zip(self.words, self.starts, strict=True))
        return frozenset(self.starts) | frozenset(ends)

    def word_at(self, index: int) -> tuple[str, int]:
        """The word covering character `index`, and its start."""
        i = bisect.bisect_right(self.starts, index) - 1
        return self.words[i], self.starts[i]


def _first_words(text: str, n: int) -> list[tuple[str, str]]:
    """The first `n` (word, posseg flag) pairs of a short window of `text`."""
    out: list[tuple[str, str]] = []
    for pair in jieba.posseg.cut(text[:10]):
        out.append((pair.word, pair.flag))
        if len(out) == n:
            break
    return out


def _best_as_adverb(after: str, rule: SuperlativeRule) -> bool:
    """最好 followed by a verb phrase (最好手洗, 最好不要, 最好用冷水洗) rather than by 的 or a
    clause end; 最好看的 / 最好用的 are superlative adjectives, caught by the verb-then-的 test."""
    if rule.adverb_claim_next.match(after):
        return False
    words = _first_words(after, 3)
    for i, (word, flag) in enumerate(words[:2]):
        if flag.startswith(_VERBISH):
            following = words[i + 1][0] if i + 1 < len(words) else after[len(word) :][:1]
            return not following.startswith("的")
    return False


def superlative_hits(text: str, tokens: Tokens, rule: SuperlativeRule) -> list[tuple[int, int]]:
    """Spans of 最 + word in normalised `text` that read as superlative claims."""
    spans: list[tuple[int, int]] = []
    start = text.find(rule.prefix)
    while start != -1:
        span = _superlative_at(text, start, tokens, rule)
        if span:
            spans.append(span)
        start = text.find(rule.prefix, start + len(rule.prefix))
    return spans


def _superlative_at(text: str, start: int, tokens: Tokens, rule: SuperlativeRule) -> tuple[int, int] | None:
    after_prefix = text[start + len(rule.prefix) :]
    word, word_start = tokens.word_at(start)
    if word_start == start and any(word.startswith(benign) for benign in rule.benign_words):
        return None
    if rule.unless_after_prefix.match(after_prefix):
        return None
    if text.startswith(rule.adverb_word, start) and _best_as_adverb(
        text[start + len(rule.adverb_word) :], rule
    ):
        return None
    for spec in rule.spec_words:
        if text.startswith(spec, start) and rule.spec_next.match(text[start + len(spec) :]):
            return None
    head = _first_words(after_prefix, 1)
    if not head or not CJK_RE.match(head[0][0]):
        return None  # 最 before punctuation or Latin text: nothing to compare
    head_word = head[0][0]
    if any(head_word.startswith(p) or after_prefix.startswith(p) for p in rule.preference_heads):
        return None
    return start, start + len(rule.prefix) + len(head_word)
