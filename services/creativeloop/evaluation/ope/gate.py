"""The OPE gate: promote the apprentice policy only when the logs show it is better.

Ranking in apprentice mode (``CREATIVELOOP_RANKING_APPRENTICE_POLICY``, see
`creativeloop.ranking.apprentice`) returns, with every Rank, the apprentice's probability of the
creative that was served; the ad server logs it on `Impression.apprentice` beside the serving
policy's own `propensity`. `creativeloop ope gate` reads ``ad.impressions`` and ``ad.clicks``:

1. **Rounds**: the impressions that carry an apprentice choice, of the latest pairing (the
   serving policy's version family - the version before any ``+model`` suffix - and the
   apprentice's policy name, as on the newest such impression). A round's reward is 1 when a click
   names the impression within `reward_wait_s` of its `shown_at` (the attribution window, the
   same as ranking's ``REWARD_WAIT_S``), else 0 - the default reward. Impressions whose window has
   not closed yet are left out (pending), so a click still to come is never counted as a 0.
2. **Values**: the serving policy's on-policy value is the mean reward of the rounds; the
   apprentice's is SNIPS over the same rounds, sum(w r) / sum(w) with w = pi_apprentice(served) /
   propensity. Intervals are normal approximations (the delta method: the SNIPS influence terms
   w (r - V) / mean(w)). The lift (apprentice - serving) is estimated on the same rounds, so its
   interval uses the paired terms and is tighter than the two intervals side by side.
3. **Decision**: promote when there are at least `min_impressions` rounds and the lower
   confidence bound of the lift is above 0, i.e. the apprentice's lower bound beats the serving
   policy's value on the same requests (two-sided `confidence` interval, so the rule errs on the
   side of keeping the serving policy at level (1 - confidence) / 2). A candidate equal to the
   serving policy has lift exactly 0 and is never promoted.
4. **Promotion**: a `PolicyAssignment` (serving = the apprentice's name) on the compacted
   ``ranking.policy`` topic, which every ranking replica follows and applies at once: the
   apprentice serves and the old serving policy becomes the apprentice. `rollback` writes the
   topic's tombstone: every replica goes back to its settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from creativeloop.kit.codec import InvalidEvent, decode
from creativeloop.kit.feed import read_to_end
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, RANKING_POLICY, RANKING_POLICY_KEY
from creativeloop.v1 import events_pb2

Floats = NDArray[np.float64]

#: The actor of the gate's promotions on ``ranking.policy``.
GATE_ACTOR = "ope-gate"


@dataclass(frozen=True)
class GateRounds:
    """The rounds the gate evaluates, and what it left out."""

    #: The serving policy's version family and the apprentice's policy name and version.
    serving_version: str
    apprentice: str
    apprentice_version: str
    rewards: Floats
    #: The serving policy's propensity of the served creative.
    logging: Floats
    #: The apprentice's probability of the served creative.
    target: Floats
    #: Impressions whose attribution window is still open.
    pending: int = 0
    #: Impressions without an apprentice choice (no apprentice ran, a pinned creative).
    without_apprentice: int = 0
    #: Impressions of an older pairing (before a promotion or a change of apprentice).
    other_pairings: int = 0
    #: Clicks after their impression's window (counted as reward 0, like the serving policy does).
    late_clicks: int = 0


def _version_family(version: str) -> str:
    return version.split("+", 1)[0]


def _seconds(stamp: events_pb2.Impression | events_pb2.Click, fallback_ms: int) -> float:
    ts = stamp.shown_at if isinstance(stamp, events_pb2.Impression) else stamp.clicked_at
    if ts.seconds or ts.nanos:
        return float(ts.seconds) + ts.nanos / 1e9
    return fallback_ms / 1000.0


def gate_rounds(
    impressions: Iterable[tuple[events_pb2.Impression, int]],
    clicks: Iterable[tuple[events_pb2.Click, int]],
    reward_wait_s: float,
    as_of: float | None = None,
    since: float | None = None,
) -> GateRounds | None:
    """Join the logs into rounds (module doc, 1); None when no impression has an apprentice choice.

    `impressions` and `clicks` come with their record timestamps in ms (used when an event has no
    `shown_at` / `clicked_at`); `as_of` (epoch seconds, default now) closes the windows; `since`
    leaves out impressions shown before it.
    """
    as_of = time.time() if as_of is None else as_of
    first_click: dict[str, float] = {}
    for click, ms in clicks:
        t = _seconds(click, ms)
        if t < first_click.get(click.impression_id, float("inf")):
            first_click[click.impression_id] = t
    seen: set[str] = set()
    logged: list[tuple[float, events_pb2.Impression]] = []
    without = 0
    for impression, ms in impressions:
        if impression.impression_id in seen:
            continue  # a duplicate
        seen.add(impression.impression_id)
        shown = _seconds(impression, ms)
        if since is not None and shown < since:
            continue
        if not impression.HasField("apprentice"):
            without += 1
            continue
        logged.append((shown, impression))
    if not logged:
        return None
    newest = max(logged, key=lambda item: item[0])[1]
    pairing = (_version_family(newest.policy_version), newest.apprentice.policy)
    rewards, logging, target = [], [], []
    pending = other = late = 0
    for shown, impression in logged:
        if (_version_family(impression.policy_version), impression.apprentice.policy) != pairing:
            other += 1
            continue
        if shown + reward_wait_s > as_of:
            pending += 1
            continue
        clicked_at = first_click.get(impression.impression_id)
        clicked = clicked_at is not None and clicked_at - shown <= reward_wait_s
        late += int(clicked_at is not None and not clicked)
        rewards.append(float(clicked))
        logging.append(impression.propensity)
        target.append(impression.apprentice.served_propensity)
    return GateRounds(
        pairing[0],
        pairing[1],
        newest.apprentice.policy_version,
        np.array(rewards),
        np.array(logging),
        np.array(target),
        pending,
        without,
        other,
        late,
    )


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{100 * self.value:.3f} % [{100 * self.low:.3f}, {100 * self.high:.3f}]"


@dataclass(frozen=True)
class GateDecision:
    """The gate's estimates on the rounds and its decision (module doc, 2-3)."""

    rounds: int
    clicks: int
    #: The serving policy's on-policy value (mean reward) and the apprentice's SNIPS value.
    serving: Interval
    apprentice: Interval
    #: Apprentice minus serving, on the same rounds (paired).
    lift: Interval
    #: IPS of the apprentice (a diagnostic beside SNIPS).
    ips: float
    #: Mean importance weight (1 in expectation when the propensities are right) and Kish's
    #: effective sample size of the weights.
    mean_weight: float
    effective_rounds: float
    confidence: float
    min_impressions: int
    promote: bool
    reason: str


