"""Load the versioned lexicon files (`lexicon/*.json`) into compiled, validated entries and senses.

The terms live in data so that legal reviewers can change them without touching code; the
loader is strict (unknown keys, unknown codes, families or senses and bad regexes fail loudly with
the file and entry named) because a typo in a lexicon silently lets violations through.

Three kinds of data:

- **codes**: a reason code (what admission and copygen report, e.g. ``ADLAW_PLATFORM_ABSOLUTE``)
  with its rule reference, severity and law *category* (one of `CATEGORIES`, the code the
  evaluation sets label with; ``ADLAW_PLATFORM_ABSOLUTE`` and ``ADLAW_SUPERLATIVE_EN`` are both
  ``ADLAW_ABSOLUTE_TERM``);
- **entries**: terms and patterns that make a *candidate* claim, each in a `FAMILIES` family
  (what kind of claim it is: a rank, a superlative, a percentage ...), which decides which lawful
  senses may excuse it;
- **senses**: the lawful readings of those words (sequence, position, composition ...): regexes
  whose match, inside the candidate's clause, covers the candidate (see `SenseRule`).
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
#: The law categories (the codes the labelled phrase sets use).
CATEGORIES = (
    "ADLAW_ABSOLUTE_TERM",
    "ADLAW_IMPLIED_SUPERLATIVE",
    "ADLAW_STATE_ENDORSEMENT",
    "ADLAW_MEDICAL_CLAIM",
    "ADLAW_GUARANTEE",
    "ADLAW_MISLEADING",
)
#: Kinds of candidate claim. A lawful sense names the families it can excuse: a composition
#: (100% cotton) excuses a percentage, never a medical term.
FAMILIES = frozenset(
    {
        "superlative",  # 最 + word, best, -est, most + adjective
        "rank",  # 第一, NO.1, #1, number one, world's first, 首个
        "unique",  # 唯一, 独家, the only, exclusive
        "grade",  # 顶级, 国家级, 至尊, top-grade, ultimate, world-class
        "absolute",  # 绝对, 万能, 百分百 as a claim word
        "percent",  # 100%
        "medical",
        "guarantee",
        "state",
        "misleading",
        "implied",  # a superlative or claim carried by meaning ("nothing comes close")
    }
)
#: Family of an entry that names none, by its category.
_DEFAULT_FAMILY = {
    "ADLAW_ABSOLUTE_TERM": "absolute",
    "ADLAW_IMPLIED_SUPERLATIVE": "implied",
    "ADLAW_STATE_ENDORSEMENT": "state",
    "ADLAW_MEDICAL_CLAIM": "medical",
    "ADLAW_GUARANTEE": "guarantee",
    "ADLAW_MISLEADING": "misleading",
}
#: The lawful senses, each with the reason it is lawful. Data files give the patterns of the
#: pattern senses; `negation` and `quote` are computed (creativeloop.compliance.scope).
#: SAMR guide = 市场监管总局《广告绝对化用语执法指南》(2023).
SENSES: Mapping[str, str] = {
    "negation": "a negated claim asserts nothing (not the cheapest, 不能治疗, does not cure)",
    "quote": (
        "a title of a work or a word mentioned, not used "
        "(SAMR guide para. 5(3): content unrelated to the goods)"
    ),
    "sequence": (
        "order in time or in a series stated as a fact (第一次, 第一步, step 1; SAMR guide para. 6(6))"
    ),
    "position": "a place in space (第一排, 最上层, top shelf; SAMR guide para. 6(6))",
    "time": "a point in time or recency (最近, 最早明天发货, latest collection; SAMR guide para. 6(6))",
    "stock": "a stock or last-items statement is a sales fact (仅剩最后3件, only 3 left)",
    "limit": "a purchase, order or discount limit is a term of sale, not a comparison (每人最多限购2件)",
    "specification": (
        "a limit of the goods' own specification (最大承重150公斤, max load; SAMR guide para. 6(4))"
    ),
    "measurement": "a measured quantity or setting (电量100%, brightness 100%)",
    "composition": "material composition as labelled (100%纯棉, 100% cotton; GB/T 29862, FTC Textile Act)",
    "internal_comparison": (
        "self-comparison within one brand or seller "
        "(本店最便宜的一款, our lightest yet; SAMR guide para. 6(1))"
    ),
    "fixed_term": (
        "a name, trade mark or technical term (第一人民医院, 绝对值, first aid; SAMR guide para. 6(4))"
    ),
    "code": "a model number, product code or shade name (色号NO.1, SKU TOP-100; SAMR guide para. 6(4))",
    "ui": "an interface word names a control, not the goods (最小化, 首页, sort by best match)",
    "self_criticism": (
        "a superlative about a drawback claims nothing in the goods' favour (最大的缺点, the worst part)"
    ),
    "goal": "service attitude, business philosophy or a goal (顾客第一, 力求最好; SAMR guide para. 5(1)-(2))",
    "consumption_hint": (
        "use method, time or storage advice (最好冷藏, best served chilled; SAMR guide para. 6(2))"
    ),
    "preference": "a person's own preference, not a comparison of goods (最喜欢, my favourite)",
    "question": "a question asserts nothing (今年最流行什么颜色？)",
}
LANGUAGES = ("zh", "en", "*")
#: No ASCII letter or digit on either side: a word boundary that also works next to CJK text,
#: where Python's \b does not (CJK characters are word characters, so "量NO.1" has no \b).
_EN_LEFT, _EN_RIGHT = "(?<![a-z0-9])", "(?![a-z0-9])"
_ENTRY_KEYS = frozenset(
    {
        "id",
        "code",
        "category",
        "family",
        "terms",
        "patterns",
        "align",
        "boundaries",
        "unless_next",
        "unless_prev",
        "source",
    }
)
_FILE_KEYS = frozenset(
    {"format", "language", "version", "description", "codes", "entries", "superlative_prefix", "senses"}
)
_SENSE_KEYS = frozenset({"sense", "families", "covers", "note"})


class LexiconError(ValueError):
    """A lexicon file is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class CodeInfo:
    rule: str
    severity: str
    category: str


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
    id: str = ""  # "<file>.<id>" (or "<file>.<index>"): names the rule in every verdict
    family: str = "absolute"
    category: str | None = None  # overrides the code's category (FDA approved: a state endorsement)

    def code_for(self, language: str) -> str:
        return self.codes.get(language) or self.codes["*"]


