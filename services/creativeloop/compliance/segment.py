"""jieba word boundaries and the Chinese 最 + word rule.

Chinese has no spaces, so "whole word" needs a segmenter: 万能 inside 万能胶 (contact adhesive)
or 第一 inside 第一次 (the first time) is another word, and 最好 before a verb (最好手洗, "had
better hand-wash") is advice while 最好的 is a superlative. jieba's default dictionary is used
read-only (no add_word), so other users of jieba in the process are unaffected and results are
deterministic.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import jieba
import jieba.posseg

from creativeloop.compliance.lexicon import SuperlativeRule
from creativeloop.compliance.textnorm import CJK_RE

jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG to stderr

#: posseg flags read as verb-like after 最好: verbs, adverbs (不要, 先), prepositions (用, 在).
_VERBISH = ("v", "d", "p", "c")


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