def decide(
    rewards: Floats, logging: Floats, target: Floats, *, min_impressions: int = 1000, confidence: float = 0.95
) -> GateDecision:
    """Estimate both policies' values on logged rounds and decide (module doc, 2-3).

    >>> r = np.array([1.0, 0.0, 1.0, 0.0])
    >>> d = decide(r, np.full(4, 0.5), np.full(4, 0.5), min_impressions=1)
    >>> d.lift.value, d.promote, d.reason
    (0.0, False, "the lift's lower bound 0.000 % is not above 0")
    """
    if not (len(rewards) == len(logging) == len(target)):
        raise ValueError("rewards, logging and target need the same length")
    if not 0.5 <= confidence < 1.0:
        raise ValueError("confidence must lie in [0.5, 1)")
    n = len(rewards)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    nothing = Interval(0.0, 0.0, 0.0)
    if n == 0:
        return GateDecision(
            0, 0, nothing, nothing, nothing, 0.0, 0.0, 0.0, confidence, min_impressions, False, "no rounds"
        )
    if np.any(logging <= 0) or np.any(logging > 1) or np.any(target < 0) or np.any(target > 1):
        raise ValueError("propensities must lie in (0, 1] (logging) and [0, 1] (target)")
    w = target / logging
    mean_w = float(w.mean())
    served = float(rewards.mean())
    ddof = 1 if n > 1 else 0
    served_terms = rewards - served
    se_served = float(served_terms.std(ddof=ddof)) / np.sqrt(n)
    if mean_w > 0:
        value = float((w * rewards).sum() / w.sum())
        terms = w * (rewards - value) / mean_w
    else:
        value, terms = 0.0, np.zeros(n)
    se_value = float(terms.std(ddof=ddof)) / np.sqrt(n)
    paired = terms - served_terms
    se_lift = float(paired.std(ddof=ddof)) / np.sqrt(n)
    lift = value - served
    ess = float(w.sum() ** 2 / (w * w).sum()) if mean_w > 0 else 0.0
    lift_low = lift - z * se_lift
    if n < min_impressions:
        promote, reason = False, f"too little data: {n} rounds, at least {min_impressions} needed"
    elif mean_w <= 0:
        promote, reason = False, "the apprentice never chose a creative that was served"
    elif lift_low > 0:
        promote, reason = True, f"the lift's lower bound {100 * lift_low:.3f} % is above 0"
    else:
        promote, reason = False, f"the lift's lower bound {100 * lift_low:.3f} % is not above 0"
    return GateDecision(
        rounds=n,
        clicks=int(rewards.sum()),
        serving=Interval(served, served - z * se_served, served + z * se_served),
        apprentice=Interval(value, value - z * se_value, value + z * se_value),
        lift=Interval(lift, lift_low, lift + z * se_lift),
        ips=float((w * rewards).mean()),
        mean_weight=mean_w,
        effective_rounds=ess,
        confidence=confidence,
        min_impressions=min_impressions,
        promote=promote,
        reason=reason,
    )


