"""Ad-law compliance of copy: shared by content admission (titles, selling points) and copy generation.

    from creativeloop.compliance import check, is_compliant
    check("全网最低价，销量第一")  # -> [Violation(code="ADLAW_ABSOLUTE_TERM", term="最低价", ...), ...]

Terms, their rule references and context exceptions live in versioned data files
(`lexicon/*.json`); `creativeloop eval compliance` scores the checker on the
labelled phrase set in `creativeloop/datasets/ad_phrases.tsv`.
"""

from __future__ import annotations

from creativeloop.compliance.checker import Violation, check, explain, is_compliant, redact
from creativeloop.compliance.lexicon import LexiconError, default_lexicon
from creativeloop.compliance.textnorm import detect_language


def lexicon_version() -> str:
    """Version of the shipped lexicon files, e.g. "common:2026.11.0,en:2026.11.0,zh:2026.11.0";
    record it next to every admission decision so a decision can be replayed."""
    return default_lexicon().version


__all__ = [
    "LexiconError",
    "Violation",
    "check",
    "detect_language",
    "explain",
    "is_compliant",
    "lexicon_version",
    "redact",
]
