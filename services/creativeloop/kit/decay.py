"""Exponential time decay of counts in event time, shared by the bandit and ranking's offline features.

A count observed at event time t weighs 2 ** (-(T - t) / half_life) at a later time T. Counts are
stored decayed to the newest event time added (`at_ns`), so that

    counts(T) = sum over observations of 2 ** (-(T - t_i) / half_life)

whatever order the observations arrive in: an older observation is added decayed to `at_ns`, a
newer one moves `at_ns` forward and decays what was there. One function for both the bandit's
counts (bandit.stats) and the counts ranking's training replay computes, so they agree.

>>> decayed_add(1.0, 0.0, 0, 1.0, 1.0, 3600 * NS_PER_S, 3600.0)
(1.5, 1.0, 3600000000000)
"""

from __future__ import annotations

NS_PER_S = 1_000_000_000
#: The bandit's default half-life (and the one ranking's training replay uses).
DEFAULT_HALF_LIFE_S = 6 * 3600.0


def decay_factor(age_ns: int, half_life_s: float | None) -> float:
    """Weight of an observation `age_ns` old: 2 ** (-age / half_life); 1 when decay is off."""
    if not half_life_s or age_ns == 0:
        return 1.0
    return float(2.0 ** (-(age_ns / NS_PER_S) / half_life_s))


def decayed_add(
    impressions: float,
    clicks: float,
    at_ns: int,
    add_impressions: float,
    add_clicks: float,
    add_at_ns: int,
    half_life_s: float | None,
) -> tuple[float, float, int]:
    """(impressions, clicks) decayed to `at_ns`, plus an observation at `add_at_ns`; returns the sum
    and the time it is decayed to (the newer of the two; empty counts take the observation's)."""
    base = at_ns if (impressions or clicks) else add_at_ns
    if add_at_ns >= base:  # newer: decay what we have to the observation's time, add it whole
        kept = decay_factor(add_at_ns - base, half_life_s)
        return impressions * kept + add_impressions, clicks * kept + add_clicks, add_at_ns
    weight = decay_factor(base - add_at_ns, half_life_s)  # older (out of order): add it decayed
    return impressions + add_impressions * weight, clicks + add_clicks * weight, base