@dataclass(frozen=True)
class GateReport:
    rounds: GateRounds | None
    decision: GateDecision | None
    reward_wait_s: float
    #: Whether a promotion was written to ``ranking.policy`` (False on a dry run or a refusal).
    promoted: bool = False
    skipped_records: int = 0
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        if self.rounds is None or self.decision is None:
            return (
                "OPE gate: no impression on ad.impressions carries an apprentice choice "
                "(is CREATIVELOOP_RANKING_APPRENTICE_POLICY set, and does the ad server copy "
                "RankResponse.apprentice into Impression.apprentice?). Nothing promoted."
            )
        r, d = self.rounds, self.decision
        pct = f"{100 * d.confidence:g} %"
        lines = [
            f"OPE gate: apprentice {r.apprentice} ({r.apprentice_version}) vs serving {r.serving_version}",
            f"rounds: {d.rounds} impressions ({d.clicks} clicked within {self.reward_wait_s:g} s; "
            "no click = 0); "
            f"left out: {r.pending} still in their window, {r.other_pairings} of an older pairing, "
            f"{r.without_apprentice} without an apprentice choice; {r.late_clicks} late clicks counted as 0",
            f"serving value (on-policy CTR):  {d.serving}",
            f"apprentice value (SNIPS):       {d.apprentice}   IPS {100 * d.ips:.3f} %",
            f"lift (paired):                  {d.lift}   ({pct} normal intervals)",
            f"weights: mean {d.mean_weight:.3f} (1 expected), effective rounds {d.effective_rounds:.0f}",
            f"rule: promote when rounds >= {d.min_impressions} and the lift's lower bound > 0",
            "decision: "
            + (
                ("PROMOTE" if self.promoted else "would promote (dry run)")
                if d.promote
                else "KEEP the serving policy"
            )
            + f" - {d.reason}",
        ]
        if self.promoted:
            lines.append(
                f"written to {RANKING_POLICY.name}: serving = {r.apprentice}; every ranking replica "
                f"switches, the old serving policy becomes the apprentice "
                f"(roll back: creativeloop ope rollback)"
            )
        if self.skipped_records:
            lines.append(f"skipped {self.skipped_records} undecodable or invalid records")
        return "\n".join(lines + self.notes)


async def read_logs(
    settings: CommonSettings, timeout_s: float = 120.0
) -> tuple[list[tuple[events_pb2.Impression, int]], list[tuple[events_pb2.Click, int]], int]:
    """Every impression and click on the broker, with its record timestamp (ms), and the number of
    records skipped as invalid."""
    skipped = 0
    impressions: list[tuple[events_pb2.Impression, int]] = []
    clicks: list[tuple[events_pb2.Click, int]] = []
    _, records = await read_to_end(settings, AD_IMPRESSIONS.name, timeout_s=timeout_s)
    for record in records:
        try:
            impressions.append((decode(events_pb2.Impression, record.value), record.timestamp))
        except InvalidEvent:
            skipped += 1
    _, records = await read_to_end(settings, AD_CLICKS.name, timeout_s=timeout_s)
    for record in records:
        try:
            clicks.append((decode(events_pb2.Click, record.value), record.timestamp))
        except InvalidEvent:
            skipped += 1
    return impressions, clicks, skipped


async def promote(
    settings: CommonSettings, serving: str, replaces_version: str, actor: str, note: str
) -> None:
    """Write a `PolicyAssignment` to ``ranking.policy``: every ranking replica serves `serving`."""
    async with EventProducer(settings, "ope-gate") as producer:
        await producer.send(
            RANKING_POLICY,
            RANKING_POLICY_KEY,
            events_pb2.PolicyAssignment(
                serving=serving,
                replaces_version=replaces_version,
                actor=actor,
                note=note,
                updated_at=now_timestamp(),
            ),
        )


async def rollback(settings: CommonSettings) -> None:
    """Tombstone ``ranking.policy``: every ranking replica goes back to its settings' policies."""
    async with EventProducer(settings, "ope-gate") as producer:
        await producer.send_tombstone(RANKING_POLICY, RANKING_POLICY_KEY)


async def run_gate(
    settings: CommonSettings,
    *,
    reward_wait_s: float = 10.0,
    min_impressions: int = 1000,
    confidence: float = 0.95,
    since: float | None = None,
    dry_run: bool = False,
    as_of: float | None = None,
) -> GateReport:
    """Read the logs, estimate, decide, and promote unless `dry_run` (module doc)."""
    impressions, clicks, skipped = await read_logs(settings)
    rounds = gate_rounds(impressions, clicks, reward_wait_s, as_of=as_of, since=since)
    if rounds is None:
        return GateReport(None, None, reward_wait_s, skipped_records=skipped)
    decision = decide(
        rounds.rewards, rounds.logging, rounds.target, min_impressions=min_impressions, confidence=confidence
    )
    promoted = False
    if decision.promote and not dry_run:
        note = (
            f"lift {decision.lift} over {decision.rounds} rounds; apprentice {decision.apprentice}, "
            f"serving {decision.serving}"
        )
        await promote(settings, rounds.apprentice, rounds.serving_version, GATE_ACTOR, note)
        promoted = True
    return GateReport(rounds, decision, reward_wait_s, promoted, skipped)
