"""Scope: is a candidate claim negated, or only quoted?

Negation: a negator before the candidate in the same clause, close enough to govern it and with
no contrast word in between, takes the claim back (不是最便宜的, 不敢说是第一, 不能治疗任何疾病,
"not the cheapest", "does not treat any condition"). Chinese negators are jieba words, so 不仅
(not only), 不错 (not bad), 不锈钢 and 无敌 are not negators. Inherently negative claims
(无人能及, 永不褪色, "no side effects") are never excused by negation: their family is not
negatable (see `creativeloop.compliance.senses`).

Quotes: a candidate inside 《》「」『』 is part of a title; one inside straight or curly quotes
is mentioned, not used, when the quote is introduced as a title or a word (歌曲“…”, the book "…",
“最”字, say "best"). A customer quote ("Best purchase ever!" - Sarah) is still a claim.
"""

from __future__ import annotations

import re

from creativeloop.compliance.segment import Tokens

#: jieba words that negate what follows.
ZH_NEGATORS = frozenset(
    {
        "不",
        "不是",
        "并非",
        "并不",
        "并不是",
        "并没有",
        "不算",
        "算不上",
        "称不上",
        "谈不上",
        "不敢",
        "不敢说",
        "不能",
        "不可",
        "不会",
        "不得",
        "不要",
        "没有",
        "没",
        "无法",
        "无",
        "非",
        "未",
        "勿",
        "绝不",
        "从不",
        "从未",
        "不再",
    }
)
#: 不 or 没 fused by jieba with a verb of saying, selling or claiming (不卖, 不做, 没说) still negates
#: what follows; 不贵 or 不错 (adjectives) do not reach past themselves.
_ZH_NEGATED_VERB_RE = re.compile(
    r"^(不|没|没有|从不|绝不)(卖|做|用|说|提|讲|写|叫|称|吹|搞|追求|宣称|号称|标榜|承诺|保证|宣传|主打|敢说|敢称)$"
)
_EN_NEGATOR_RE = re.compile(
    r"(?<![a-z])(not|never|no|without|cannot|can't|won't|don't|doesn't|isn't|aren't|wasn't|weren't|"
    r"didn't|nor|neither|far from)(?![a-z])(?! ?[.#]? ?[0-9])(?! (only|just|merely|to mention)(?![a-z]))"
)
_ZH_CONTRAST = ("但", "可", "却", "不过", "然而", "而且", "并且", "还")
_EN_CONTRAST_RE = re.compile(r"(?<![a-z])(but|yet|however|although|though|while|whereas|and also)(?![a-z])")
#: Chinese characters between a negator and what it governs (不敢说是|第一: 2; 没有|任何一款护肤品是|万能: 8).
ZH_REACH = 9
#: English words between a negator and what it governs ("not intended to diagnose, treat": 4).
EN_REACH = 5

_TITLE_OPEN, _TITLE_CLOSE = "《「『", "》」』"
_QUOTE_INTRO_RE = re.compile(
    r"(说|叫|称|讲|写|歌|歌曲|曲|书|书名|电影|影片|剧|电视剧|节目|专辑|游戏|主题曲|名为|叫做|叫|口号|标语|词|"
    r"(?<![a-z])(the )?(word|words|term|book|song|film|movie|album|show|series|title|titled|called|named|"
    r"say|says|said|use|using|slogan|phrase|avoid|ban|banned|forbid)|'s|"
    r"禁用|不能用|不得使用|避免使用) ?[:：]? ?$"
)
_QUOTE_OUTRO_RE = re.compile(
    r"^ ?(字|这个字|这个词|一词|等字|等词|同款|的歌|这首歌|这本书|系列|主题曲|"
    r"(是|属于|为|等|are|is)? ?(广告)?(禁用|违禁|极限|敏感|banned|forbidden) ?(词|语|用语|words?|terms?))"
)


def negator_before(clause: str, offset: int, *, medical_list: bool = False) -> str | None:
    """The negator that governs the candidate starting at `offset` of `clause`, or None.

    `medical_list`: the candidate is one verb of a list ("does not diagnose, treat, cure"), so the
    negation may reach across the list's commas.
    """
    before = clause[:offset]
    if not before.strip():
        return None
    found = _zh_negator(before)
    if found:
        return found
    return _en_negator(before, medical_list)


def _zh_negator(before: str) -> str | None:
    tokens = Tokens.of(before)
    for word, start in zip(reversed(tokens.words), reversed(tokens.starts), strict=True):
        gap = before[start + len(word) :]
        if len(gap.replace(" ", "")) > ZH_REACH or any(c in gap for c in _ZH_CONTRAST) or "," in gap:
            return None
        if word in ZH_NEGATORS or _ZH_NEGATED_VERB_RE.match(word):
            return word
    return None


def _en_negator(before: str, medical_list: bool) -> str | None:
    matches = list(_EN_NEGATOR_RE.finditer(before))
    if not matches:
        return None
    last = matches[-1]
    gap = before[last.end() :]
    if _EN_CONTRAST_RE.search(gap) or (not medical_list and "," in gap):
        return None
    if len(re.findall(r"[a-z0-9']+", gap)) > EN_REACH or re.search(r"[\u4e00-\u9fff]", gap):
        return None
    return last.group(1)


def quoted(text: str, start: int, end: int) -> str | None:
    """Why text[start:end] is a title or a mention ("title", "mention"), or None."""
    for open_char, close_char in zip(_TITLE_OPEN, _TITLE_CLOSE, strict=True):
        left = text.rfind(open_char, 0, start)
        if left != -1 and text.rfind(close_char, left, start) == -1:
            right = text.find(close_char, end)
            if right != -1 and text.rfind(open_char, end, right) == -1:
                return "title"
    # Straight quotes after normalisation (curly ones are folded to them).
    for mark in ('"', "'"):
        left = text.rfind(mark, 0, start)
        right = text.find(mark, end)
        if left == -1 or right == -1 or text.count(mark, 0, left) % 2:
            continue
        if mark == "'" and left > 0 and text[left - 1].isalpha():
            continue  # an apostrophe (world's), not a quote
        if _QUOTE_INTRO_RE.search(text[max(0, left - 12) : left]) or _QUOTE_OUTRO_RE.match(text[right + 1 :]):
            return "mention"
    return None
