"""Line breaking and font-size fitting for headlines in Latin and CJK scripts.

Latin text breaks at spaces (a word wider than the line is split between characters); CJK text
may break between any two characters, with "kinsoku-lite" rules: a line never starts with closing
punctuation or a small kana (，。、！？）」…) and never ends with opening punctuation or a
currency sign (（「《¥$): the character is carried to the next line instead. Latin words and
numbers inside CJK text stay whole ("T恤", "89").

>>> wrap("纯棉短袖，夏季", lambda s: float(len(s)), 4)
['纯棉短', '袖，夏季']
"""

from __future__ import annotations

import re
from collections.abc import Callable

_CJK_CLASS = r"\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK = re.compile(f"[{_CJK_CLASS}]")
#: Spaces, one CJK character, or a run of anything else (a word).
_TOKEN = re.compile(rf"\s+|[{_CJK_CLASS}]|[^\s{_CJK_CLASS}]+")
#: May not start a line.
NO_START = frozenset("，。、；：？！）」』】》〉〕…‥ー々〜・,.;:?!)]}%ぁぃぅぇぉっゃゅょァィゥェォッャュョ")
#: May not end a line.
NO_END = frozenset("（「『【《〈〔([{¥$￥£€＄")

Measure = Callable[[str], float]


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, space before it) pairs; a word wider than nothing is kept whole here."""
    tokens: list[tuple[str, bool]] = []
    space = False
    for token in _TOKEN.findall(text):
        if token.isspace():
            space = bool(tokens)
            continue
        tokens.append((token, space))
        space = False
    return tokens


def wrap(text: str, measure: Measure, width: float) -> list[str]:
    """Greedy line breaking between words and CJK characters, with kinsoku-lite (lines never
    exceed `width` unless a single character does)."""
    lines: list[str] = []
    line = ""
    for token, space in _tokens(text):
        candidate = f"{line} {token}" if space and line else line + token
        if measure(candidate) <= width:
            line = candidate
            continue
        if line:
            carried = ""
            if token[0] in NO_START and len(line) > 1 and has_cjk(line[-1]):
                carried, line = line[-1], line[:-1]  # the closing mark takes a character along
            while len(line) > 1 and line[-1] in NO_END:
                carried, line = line[-1] + carried, line[:-1]
            lines.append(line.rstrip())
            line = carried
            candidate = line + token
            if measure(candidate) <= width:
                line = candidate
                continue
        # A token wider than the line: split it between characters.
        for char in token:
            if line and measure(line + char) > width and char not in NO_START:
                lines.append(line)
                line = char
            else:
                line += char
    if line:
        lines.append(line)
    return lines


def ellipsize(line: str, measure: Measure, width: float) -> str:
    """`line` ending in an ellipsis, cut until it fits `width`."""
    text = line.rstrip() + "…"
    while len(text) > 1 and measure(text) > width:
        text = text[:-2].rstrip() + "…"
    return text