@dataclass(frozen=True)
class SenseRule:
    """One pattern of a lawful sense: a candidate of one of `families` is excused when a match of
    one of `covers`, found in the candidate's clause, spans the whole candidate (so the pattern
    carries the context: ``100 ?%(纯)?棉`` covers the 100% of 100%纯棉)."""

    sense: str
    families: frozenset[str]
    covers: tuple[re.Pattern[str], ...]
    where: str


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
    senses: tuple[SenseRule, ...] = ()

    def category(self, code: str, entry: Entry | None = None) -> str:
        """The law category of a violation with `code` found by `entry`."""
        if entry is not None and entry.category:
            return entry.category
        return self.codes[code].category


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


def _entry(
    raw: Mapping[str, Any], language: str, codes: Mapping[str, CodeInfo], where: str, rule_id: str
) -> Entry:
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
    category = raw.get("category")
    if category is not None and category not in CATEGORIES:
        raise LexiconError(f"{where}: category {category!r} is not one of {list(CATEGORIES)}")
    family = raw.get("family") or _DEFAULT_FAMILY.get(
        category or codes[entry_codes["*"]].category, "absolute"
    )
    if family not in FAMILIES:
        raise LexiconError(f"{where}: family {family!r} is not one of {sorted(FAMILIES)}")
    return Entry(
        language=language,
        codes=entry_codes,
        regexes=regexes,
        align=bool(raw.get("align", False)),
        unless_next=_compile(unless_next, where) if unless_next else None,
        unless_prev=_compile(unless_prev, where) if unless_prev else None,
        source=str(raw.get("source", "")),
        id=rule_id,
        family=family,
        category=category,
    )


def _sense(raw: Mapping[str, Any], where: str) -> SenseRule:
    unknown = set(raw) - _SENSE_KEYS
    if unknown:
        raise LexiconError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("sense")
    if name not in SENSES:
        raise LexiconError(f"{where}: sense {name!r} is not one of {sorted(SENSES)}")
    families = frozenset(raw.get("families", []))
    if not families or not families <= FAMILIES:
        raise LexiconError(
            f"{where}: families {sorted(families)} must be a non-empty subset of {sorted(FAMILIES)}"
        )
    covers = tuple(_compile(pattern, where) for pattern in raw.get("covers", []))
    if not covers:
        raise LexiconError(f"{where}: no covers patterns")
    return SenseRule(sense=str(name), families=families, covers=covers, where=where)


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
            category = info.get("category", code)  # a custom lexicon's own codes are their own category
            if "category" in info and category not in CATEGORIES:
                raise LexiconError(
                    f"{name}: code {code} has category {category!r}, not one of {list(CATEGORIES)}"
                )
            known = codes.get(code)
            if known and known.severity != info["severity"]:
                raise LexiconError(f"{name}: code {code} declared with two severities")
            codes.setdefault(code, CodeInfo(rule=info["rule"], severity=info["severity"], category=category))
    entries: dict[str, list[Entry]] = {language: [] for language in LANGUAGES}
    superlative = None
    senses: list[SenseRule] = []
    ids: set[str] = set()
    for name, data in raw_files:
        language = data["language"]
        for index, raw in enumerate(data.get("entries", [])):
            rule_id = f"{name}.{raw.get('id', index)}"
            if rule_id in ids:
                raise LexiconError(f"{name} entries[{index}]: duplicate id {rule_id}")
            ids.add(rule_id)
            entries[language].append(_entry(raw, language, codes, f"{name} entries[{index}]", rule_id))
        for index, raw in enumerate(data.get("senses", [])):
            senses.append(_sense(raw, f"{name} senses[{index}]"))
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
        senses=tuple(senses),
    )


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The lexicon shipped in this package (loaded once per process)."""
    with resources.as_file(resources.files("creativeloop.compliance") / "lexicon") as directory:
        return load_lexicon(directory)
