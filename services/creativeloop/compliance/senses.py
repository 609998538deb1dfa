"""The lawful senses: why a word that a list flags makes no claim in this clause.

A candidate (a lexicon hit, with its family) is excused by the first sense that applies:

1. `quote` - it sits in a title (《最好的我们》) or is a word mentioned ("best");
2. `negation` - a negator governs it (不是最便宜的, "does not treat any condition"); implied
   claims are never excused this way, their negation is the claim (无人能及);
3. a pattern sense from the lexicon files (sequence, position, time, stock, limit,
   specification, measurement, composition, internal comparison, fixed term, code, UI word,
   self-criticism, goal, consumption hint, preference, question): one of its regexes, run on
   the candidate's clause, matches a span that covers the candidate.

Each excuse names the sense and why it is lawful (`creativeloop.compliance.lexicon.SENSES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from creativeloop.compliance.lexicon import SENSES, Lexicon
from creativeloop.compliance.scope import negator_before, quoted
from creativeloop.compliance.segment import Clause

#: Families whose claims a negator takes back. Implied claims are negative by construction
#: (无人能及, "nothing comes close").
NEGATABLE = frozenset(
    {
        "superlative",
        "rank",
        "unique",
        "grade",
        "absolute",
        "percent",
        "medical",
        "guarantee",
        "state",
        "misleading",
    }
)


@dataclass(frozen=True)
class Excuse:
    """Why a candidate is lawful: the sense, its reason, and the words that show it."""

    sense: str
    reason: str
    evidence: str


def excuse(text: str, start: int, end: int, family: str, clause: Clause, lexicon: Lexicon) -> Excuse | None:
    """The lawful sense of the candidate text[start:end] (normalised), or None when it is a claim."""
    how = quoted(text, start, end)
    if how:
        return Excuse("quote", SENSES["quote"], how)
    body = text[clause.start : clause.end + 1]  # with its terminator: a question keeps its "?"
    offset, stop = start - clause.start, end - clause.start
    if family in NEGATABLE:
        negator = negator_before(body, offset, medical_list=family == "medical")
        if negator:
            return Excuse("negation", SENSES["negation"], negator)
    for rule in lexicon.senses:
        if family not in rule.families:
            continue
        for regex in rule.covers:
            for match in regex.finditer(body):
                if match.start() > offset:
                    break
                if match.end() >= stop:
                    return Excuse(rule.sense, SENSES[rule.sense], match.group(0))
    return None
