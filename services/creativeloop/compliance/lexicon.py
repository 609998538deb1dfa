"""Load the versioned lexicon files (`lexicon/*.json`) into compiled, validated entries.

The terms live in data so that legal reviewers can change them without touching code; the
loader is strict (unknown keys, unknown codes and bad regexes fail loudly with the file and entry
named) because a typo in a lexicon silently lets violations through.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

FORMAT = 1
SEVERITIES = frozenset({"error", "warning"})
LANGUAGES = ("zh", "en", "*")
#: No ASCII letter or digit on either side: a word boundary that also works next to CJK text,
#: where Python's \b does not (CJK characters are word characters, so "量NO.1" has no \b).
_EN_LEFT, _EN_RIGHT = "(?<![a-z0-9])", "(?![a-z0-9])"
_ENTRY_KEYS = frozenset(
    {"code", "terms", "patterns", "align", "boundaries", "unless_next", "unless_prev", "source"}
)
_FILE_KEYS = frozenset(
    {"format", "language", "version", "description", "codes", "entries", "superlative_prefix"}
)


class LexiconError(ValueError):
    """A lexicon file is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class CodeInfo:
    rule: str
    severity: str


@dataclass(frozen=True)
class Entry:
    """One lexicon entry: regexes over the normalised text, all reporting the same code."""

    language: str
    codes: Mapping[str, str]  # copy language ("zh", "en", or "*" for any) -> violation code
    regexes: tuple[re.Pattern[str], ...]
    align: bool
    unless_next: re.Pattern[str] | None
    unless_prev: re.Pattern[str] | None
    source: str

    def code_for(self, language: str) -> str:
        return self.codes.get(language) or self.codes["*"]


@dataclass(frozen=True)
class SuperlativeRule:
    """The Chinese 最 + word rule (see `zh.json`, key `superlative_prefix`)."""

    code: str
    prefix: str
    benign_words: tuple[str, ...]
    preference_heads: tuple[str, ...]
    spec_words: tuple[str, ...]
    spec_next: re.Pattern[str]
    adverb_word: str
    adverb_claim_next: re.Pattern[str]
    unless_after_prefix: re.Pattern[str]
    source: str


@dataclass(frozen=True)
class Lexicon:
    version: str
    codes: Mapping[str, CodeInfo]
    entries: Mapping[str, tuple[Entry, ...]]  # by lexicon language: "zh", "en", "*"
    superlative: SuperlativeRule | None


def fold(term: str) -> str:
    """The normalised form terms are matched in (same as `textnorm.normalise`)."""
    return unicodedata.normalize("NFKC", term).replace("\u2019", "'").casefold()


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise LexiconError(f"{where}: bad regex {pattern!r}: {exc}") from exc


def _term_regex(term: str, language: str) -> str:
    folded = fold(term).strip()
    if language == "en":
        return "[ -]+".join(re.escape(word) for word in folded.split())
    return re.escape(folded)


def _entry(raw: Mapping[str, Any], language: str, codes: Mapping[str, CodeInfo], where: str) -> Entry:
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise LexiconError(f"{where}: unknown keys {sorted(unknown)}")
    code_spec = raw.get("code")
    entry_codes = {"*": code_spec} if isinstance(code_spec, str) else dict(code_spec or {})
    if not entry_codes:
        raise LexiconError(f"{where}: no code")
    for code in entry_codes.values():
        if code not in codes:
            raise LexiconError(f"{where}: code {code!r} is not declared in any lexicon file")
    if "*" not in entry_codes:
        entry_codes["*"] = next(iter(entry_codes.values()))
    boundaries = bool(raw.get("boundaries", language == "en"))
    sources = [_term_regex(t, language) for t in raw.get("terms", [])] + list(raw.get("patterns", []))
    if not sources:
        raise LexiconError(f"{where}: neither terms nor patterns")
    regexes = tuple(_compile(f"{_EN_LEFT}(?:{s}){_EN_RIGHT}" if boundaries else s, where) for s in sources)
    unless_next = raw.get("unless_next")
    unless_prev = raw.get("unless_prev")
    return Entry(
        language=language,
        codes=entry_codes,
        regexes=regexes,
        align=bool(raw.get("align", False)),
        unless_next=_compile(unless_next, where) if unless_next else None,
        unless_prev=_compile(unless_prev, where) if unless_prev else None,
        source=str(raw.get("source", "")),
    )


def _superlative(raw: Mapping[str, Any], where: str) -> SuperlativeRule:
    def words(key: str) -> tuple[str, ...]:
        return tuple(fold(w) for w in raw.get(key, []))

    try:
        return SuperlativeRule(
            code=raw["code"],
            prefix=fold(raw["prefix"]),
            benign_words=words("benign_words"),
            preference_heads=words("preference_heads"),
            spec_words=tuple(sorted(words("spec_words"), key=len, reverse=True)),
            spec_next=_compile(raw["spec_next"], where),
            adverb_word=fold(raw["adverb_word"]),
            adverb_claim_next=_compile(raw["adverb_claim_next"], where),
            unless_after_prefix=_compile(raw["unless_after_prefix"], where),
            source=str(raw.get("source", "")),
        )
    except KeyError as exc:
        raise LexiconError(f"{where}: missing key {exc}") from exc


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LexiconError(f"{path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise LexiconError(f"{path.name}: not a JSON object")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise LexiconError(f"{path.name}: unknown keys {sorted(unknown)}")
    if data.get("format") != FORMAT:
        raise LexiconError(f"{path.name}: format {data.get('format')!r}, this code reads {FORMAT}")
    if data.get("language") not in LANGUAGES or not data.get("version"):
        raise LexiconError(f"{path.name}: needs language in {LANGUAGES} and a version")
    return data


def load_lexicon(directory: Path) -> Lexicon:
    """Every `*.json` in `directory`, in name order; the version lists each file's own."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise LexiconError(f"no lexicon files in {directory}")
    raw_files = [(path.stem, _read(path)) for path in files]
    codes: dict[str, CodeInfo] = {}
    for name, data in raw_files:
        for code, info in data.get("codes", {}).items():
            if info.get("severity") not in SEVERITIES or not info.get("rule"):
                raise LexiconError(f"{name}: code {code} needs a rule and a severity in {sorted(SEVERITIES)}")
            known = codes.get(code)
            if known and known.severity != info["severity"]:
                raise LexiconError(f"{name}: code {code} declared with two severities")
            codes.setdefault(code, CodeInfo(rule=info["rule"], severity=info["severity"]))
    entries: dict[str, list[Entry]] = {language: [] for language in LANGUAGES}
    superlative = None
    for name, data in raw_files:
        language = data["language"]
        for index, raw in enumerate(data.get("entries", [])):
            entries[language].append(_entry(raw, language, codes, f"{name} entries[{index}]"))
        if "superlative_prefix" in data:
            superlative = _superlative(data["superlative_prefix"], f"{name} superlative_prefix")
            if superlative.code not in codes:
                raise LexiconError(f"{name}: superlative_prefix code {superlative.code} is not declared")
    version = ",".join(f"{name}:{data['version']}" for name, data in raw_files)
    return Lexicon(
        version=version,
        codes=codes,
        entries={language: tuple(found) for language, found in entries.items()},
        superlative=superlative,
    )


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The lexicon shipped in this package (loaded once per process)."""
    with resources.as_file(resources.files("creativeloop.compliance") / "lexicon") as directory:
        return load_lexicon(directory)
