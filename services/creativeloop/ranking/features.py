"""Ranking features: one numeric vector per (user, creative, request), shared by training and serving.

`FeatureStore` keeps what the vector is made of, all from Kafka topics:

- creatives (`creatives`): template, format, every attribute (background, layout, colours...),
  headline length, aspect ratio;
- products (`content.profiles`): category, tags, price;
- user behaviour (`ad.impressions` + `ad.clicks`): for each user, the last `user_history`
  impressions and which of them were clicked, counted per creative attribute value
  (``template=...``, ``background=...``, ``category=...``, ``tag=...``); users in an LRU table of
  at most `max_users`;
- running impression and click counts per creative and per product (the same streams).

`matrix(user_id, creatives, context)` encodes candidates into a fixed-width float64 matrix whose
columns are `FEATURE_NAMES`. Training replays the logged impressions and clicks in time order
through the very same store and records the row of each impression *before* applying it
(`FeatureListener`), so a training row is what serving computed (or would have computed) at
impression time: one code path, no drift. Tokens are hashed with a stable hash (blake2b), not
Python's salted `hash`, so every process and every run agrees.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from creativeloop.kit.context import context_bucket
from creativeloop.v1 import common_pb2, events_pb2

#: Bump when the vector's meaning changes; a model trained on another version is not loaded.
FEATURE_VERSION = "ranker-features-v1"

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


@dataclass
class _CreativeEntry:
    creative: common_pb2.Creative
    static: npt.NDArray[np.float64] | None = None
    affinity: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class _Shown:
    creative_id: str
    product_id: str
    tokens: tuple[str, ...]
    clicked: bool = False


@dataclass
class _User:
    impressions: float = 0.0
    clicks: float = 0.0
    #: token -> [impressions, clicks] over `recent`.
    counts: dict[str, list[float]] = field(default_factory=dict)
    #: impression_id -> what was shown, oldest first (at most `user_history`).
    recent: OrderedDict[str, _Shown] = field(default_factory=OrderedDict)


class FeatureListener(Protocol):
    """Told about every impression with its feature row as of just before it, and every click."""

    def observe_impression(self, impression_id: str, row: npt.NDArray[np.float64]) -> None: ...

    def observe_click(self, impression_id: str) -> None: ...


class FeatureStore:
    """Creatives, products and recent user behaviour, encoded by `matrix` (see the module doc)."""

    def __init__(
        self, max_users: int = 100_000, user_history: int = 200, max_pending_clicks: int = 10_000
    ) -> None:
        self.max_users = max_users
        self.user_history = user_history
        self.max_pending_clicks = max_pending_clicks
        self.listeners: list[FeatureListener] = []
        self._creatives: dict[str, _CreativeEntry] = {}
        self._by_product: dict[str, set[str]] = {}
        self._profiles: dict[str, common_pb2.ContentProfile] = {}
        self._users: OrderedDict[str, _User] = OrderedDict()
        self._creative_counts: dict[str, list[float]] = {}
        self._product_counts: dict[str, list[float]] = {}
        #: Clicks whose impression has not arrived yet (the two topics are read independently).
        self._pending_clicks: OrderedDict[str, events_pb2.Click] = OrderedDict()
        self._context_rows: dict[str, npt.NDArray[np.float64]] = {}
        self.impressions_applied = 0
        self.clicks_applied = 0

    # ------------------------------------------------------------------ topic handlers

    def apply_creative(self, _key: str, event: events_pb2.CreativeUpdated) -> None:
        """Every creative ever seen is kept (retired ones too: logged impressions refer to them)."""
        creative = event.creative
        self._creatives[creative.creative_id] = _CreativeEntry(creative)
        self._by_product.setdefault(creative.product_id, set()).add(creative.creative_id)

    def apply_profile(self, _key: str, event: events_pb2.ContentProfileUpdated) -> None:
        profile = event.profile
        self._profiles[profile.product_id] = profile
        for creative_id in self._by_product.get(profile.product_id, ()):
            self._creatives[creative_id].static = None  # re-encode with the new profile

    def apply_impression(self, _key: str, event: events_pb2.Impression) -> None:
        user = self._user(event.user_id)
        if event.impression_id in user.recent:
            return  # duplicate
        entry = self._entry(event.creative_id)
        if self.listeners:
            row = self.matrix(event.user_id, [event.creative_id], event.context)[0]
            for listener in self.listeners:
                listener.observe_impression(event.impression_id, row)
        tokens: tuple[str, ...] = ()
        if entry is not None:
            self._static(entry)  # resolves the entry's affinity and tag tokens
            tokens = tuple(t for t in entry.affinity if t) + tuple(entry.tags)
        product_id = event.product_id or (entry.creative.product_id if entry is not None else "")
        shown = _Shown(event.creative_id, product_id, tokens)
        user.recent[event.impression_id] = shown
        user.impressions += 1
        for token in tokens:
            counts = user.counts.get(token)
            if counts is None:
                user.counts[token] = [1.0, 0.0]
            else:
                counts[0] += 1
        _bump(self._creative_counts, event.creative_id, 0)
        _bump(self._product_counts, product_id, 0)
        while len(user.recent) > self.user_history:
            _, old = user.recent.popitem(last=False)
            self._forget(user, old)
        self.impressions_applied += 1
        pending = self._pending_clicks.pop(event.impression_id, None)
        if pending is not None:
            self.apply_click(event.impression_id, pending)

    def apply_click(self, _key: str, event: events_pb2.Click) -> None:
        user = self._users.get(event.user_id)
        shown = user.recent.get(event.impression_id) if user is not None else None
        if user is None or shown is None:
            # Its impression may still come (the topics are read independently); keep a while.
            self._pending_clicks[event.impression_id] = event
            while len(self._pending_clicks) > self.max_pending_clicks:
                self._pending_clicks.popitem(last=False)
            return
        if shown.clicked:
            return  # duplicate
        shown.clicked = True
        user.clicks += 1
        for token in shown.tokens:
            user.counts[token][1] += 1
        _bump(self._creative_counts, shown.creative_id, 1)
        _bump(self._product_counts, shown.product_id, 1)
        self.clicks_applied += 1
        for listener in self.listeners:
            listener.observe_click(event.impression_id)

    # ------------------------------------------------------------------ encoding

    def matrix(
        self, user_id: str, creative_ids: Sequence[str], context: Mapping[str, str] | None = None
    ) -> npt.NDArray[np.float64]:
        """Feature rows (`FEATURE_NAMES` columns) of `creative_ids` for `user_id` in `context`."""
        n = len(creative_ids)
        out = np.zeros((n, N_FEATURES))
        user = self._users.get(user_id)
        entries = [self._entry(cid) for cid in creative_ids]
        for i, entry in enumerate(entries):
            if entry is not None:
                out[i, :_STATIC] = self._static(entry)
            else:
                out[i, 0] = 1.0
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
        counts = user.counts if user is not None else {}
        for i, entry in enumerate(entries):
            col = _AFFINITY
            if entry is not None:
                for token in entry.affinity:
                    got = counts.get(token) if token else None
                    if got is None:
                        out[i, col + 1] = PRIOR_CTR
                    else:
                        out[i, col] = math.log1p(got[0])
                        out[i, col + 1] = smoothed_ctr(got[1], got[0])
                        out[i, col + 2] = got[1] * click_norm
                    col += 3
                if entry.tags and counts:
                    tag_clicks = sum(counts[t][1] for t in entry.tags if t in counts)
                    out[i, _TAGS] = tag_clicks * click_norm / len(entry.tags)
            else:
                out[i, _AFFINITY + 1 : _TAGS : 3] = PRIOR_CTR
            shown = self._creative_counts.get(creative_ids[i])
            if shown is not None:
                out[i, _STATS] = math.log1p(shown[0])
                out[i, _STATS + 1] = smoothed_ctr(shown[1], shown[0])
            else:
                out[i, _STATS + 1] = PRIOR_CTR
            product = self._product_counts.get(entry.creative.product_id if entry is not None else "")
            out[i, _STATS + 2] = smoothed_ctr(product[1], product[0]) if product is not None else PRIOR_CTR
        return out

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
            self._context_rows[bucket] = row
        return row

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user_id)
        return user

    @staticmethod
    def _forget(user: _User, old: _Shown) -> None:
        user.impressions -= 1
        if old.clicked:
            user.clicks -= 1
        for token in old.tokens:
            counts = user.counts[token]
            counts[0] -= 1
            if old.clicked:
                counts[1] -= 1
            if counts[0] <= 0:
                del user.counts[token]

    @property
    def users(self) -> int:
        return len(self._users)

    def creative(self, creative_id: str) -> common_pb2.Creative | None:
        entry = self._creatives.get(creative_id)
        return entry.creative if entry is not None else None


def _bump(table: dict[str, list[float]], key: str, index: int) -> None:
    counts = table.get(key)
    if counts is None:
        counts = table[key] = [0.0, 0.0]
    counts[index] += 1.0
