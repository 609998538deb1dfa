"""Length limits per ad slot: where copy is shown decides how long it may be.

A CJK character is about two Latin ones wide, so every slot has two limits; a candidate is
measured against the CJK one when it contains CJK characters. A request's own `max_length`
(characters) tightens the slot's limit, never loosens it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@dataclass(frozen=True)
class Slot:
    name: str
    max_chars: int
    max_cjk_chars: int

    def limit(self, text_or_language: str) -> int:
        """The limit for a text (by its script) or for a language code ("zh" / "en")."""
        cjk = text_or_language == "zh" or bool(CJK.search(text_or_language))
        return self.max_cjk_chars if cjk else self.max_chars


SLOTS: dict[str, Slot] = {
    "headline": Slot("headline", 30, 15),
    "description": Slot("description", 90, 45),
    "image": Slot("image", 40, 20),
}


def resolve_slot(name: str, max_length: int, default_length: int) -> Slot:
    """The slot a request asks for, with `max_length` applied; an unnamed slot uses the default length.

    Raises KeyError naming the known slots for an unknown name.
    """
    if not name:
        length = max_length or default_length
        return Slot("", length, length)
    base = SLOTS[name]
    if not max_length:
        return base
    return Slot(base.name, min(base.max_chars, max_length), min(base.max_cjk_chars, max_length))


def fits(text: str, slot: Slot) -> bool:
    return 0 < len(text) <= slot.limit(text)
