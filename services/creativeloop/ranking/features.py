"""Ranking features: one numeric vector per (user, creative, request), shared by training and serving.

`FeatureStore` keeps what the vector is made of:

- creatives (`creatives`): template, format, every attribute (background, layout, colours...),
  headline length, aspect ratio;
- products (`content.profiles`): category, tags, price;
- user behaviour: each user's most recent impressions and their clicks, summed per creative
  (`kit.behaviour.UserWindow`: at most `user_history`, the newest by shown_at), turned into
  counts per creative attribute value (``template=...``, ``background=...``, ``category=...``,
  ``tag=...``) through the catalogue; users in an LRU table of at most `max_users`;
- decayed impression and click counts per creative (`kit.decay`, half-life `half_life_s`), and per
  product as the sum over its creatives.

Two ways in, one definition. **Serving** reads only latest state, published by the bandit, the one
stream job that joins clicks to impressions: `apply_behaviour` takes a user's `user.behaviour`
record, `apply_stats` a creative's `bandit.stats` record over all contexts. **Offline** (training,
the simulator, off-policy evaluation) `apply_impression` / `apply_click` feed the same
`UserWindow` and the same decayed counts from logged events, with the bandit's attribution
window (`kit.behaviour.within_window`), dedupe by impression id, and clicks held for an impression
that has not arrived. Either way `matrix` computes the rows from the same state with the same code.

`matrix(user_id, creatives, context)` encodes candidates into a fixed-width float64 matrix whose
columns are `FEATURE_NAMES`. Training replays the logged impressions and clicks in time order
through the very same store and records the row of each impression *before* applying it
(`FeatureListener`), so a training row is what serving computed (or would have computed) at
impression time. Tokens are hashed with a stable hash (blake2b), not Python's salted `hash`, so
every process and every run agrees.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from creativeloop.kit.behaviour import DEFAULT_ATTRIBUTION_WINDOW_S, UserWindow, within_window
from creativeloop.kit.context import context_bucket
from creativeloop.kit.decay import DEFAULT_HALF_LIFE_S, NS_PER_S, decayed_add
from creativeloop.v1 import common_pb2, events_pb2, streams_pb2

#: Bump when the vector's meaning changes; a model trained on another version is not loaded.
#: v2: user behaviour from the bandit's user windows (newest by shown_at), creative and product
#: counts decayed like bandit.stats.
FEATURE_VERSION = "ranker-features-v2"

#: Creative (and product) properties a user's affinity is measured on.
AFFINITY_KEYS: tuple[str, ...] = (
    "template",
    "format",
    "layout",
    "background",
    "background_kind",
    "text_color",
    "headline_lines",
    "category",
)
CREATIVE_HASH_DIM = 64
CATEGORY_HASH_DIM = 8
CONTEXT_HASH_DIM = 4
MAX_TAGS = 5
#: Smoothing of every click rate: (clicks + PRIOR_CTR * PRIOR_WEIGHT) / (impressions + PRIOR_WEIGHT).
PRIOR_CTR = 0.05
PRIOR_WEIGHT = 5.0


def _names() -> tuple[str, ...]:
    names = ["bias"]
    names += [f"creative_hash_{i}" for i in range(CREATIVE_HASH_DIM)]
    names += ["headline_chars", "aspect_ratio"]
    names += [f"category_hash_{i}" for i in range(CATEGORY_HASH_DIM)]
    names += ["log_price", "tags"]
    names += [f"context_hash_{i}" for i in range(CONTEXT_HASH_DIM)]
    names += ["user_log_impressions", "user_log_clicks", "user_ctr"]
    for key in AFFINITY_KEYS:
        names += [f"user_{key}_log_impressions", f"user_{key}_ctr", f"user_{key}_click_share"]
    names += ["user_tag_click_share"]
    names += ["creative_log_impressions", "creative_ctr", "product_ctr"]
    return tuple(names)


FEATURE_NAMES: tuple[str, ...] = _names()
N_FEATURES = len(FEATURE_NAMES)
_STATIC = 1 + CREATIVE_HASH_DIM + 2 + CATEGORY_HASH_DIM + 2  # bias, creative and product blocks
_CONTEXT = _STATIC
_USER = _CONTEXT + CONTEXT_HASH_DIM
_AFFINITY = _USER + 3
_TAGS = _AFFINITY + 3 * len(AFFINITY_KEYS)
_STATS = _TAGS + 1
assert _STATS + 3 == N_FEATURES


#: Most candidate lists whose static feature columns `FeatureStore.matrix` keeps.
STATIC_BLOCK_CACHE = 4096


def stable_hash(token: str, dim: int) -> int:
    """Bucket of `token` in [0, dim): the same in every process (unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big") % dim


def smoothed_ctr(clicks: float, impressions: float) -> float:
    return (clicks + PRIOR_CTR * PRIOR_WEIGHT) / (impressions + PRIOR_WEIGHT)


def creative_tokens(creative: common_pb2.Creative) -> list[str]:
    """``format=...``, ``template=...`` and ``<attribute>=<value>`` of a creative."""
    tokens = [f"format={common_pb2.CreativeFormat.Name(creative.format)}"]
    if creative.template_id:
        tokens.append(f"template_id={creative.template_id}")
    tokens += [f"{key}={creative.attributes[key]}" for key in sorted(creative.attributes)]
    return tokens


def affinity_tokens(creative: common_pb2.Creative, profile: common_pb2.ContentProfile | None) -> list[str]:
    """One token per `AFFINITY_KEYS` entry ("" where the creative has no such property)."""
    tokens = []
    for key in AFFINITY_KEYS:
        if key == "format":
            value = common_pb2.CreativeFormat.Name(creative.format)
        elif key == "template":
            value = creative.template_id or creative.attributes.get("template", "")
        elif key == "category":
            value = profile.category if profile is not None else ""
        else:
            value = creative.attributes.get(key, "")
        tokens.append(f"{key}={value}" if value else "")
    return tokens


def tag_tokens(profile: common_pb2.ContentProfile | None) -> list[str]:
    if profile is None:
        return []
    return [f"tag={tag.text.lower()}" for tag in profile.tags[:MAX_TAGS] if tag.text]


#: Most context buckets whose feature row is cached: the request's context picks the bucket, so
#: hostile or varied requests must not grow the cache without bound.
MAX_CONTEXT_ROWS = 4096


@dataclass
class _CreativeEntry:
    creative: common_pb2.Creative
    static: npt.NDArray[np.float64] | None = None
    affinity: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class _User:
    """One user's behaviour: creative -> (impressions, clicks) over their recent impressions."""

    tallies: Mapping[str, Sequence[int]] = field(default_factory=dict)
    impressions: float = 0.0
    clicks: float = 0.0
    #: Offline only: the window the tallies come from.
    window: UserWindow | None = None
    #: token -> [impressions, clicks], computed from the tallies through the catalogue (a cache).
    tokens: dict[str, list[float]] | None = None
    tokens_version: int = -1

    def follow(self, window: UserWindow) -> None:
        self.window = window
        self.tallies = window.tallies
        self.impressions = float(window.impressions)
        self.clicks = float(window.clicks)
        self.tokens = None


class FeatureListener(Protocol):
    """Told about every impression with its feature row as of just before it, and every click."""

    def observe_impression(self, impression_id: str, row: npt.NDArray[np.float64]) -> None: ...

    def observe_click(self, impression_id: str) -> None: ...


class FeatureStore:
    """Creatives, products and recent user behaviour, encoded by `matrix` (see the module doc)."""

    def __init__(
        self,
        max_users: int = 100_000,
        user_history: int = 200,
        max_pending_clicks: int = 10_000,
        half_life_s: float | None = DEFAULT_HALF_LIFE_S,
        attribution_window_s: float = DEFAULT_ATTRIBUTION_WINDOW_S,
        max_impressions: int = 1_000_000,
    ) -> None:
        self.max_users = max_users
        self.user_history = user_history
        self.max_pending_clicks = max_pending_clicks
        self.half_life_s = half_life_s or None
        self.window_ns = round(attribution_window_s * NS_PER_S)
        self.max_impressions = max_impressions
        self.listeners: list[FeatureListener] = []
        self._creatives: dict[str, _CreativeEntry] = {}
        self._by_product: dict[str, set[str]] = {}
        self._profiles: dict[str, common_pb2.ContentProfile] = {}
        #: Bumped when a creative or profile changes: users' token counts are computed again.
        self._catalogue_version = 0
        #: Candidate list -> (catalogue version, entries, static columns): see `_static_block`.
        self._static_blocks: dict[
            tuple[str, ...], tuple[int, list[_CreativeEntry | None], npt.NDArray[np.float64]]
        ] = {}
        self._users: OrderedDict[str, _User] = OrderedDict()
        #: creative_id -> (impressions, clicks, at_ns), decayed to at_ns (as on bandit.stats).
        self._creative_counts: dict[str, tuple[float, float, int]] = {}
        #: Offline: impressions applied, impression_id -> [creative_id, shown_at_ns, user_id, clicked]
        #: (dedupe and the click join; at most `max_impressions`, oldest dropped).
        self._impressions: OrderedDict[str, list[Any]] = OrderedDict()
        #: Offline: clicks whose impression has not arrived yet (the two topics are read independently).
        self._pending_clicks: OrderedDict[str, events_pb2.Click] = OrderedDict()
        self._context_rows: dict[str, npt.NDArray[np.float64]] = {}
        self.impressions_applied = 0
        self.clicks_applied = 0

    # ------------------------------------------------------------------ latest state (serving)

    def apply_creative(self, _key: str, event: events_pb2.CreativeUpdated) -> None:
        """Every creative ever seen is kept (retired ones too: logged impressions refer to them)."""
        creative = event.creative
        self._creatives[creative.creative_id] = _CreativeEntry(creative)
        self._by_product.setdefault(creative.product_id, set()).add(creative.creative_id)
        self._catalogue_version += 1

    def apply_profile(self, _key: str, event: events_pb2.ContentProfileUpdated) -> None:
        profile = event.profile
        self._profiles[profile.product_id] = profile
        for creative_id in self._by_product.get(profile.product_id, ()):
            self._creatives[creative_id].static = None  # re-encode with the new profile
        self._catalogue_version += 1

    def apply_behaviour(self, key: str, event: streams_pb2.UserBehaviour) -> None:
        """A user's latest `user.behaviour` record (the bandit's window of their recent impressions)."""
        user = self._user(event.user_id or key)
        tallies = {tally.creative_id: (tally.impressions, tally.clicks) for tally in event.creatives}
        user.tallies = tallies
        user.impressions = float(sum(t[0] for t in tallies.values()))
        user.clicks = float(sum(t[1] for t in tallies.values()))
        user.window = None
        user.tokens = None

    def forget_user(self, key: str) -> None:
        """A `user.behaviour` tombstone: the bandit no longer keeps the user."""
        self._users.pop(key, None)

    def apply_stats(self, _key: str, event: events_pb2.BanditStats) -> None:
        """A creative's `bandit.stats` record over all contexts (bucket records are the policy's)."""
        if event.context_bucket:
            return
        at_ns = int(event.updated_at.seconds) * NS_PER_S + int(event.updated_at.nanos)
        self._creative_counts[event.creative_id] = (event.impressions, event.clicks, at_ns)

    # ------------------------------------------------------------------ logged events (offline)

    def apply_impression(self, _key: str, event: events_pb2.Impression) -> None:
        impression_id = event.impression_id
        if impression_id in self._impressions:
            return  # duplicate
        if self.listeners:
            row = self.matrix(event.user_id, [event.creative_id], event.context)[0]
            for listener in self.listeners:
                listener.observe_impression(impression_id, row)
        shown_at = _ns(event.shown_at)
        user = self._user(event.user_id)
        window = user.window
        if window is None:
            window = UserWindow(self.user_history)
        window.show(impression_id, event.creative_id, shown_at)
        user.follow(window)
        self._count(event.creative_id, 1.0, 0.0, shown_at)
        self._impressions[impression_id] = [event.creative_id, shown_at, event.user_id, False]
        while len(self._impressions) > self.max_impressions:
            self._impressions.popitem(last=False)
        self.impressions_applied += 1
        pending = self._pending_clicks.pop(impression_id, None)
        if pending is not None:
            self.apply_click(impression_id, pending)

    def apply_click(self, _key: str, event: events_pb2.Click) -> None:
        shown = self._impressions.get(event.impression_id)
        if shown is None:
            # Its impression may still come (the topics are read independently); keep a while.
            self._pending_clicks[event.impression_id] = event
            while len(self._pending_clicks) > self.max_pending_clicks:
                self._pending_clicks.popitem(last=False)
            return
        creative_id, shown_at, user_id, clicked = shown
        if clicked:
            return  # duplicate
        clicked_at = _ns(event.clicked_at) or shown_at  # unstamped: at its impression
        if not within_window(shown_at, clicked_at, self.window_ns):
            return  # the bandit would dead-letter it: it counts nowhere
        shown[3] = True
        user = self._users.get(user_id)
        if user is not None and user.window is not None and user.window.click(event.impression_id):
            user.follow(user.window)
        self._count(creative_id, 0.0, 1.0, shown_at)
        self.clicks_applied += 1
        for listener in self.listeners:
            listener.observe_click(event.impression_id)

    def _count(self, creative_id: str, impressions: float, clicks: float, at_ns: int) -> None:
        old = self._creative_counts.get(creative_id, (0.0, 0.0, 0))
        self._creative_counts[creative_id] = decayed_add(*old, impressions, clicks, at_ns, self.half_life_s)

    # ------------------------------------------------------------------ encoding

    def matrix(
        self, user_id: str, creative_ids: Sequence[str], context: Mapping[str, str] | None = None
    ) -> npt.NDArray[np.float64]:
        """Feature rows (`FEATURE_NAMES` columns) of `creative_ids` for `user_id` in `context`.

        The static block of a candidate list is cached until the catalogue changes; the per-user
        and per-count columns are gathered in Python lists and written once per column block.
        """
        n = len(creative_ids)
        out = np.empty((n, N_FEATURES))
        user = self._users.get(user_id)
        entries, static = self._static_block(creative_ids)
        out[:, :_STATIC] = static
        out[:, _STATIC:] = 0.0
        if context:
            out[:, _CONTEXT : _CONTEXT + CONTEXT_HASH_DIM] = self._context_row(context_bucket(context))
        user_clicks = 0.0
        if user is not None:
            user_clicks = user.clicks
            out[:, _USER] = math.log1p(user.impressions)
            out[:, _USER + 1] = math.log1p(user.clicks)
            out[:, _USER + 2] = smoothed_ctr(user.clicks, user.impressions)
        else:
            out[:, _USER + 2] = PRIOR_CTR
        click_norm = 1.0 / max(1.0, user_clicks)
        counts = self._tokens(user) if user is not None else {}
        unknown = [0.0, PRIOR_CTR, 0.0]
        no_entry = unknown * len(AFFINITY_KEYS)
        affinity: list[float] = []
        tags = [0.0] * n
        stats: list[float] = []
        products: dict[str, float] = {}
        creative_counts = self._creative_counts
        for i, entry in enumerate(entries):
            if entry is not None:
                for token in entry.affinity:
                    got = counts.get(token) if token else None
                    if got is None:
                        affinity += unknown
                    else:
                        affinity += (math.log1p(got[0]), smoothed_ctr(got[1], got[0]), got[1] * click_norm)
                if entry.tags and counts:
                    tag_clicks = sum(counts[t][1] for t in entry.tags if t in counts)
                    tags[i] = tag_clicks * click_norm / len(entry.tags)
                product_id = entry.creative.product_id
            else:
                affinity += no_entry
                product_id = ""
            ctr = products.get(product_id)
            if ctr is None:
                ctr = products[product_id] = self._product_ctr(product_id)
            shown = creative_counts.get(creative_ids[i])
            if shown is not None:
                stats += (math.log1p(shown[0]), smoothed_ctr(shown[1], shown[0]), ctr)
            else:
                stats += (0.0, PRIOR_CTR, ctr)
        out[:, _AFFINITY:_TAGS] = np.array(affinity).reshape(n, _TAGS - _AFFINITY)
        out[:, _TAGS] = tags
        out[:, _STATS : _STATS + 3] = np.array(stats).reshape(n, 3)
        return out

    def _static_block(
        self, creative_ids: Sequence[str]
    ) -> tuple[list[_CreativeEntry | None], npt.NDArray[np.float64]]:
        """The entries of `creative_ids` and their static columns, cached per catalogue version."""
        key = tuple(creative_ids)
        cached = self._static_blocks.get(key)
        if cached is not None and cached[0] == self._catalogue_version:
            return cached[1], cached[2]
        entries = [self._entry(cid) for cid in creative_ids]
        block = np.zeros((len(creative_ids), _STATIC))
        for i, entry in enumerate(entries):
            if entry is not None:
                block[i] = self._static(entry)
            else:
                block[i, 0] = 1.0
        if len(self._static_blocks) >= STATIC_BLOCK_CACHE:
            self._static_blocks.clear()
        self._static_blocks[key] = (self._catalogue_version, entries, block)
        return entries, block

    def _product_ctr(self, product_id: str) -> float:
        """Smoothed CTR of a product: its creatives' counts summed (PRIOR_CTR without any)."""
        impressions = clicks = 0.0
        for creative_id in self._by_product.get(product_id, ()):
            counts = self._creative_counts.get(creative_id)
            if counts is not None:
                impressions += counts[0]
                clicks += counts[1]
        return smoothed_ctr(clicks, impressions) if impressions else PRIOR_CTR

    def _tokens(self, user: _User) -> dict[str, list[float]]:
        """token -> [impressions, clicks] of a user's recent impressions, through the catalogue."""
        if user.tokens is not None and user.tokens_version == self._catalogue_version:
            return user.tokens
        tokens: dict[str, list[float]] = {}
        for creative_id, (impressions, clicks) in user.tallies.items():
            entry = self._creatives.get(creative_id)
            if entry is None:
                continue  # not in the catalogue (yet): it counts once it is
            self._static(entry)  # resolves the entry's affinity and tag tokens
            for token in entry.affinity:
                if token:
                    _add(tokens, token, impressions, clicks)
            for token in entry.tags:
                _add(tokens, token, impressions, clicks)
        user.tokens, user.tokens_version = tokens, self._catalogue_version
        return tokens

    # ------------------------------------------------------------------ internals

    def _entry(self, creative_id: str) -> _CreativeEntry | None:
        return self._creatives.get(creative_id)

    def _static(self, entry: _CreativeEntry) -> npt.NDArray[np.float64]:
        if entry.static is None:
            creative = entry.creative
            profile = self._profiles.get(creative.product_id)
            row = np.zeros(_STATIC)
            row[0] = 1.0
            for token in creative_tokens(creative):
                row[1 + stable_hash(token, CREATIVE_HASH_DIM)] += 1.0
            base = 1 + CREATIVE_HASH_DIM
            row[base] = len(creative.headline) / 100.0
            row[base + 1] = creative.width / creative.height if creative.height else 0.0
            if profile is not None:
                if profile.category:
                    row[base + 2 + stable_hash(profile.category, CATEGORY_HASH_DIM)] = 1.0
                price = profile.price.amount_micros / 1e6
                row[base + 2 + CATEGORY_HASH_DIM] = math.log1p(max(0.0, price))
                row[base + 3 + CATEGORY_HASH_DIM] = len(profile.tags) / 10.0
            entry.static = row
            entry.affinity = affinity_tokens(creative, profile)
            entry.tags = tag_tokens(profile)
        return entry.static

    def _context_row(self, bucket: str) -> npt.NDArray[np.float64]:
        row = self._context_rows.get(bucket)
        if row is None:
            row = np.zeros(CONTEXT_HASH_DIM)
            if bucket:
                row[stable_hash(bucket, CONTEXT_HASH_DIM)] = 1.0
            if len(self._context_rows) >= MAX_CONTEXT_ROWS:  # requests choose the contexts: bounded
                self._context_rows.clear()
            self._context_rows[bucket] = row
        return row

    @property
    def context_rows(self) -> int:
        """Context buckets whose feature row is cached (at most `MAX_CONTEXT_ROWS`)."""
        return len(self._context_rows)

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user_id)
        return user

    @property
    def users(self) -> int:
        return len(self._users)

    def creative(self, creative_id: str) -> common_pb2.Creative | None:
        entry = self._creatives.get(creative_id)
        return entry.creative if entry is not None else None


def _add(tokens: dict[str, list[float]], token: str, impressions: float, clicks: float) -> None:
    counts = tokens.get(token)
    if counts is None:
        tokens[token] = [float(impressions), float(clicks)]
    else:
        counts[0] += impressions
        counts[1] += clicks


def _ns(stamp: Any) -> int:
    return int(stamp.seconds) * NS_PER_S + int(stamp.nanos)
