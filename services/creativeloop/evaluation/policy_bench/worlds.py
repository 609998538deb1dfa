"""World generators: products, creatives, users and requests with a hidden click model.

A world is a `WorldSpec` (its structure and the scales of its hidden effects, fixed in `WORLDS`
and committed before any policy was tuned) and a seed. `build_stream(spec, seed, n_requests)`
draws one instance: a catalogue of `Creative` messages, a population of users in hidden
segments, a request stream and the true click probability of every candidate of every request.
Everything is drawn from the seed alone, so a (world, seed, size) is one fixed stream: every
policy meets the same requests and the same uniform per request (a click is ``uniform <
p(chosen)``): common random numbers.

What a policy sees is only what a caller and the contract carry: a creative's element ids,
numeric attributes, image and copy embeddings and category (`Creative`), the request's
categorical and numeric features (`RequestFeatures`, keys from ranking's context schema), the
legacy string context (placement, device) and a user id, empty for anonymous visitors (who then
send no age band or gender). Hidden: the user's segment, the click model's effects, the latent
style behind the image embedding, the copy style behind the copy embedding, each creative's true
quality and quirk.

The click model, on the logit scale, for user segment s, creative c of product p and request
context (device, placement, daypart):

    logit = base + product(p) + Σ_kind global(kind, element) + Σ_kind category(cat(p), kind, element)
            + Σ_kind segment(s, kind, element) + style_sd · u_s · z_c (latent style)
            + device(device, size) + placement(placement, template) + daypart(daypart, colour)
            + aesthetic · quality_c − text_ratio · ((text_ratio_c − optimum(cat)) / 0.15)²
            + quirk_c

Each `WorldSpec` switches these on with its own scales, and its own catalogue shape (element
grids like imagegen's, or free-form creatives known by their embedding), arrival of products
mid-run, drift of a segment's tastes and random feedback delays.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from creativeloop.ranking.schema import CONTEXT_SCHEMA
from creativeloop.v1 import common_pb2

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE

TEMPLATES = ("headline-top", "hero-bottom", "split-left", "soft-focus", "studio-glow")
BACKGROUNDS = (
    "bg-solid-dark",
    "bg-solid-light",
    "bg-gradient-warm",
    "bg-gradient-cool",
    "bg-scene-indoor",
    "bg-scene-outdoor",
)
LAYOUTS = ("stack", "overlay", "left")
COLOURS = ("palette-mono", "palette-warm", "palette-cool", "palette-brand")
SIZES = (("1x1", 800, 800), ("4x5", 800, 1000), ("191x100", 1200, 628))
#: Hidden: a copy's style shows only through the copy embedding.
COPY_STYLES = ("benefit", "discount", "social-proof", "urgency", "quality")
FREEFORM_TEMPLATES = ("poster", "lifestyle", "minimal")
BACKGROUND_KINDS = ("solid", "gradient", "scene")
CATEGORIES = ("dresses", "knitwear", "shoes", "electronics", "home", "beauty", "grocery", "sports")
CATEGORICAL_KEYS = ("device", "placement", "os", "age_band", "gender", "region", "daypart")
NUMERIC_KEYS = ("session_depth", "session_minutes", "recent_clicks", "price_sensitivity", "hour")
#: Keys only a logged-in (stable user id) request carries.
DEMOGRAPHIC_KEYS = ("age_band", "gender")
#: Seeds at or above this are held back: run them once, at the end (`runner.run(..., final=True)`).
HELD_BACK_FROM = 1000
IMAGE_MODEL = "bench-image@1"
COPY_MODEL = "bench-copy@1"


@dataclass(frozen=True)
class WorldSpec:
    """The structure of one world and the scales of its hidden effects (logit scale)."""

    name: str
    description: str
    catalogue: Literal["grid", "freeform"]
    n_products: int
    #: Creatives per product: log-uniform between the two (inclusive).
    creatives_per_product: tuple[int, int]
    n_categories: int
    n_segments: int
    n_users: int
    #: Share of requests with a stable user id (and demographics); the rest are anonymous.
    known_user_rate: float
    #: Categorical keys sent, and how strongly each reveals the segment (0: not at all, 1: fully).
    categorical_keys: dict[str, float]
    #: Numeric keys sent, and how far apart the segments' means are (in noise standard deviations).
    numeric_keys: dict[str, float]
    base_logit: float
    product_sd: float = 0.3
    global_sd: float = 0.0
    global_kinds: tuple[str, ...] = ()
    category_sd: float = 0.0
    category_kinds: tuple[str, ...] = ()
    segment_sd: float = 0.0
    segment_kinds: tuple[str, ...] = ()
    style_dim: int = 3
    style_sd: float = 0.0
    device_size_sd: float = 0.0
    placement_template_sd: float = 0.0
    daypart_colour_sd: float = 0.0
    aesthetic_coef: float = 0.0
    text_ratio_coef: float = 0.0
    quirk_sd: float = 0.0
    image_dim: int = 16
    copy_dim: int = 8
    #: Noise on the image embedding (its signal has about unit scale per dimension).
    image_noise: float = 0.3
    #: (fraction of the run, share of products) that go live then; () = all at the start.
    arrival_waves: tuple[tuple[float, float], ...] = ()
    #: Traffic multiplier of a product during the first `boost_fraction` of the run after it arrives.
    new_product_boost: float = 1.0
    boost_fraction: float = 0.0
    #: At this fraction of the run the largest segment's tastes are drawn anew (None: no drift).
    drift_at: float | None = None
    #: Share of users in the largest segment when the world drifts (else Dirichlet shares).
    largest_segment_share: float | None = None
    #: Mean random feedback delay in requests (exponential; 0: outcomes arrive at once).
    delay_mean: float = 0.0
    element_kinds: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        kinds = (
            ("template", "background", "layout", "colour", "size", "copy")
            if self.catalogue == "grid"
            else ("template", "background_kind", "size", "copy")
        )
        object.__setattr__(self, "element_kinds", kinds)


_DEMOGRAPHIC = {"age_band": 0.6, "gender": 0.45, "region": 0.4}

#: The worlds of the bench. Fixed before any policy was tuned (see docs/quality.md).
WORLDS: dict[str, WorldSpec] = {
    spec.name: spec
    for spec in (
        WorldSpec(
            name="element-grid",
            description=(
                "imagegen-like grids (template x background x layout x copy x colour x size), 4-60 "
                "creatives per product; global and per-segment element effects, device x size, "
                "small per-creative quirks; 4 segments seen through demographics"
            ),
            catalogue="grid",
            n_products=300,
            creatives_per_product=(4, 60),
            n_categories=6,
            n_segments=4,
            n_users=30_000,
            known_user_rate=0.75,
            categorical_keys={"device": 0.15, "placement": 0.0, "os": 0.1, **_DEMOGRAPHIC},
            numeric_keys={"session_depth": 0.5},
            base_logit=-4.0,
            global_sd=0.25,
            global_kinds=("template", "background", "layout", "colour", "size", "copy_style"),
            segment_sd=0.35,
            segment_kinds=("template", "colour", "copy_style"),
            device_size_sd=0.3,
            quirk_sd=0.1,
        ),
        WorldSpec(
            name="latent-style",
            description=(
                "free-form creatives (4-16 per product, 600 products) whose appeal is a latent "
                "style visible only through a 24-d image embedding, liked differently by 5 "
                "segments; noisy aesthetic score; sizeable per-creative quirks"
            ),
            catalogue="freeform",
            n_products=600,
            creatives_per_product=(4, 16),
            n_categories=8,
            n_segments=5,
            n_users=50_000,
            known_user_rate=0.6,
            categorical_keys={
                "device": 0.1,
                "placement": 0.0,
                "os": 0.1,
                "age_band": 0.45,
                "gender": 0.35,
                "region": 0.3,
                "daypart": 0.3,
            },
            numeric_keys={"price_sensitivity": 0.8, "session_minutes": 0.4},
            base_logit=-3.3,
            global_sd=0.15,
            global_kinds=("template", "background_kind"),
            style_dim=4,
            style_sd=0.55,
            image_dim=24,
            aesthetic_coef=0.25,
            quirk_sd=0.2,
        ),
        WorldSpec(
            name="category-mix",
            description=(
                "attribute effects that differ by category (person, price tag, background, copy "
                "style, a text-ratio optimum per category), placement x template effects, 2 weak "
                "segments; 4-12 creatives per product"
            ),
            catalogue="freeform",
            n_products=400,
            creatives_per_product=(4, 12),
            n_categories=8,
            n_segments=2,
            n_users=20_000,
            known_user_rate=0.7,
            categorical_keys={
                "device": 0.0,
                "placement": 0.0,
                "age_band": 0.3,
                "gender": 0.3,
                "region": 0.2,
            },
            numeric_keys={"hour": 0.0},
            base_logit=-3.4,
            global_sd=0.1,
            global_kinds=("template", "background_kind", "size"),
            category_sd=0.4,
            category_kinds=("template", "background_kind", "has_person", "price_tag", "copy_style"),
            segment_sd=0.15,
            segment_kinds=("template", "copy_style"),
            style_dim=3,
            style_sd=0.15,
            placement_template_sd=0.35,
            text_ratio_coef=0.15,
            quirk_sd=0.1,
        ),
        WorldSpec(
            name="cold-start",
            description=(
                "element grids with 8-60 creatives per product; 40 % of products live at the start, "
                "the rest arrive in three waves (25 %, 50 %, 75 % of the run) with 4x traffic for a "
                "while; product offsets and large per-creative quirks; 3 segments"
            ),
            catalogue="grid",
            n_products=240,
            creatives_per_product=(8, 60),
            n_categories=5,
            n_segments=3,
            n_users=30_000,
            known_user_rate=0.75,
            categorical_keys={"device": 0.1, "placement": 0.0, "os": 0.1, **_DEMOGRAPHIC},
            numeric_keys={},
            base_logit=-3.6,
            product_sd=0.4,
            global_sd=0.3,
            global_kinds=("template", "background", "layout", "colour", "size", "copy_style"),
            segment_sd=0.25,
            segment_kinds=("template", "background", "copy_style"),
            style_sd=0.2,
            device_size_sd=0.2,
            quirk_sd=0.3,
            arrival_waves=((0.0, 0.4), (0.25, 0.2), (0.5, 0.2), (0.75, 0.2)),
            new_product_boost=4.0,
            boost_fraction=0.05,
        ),
        WorldSpec(
            name="drift",
            description=(
                "element grids (6-40 per product) with per-segment element and style effects; "
                "half-way the largest segment (45 % of users) gets new tastes; 4 segments"
            ),
            catalogue="grid",
            n_products=250,
            creatives_per_product=(6, 40),
            n_categories=6,
            n_segments=4,
            n_users=30_000,
            known_user_rate=0.7,
            categorical_keys={
                "device": 0.1,
                "placement": 0.0,
                "age_band": 0.6,
                "gender": 0.45,
                "region": 0.4,
                "daypart": 0.3,
            },
            numeric_keys={"session_depth": 0.5},
            base_logit=-3.6,
            global_sd=0.2,
            global_kinds=("template", "background", "layout", "colour", "size", "copy_style"),
            segment_sd=0.4,
            segment_kinds=("template", "background", "colour", "copy_style"),
            style_sd=0.35,
            device_size_sd=0.2,
            quirk_sd=0.1,
            drift_at=0.5,
            largest_segment_share=0.45,
        ),
        WorldSpec(
            name="anonymous-sessions",
            description=(
                "80 % anonymous requests without demographics; segments show only in session "
                "numbers (depth, minutes, recent clicks, price sensitivity) and daypart; strong "
                "device x size, placement x template and daypart x colour effects; feedback "
                "delayed at random (mean 2,000 requests); 4-30 creatives per product"
            ),
            catalogue="grid",
            n_products=300,
            creatives_per_product=(4, 30),
            n_categories=6,
            n_segments=4,
            n_users=20_000,
            known_user_rate=0.2,
            categorical_keys={"device": 0.15, "placement": 0.0, "os": 0.15, "daypart": 0.35},
            numeric_keys={
                "session_depth": 0.7,
                "session_minutes": 0.5,
                "recent_clicks": 0.6,
                "price_sensitivity": 0.9,
            },
            base_logit=-3.5,
            global_sd=0.2,
            global_kinds=("template", "background", "layout", "colour", "size", "copy_style"),
            segment_sd=0.3,
            segment_kinds=("template", "colour", "copy_style"),
            device_size_sd=0.4,
            placement_template_sd=0.4,
            daypart_colour_sd=0.25,
            quirk_sd=0.15,
            delay_mean=2000.0,
        ),
    )
}


@dataclass
class Request:
    """One ad request as a caller would send it to Rank (nothing hidden in it)."""

    n: int
    product_id: str
    candidates: Sequence[common_pb2.Creative]
    user_id: str
    #: The legacy string context (`RankRequest.context`): placement and device.
    context: dict[str, str]
    categorical: dict[str, str]
    numeric: dict[str, float]

    @cached_property
    def features(self) -> common_pb2.RequestFeatures:
        """The typed features, as `RankRequest.features` carries them."""
        return common_pb2.RequestFeatures(categorical=self.categorical, numeric=self.numeric)

    @property
    def candidate_ids(self) -> list[str]:
        return [c.creative_id for c in self.candidates]


@dataclass
class Stream:
    """One (world, seed, size): the catalogue, the requests, the hidden truth."""

    spec: WorldSpec
    seed: int
    n_requests: int
    creatives: list[common_pb2.Creative]
    product_ids: list[str]
    #: Per product: its first creative's index in `creatives` and its number of creatives.
    product_start: Ints
    product_size: Ints
    #: Per product: the request index at which it goes live.
    arrival: Ints
    # Per request.
    product: Ints
    user: Ints  # -1: anonymous
    segment: Ints
    categorical_codes: Ints  # (n, len(CATEGORICAL_KEYS)), -1 = not sent
    numeric_values: Floats  # (n, len(NUMERIC_KEYS)), NaN = not sent
    uniform: Floats
    delay: Ints
    #: Flat true click probabilities: request n's candidates are p[offset[n]:offset[n + 1]].
    p: Floats
    offset: Ints
    #: Flat index (into `p`) of the candidate an oracle that knows the model but not the user's
    #: segment would show: the best expected click probability given what the request reveals.
    observable_best: Ints
    #: Request index of the drift (None: none).
    drift_at: int | None = None
    #: The segment whose tastes drift.
    drift_segment: int = -1

    def probabilities(self, n: int) -> Floats:
        """True click probability of each of request `n`'s candidates."""
        return self.p[self.offset[n] : self.offset[n + 1]]

    @cached_property
    def random_ctr(self) -> Floats:
        """Per request: the expected CTR of a uniformly random choice."""
        sizes = np.diff(self.offset)
        result: Floats = np.add.reduceat(self.p, self.offset[:-1]) / sizes
        return result

    @cached_property
    def oracle_ctr(self) -> Floats:
        """Per request: the best candidate's click probability (the oracle knows everything)."""
        result: Floats = np.maximum.reduceat(self.p, self.offset[:-1])
        return result

    @cached_property
    def observable_oracle_ctr(self) -> Floats:
        result: Floats = self.p[self.observable_best]
        return result

    def arrivals(self) -> dict[int, list[int]]:
        """Request index -> products that go live just before it."""
        out: dict[int, list[int]] = {}
        for product, n in enumerate(self.arrival.tolist()):
            out.setdefault(int(n), []).append(product)
        return out

    def product_creatives(self, product: int) -> list[common_pb2.Creative]:
        start = int(self.product_start[product])
        return self.creatives[start : start + int(self.product_size[product])]

    def request(self, n: int) -> Request:
        product = int(self.product[n])
        user = int(self.user[n])
        categorical = {
            key: _CATEGORICAL_VALUES[key][code]
            for key, code in zip(CATEGORICAL_KEYS, self.categorical_codes[n].tolist(), strict=True)
            if code >= 0
        }
        numeric = {
            key: round(float(value), 4)
            for key, value in zip(NUMERIC_KEYS, self.numeric_values[n].tolist(), strict=True)
            if value == value
        }
        context: dict[str, str] = {k: categorical[k] for k in ("placement", "device") if k in categorical}
        return Request(
            n=n,
            product_id=self.product_ids[product],
            candidates=self.product_creatives(product),
            user_id=f"user-{user:06d}" if user >= 0 else "",
            context=context,
            categorical=categorical,
            numeric=numeric,
        )


_CATEGORICAL_VALUES: dict[str, tuple[str, ...]] = {
    key: CONTEXT_SCHEMA[key].values for key in CATEGORICAL_KEYS
}


def _rngs(spec: WorldSpec, seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for the world (catalogue, users), its click model and its requests,
    so that one seed gives the same world whatever the number of requests."""
    world, model, requests = np.random.SeedSequence([seed, zlib.crc32(spec.name.encode())]).spawn(3)
    return np.random.default_rng(world), np.random.default_rng(model), np.random.default_rng(requests)


def _log_uniform_int(rng: np.random.Generator, low: int, high: int, size: int) -> Ints:
    values = np.exp(rng.uniform(np.log(low), np.log(high + 1), size))
    result: Ints = np.clip(np.floor(values), low, high).astype(np.int64)
    return result


@dataclass
class _Catalogue:
    """Per creative (ordered by product): element codes per kind, hidden properties."""

    product: Ints
    codes: dict[str, Ints]
    copy_style: Ints
    z: Floats
    quality: Floats
    text_ratio: Floats
    has_person: Ints
    price_tag: Ints
    n_copies: int


def _grid_catalogue(spec: WorldSpec, rng: np.random.Generator, sizes: Ints) -> _Catalogue:
    counts = {"template": 5, "background": 6, "layout": 3, "colour": 4, "size": 3}
    latent = {kind: rng.normal(0.0, 0.5, (n, spec.style_dim)) for kind, n in counts.items()}
    looks = {kind: rng.normal(0.0, 0.5, n) for kind, n in counts.items()}
    template_text = rng.uniform(0.08, 0.4, counts["template"])
    template_price = (rng.random(counts["template"]) < 0.4).astype(np.int64)
    product, copy, codes_list, styles = [], [], [], []
    copy_offset = 0
    copy_styles: list[int] = []
    for p, size in enumerate(sizes.tolist()):
        n_copy = int(rng.integers(2, 5))
        copy_styles += rng.integers(0, len(COPY_STYLES), n_copy).tolist()
        grid = [*counts.values(), n_copy]
        total = int(np.prod(grid))
        picks = rng.choice(total, size=min(size, total), replace=False)
        decoded = np.stack(np.unravel_index(picks, grid), axis=1)
        codes_list.append(decoded[:, :5])
        copy.append(decoded[:, 5] + copy_offset)
        styles.append(np.asarray(copy_styles)[decoded[:, 5] + copy_offset])
        product.append(np.full(len(picks), p))
        copy_offset += n_copy
    codes_matrix = np.concatenate(codes_list)
    codes = {kind: codes_matrix[:, i].astype(np.int64) for i, kind in enumerate(counts)}
    codes["copy"] = np.concatenate(copy).astype(np.int64)
    n = len(codes["copy"])
    z = sum((latent[kind][codes[kind]] for kind in counts), np.zeros((n, spec.style_dim)))
    z = z + rng.normal(0.0, 0.6, z.shape)
    quality = looks["template"][codes["template"]] + looks["background"][codes["background"]]
    quality = quality + rng.normal(0.0, 0.7, n)
    text_ratio = np.clip(template_text[codes["template"]] + rng.normal(0.0, 0.05, n), 0.02, 0.8)
    scene = codes["background"] >= 4
    has_person = (scene & (rng.random(n) < 0.6)).astype(np.int64)
    return _Catalogue(
        product=np.concatenate(product).astype(np.int64),
        codes=codes,
        copy_style=np.concatenate(styles).astype(np.int64),
        z=z,
        quality=(quality - quality.mean()) / quality.std(),
        text_ratio=text_ratio,
        has_person=has_person,
        price_tag=template_price[codes["template"]],
        n_copies=copy_offset,
    )


def _freeform_catalogue(spec: WorldSpec, rng: np.random.Generator, sizes: Ints) -> _Catalogue:
    n = int(sizes.sum())
    product = np.repeat(np.arange(len(sizes)), sizes)
    n_copies_per = rng.integers(2, 5, len(sizes))
    copy_start = np.concatenate([[0], np.cumsum(n_copies_per)[:-1]])
    copy = copy_start[product] + (rng.random(n) * n_copies_per[product]).astype(np.int64)
    copy_styles = rng.integers(0, len(COPY_STYLES), int(n_copies_per.sum()))
    codes = {
        "template": rng.integers(0, len(FREEFORM_TEMPLATES), n),
        "background_kind": rng.integers(0, len(BACKGROUND_KINDS), n),
        "size": rng.integers(0, len(SIZES), n),
        "copy": copy.astype(np.int64),
    }
    text_base = rng.uniform(0.05, 0.45, len(FREEFORM_TEMPLATES))
    quality = rng.normal(0.0, 1.0, n)
    return _Catalogue(
        product=product.astype(np.int64),
        codes={k: v.astype(np.int64) for k, v in codes.items()},
        copy_style=copy_styles[copy].astype(np.int64),
        z=rng.normal(0.0, 1.0, (n, spec.style_dim)),
        quality=quality,
        text_ratio=np.clip(text_base[codes["template"]] + rng.normal(0.0, 0.1, n), 0.02, 0.8),
        has_person=(rng.random(n) < 0.4).astype(np.int64),
        price_tag=(rng.random(n) < 0.5).astype(np.int64),
        n_copies=int(n_copies_per.sum()),
    )


def _element_names(spec: WorldSpec) -> dict[str, tuple[str, ...]]:
    if spec.catalogue == "grid":
        return {
            "template": TEMPLATES,
            "background": BACKGROUNDS,
            "layout": LAYOUTS,
            "colour": COLOURS,
            "size": tuple(s[0] for s in SIZES),
        }
    return {
        "template": FREEFORM_TEMPLATES,
        "background_kind": BACKGROUND_KINDS,
        "size": tuple(s[0] for s in SIZES),
    }


def _effect_codes(spec: WorldSpec, cat: _Catalogue) -> dict[str, tuple[Ints, int]]:
    """Per kind an effect may attach to: (code per creative, number of levels)."""
    levels = {kind: len(names) for kind, names in _element_names(spec).items()}
    out = {kind: (cat.codes[kind], n) for kind, n in levels.items()}
    out["copy_style"] = (cat.copy_style, len(COPY_STYLES))
    out["has_person"] = (cat.has_person, 2)
    out["price_tag"] = (cat.price_tag, 2)
    return out


def build_stream(spec: WorldSpec, seed: int, n_requests: int) -> Stream:
    """Draw the instance of `spec` for `seed` with `n_requests` requests (see the module doc).

    >>> stream = build_stream(WORLDS["element-grid"], seed=3, n_requests=50)
    >>> again = build_stream(WORLDS["element-grid"], seed=3, n_requests=50)
    >>> bool(np.array_equal(stream.p, again.p) and np.array_equal(stream.uniform, again.uniform))
    True
    >>> bool(np.all(stream.oracle_ctr >= stream.random_ctr))
    True
    """
    rng, model_rng, request_rng = _rngs(spec, seed)
    n_seg = spec.n_segments
    # ---------------------------------------------------------------- products and catalogue
    category_weights = rng.dirichlet(np.full(spec.n_categories, 2.0))
    product_category = rng.choice(spec.n_categories, spec.n_products, p=category_weights)
    popularity = rng.lognormal(0.0, 1.0, spec.n_products)
    sizes = _log_uniform_int(rng, *spec.creatives_per_product, spec.n_products)
    cat = (_grid_catalogue if spec.catalogue == "grid" else _freeform_catalogue)(spec, rng, sizes)
    sizes = np.bincount(cat.product, minlength=spec.n_products).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    n_creatives = len(cat.product)
    arrival = np.zeros(spec.n_products, dtype=np.int64)
    if spec.arrival_waves:
        shares = np.array([share for _, share in spec.arrival_waves])
        wave = rng.choice(len(shares), spec.n_products, p=shares / shares.sum())
        arrival = np.array([int(spec.arrival_waves[w][0] * n_requests) for w in wave], dtype=np.int64)
        arrival[np.argmin(arrival)] = 0  # at least one product from the start

    creatives = _creative_messages(spec, rng, cat, product_category)
    product_ids = [f"{spec.name}-p{p:04d}" for p in range(spec.n_products)]

    # ---------------------------------------------------------------- users and segments
    if spec.largest_segment_share is not None:
        rest = rng.dirichlet(np.full(n_seg - 1, 2.0)) * (1.0 - spec.largest_segment_share)
        segment_weights = np.concatenate([[spec.largest_segment_share], rest])
    else:
        segment_weights = rng.dirichlet(np.full(n_seg, 2.0))
    tables = {}
    for key in CATEGORICAL_KEYS:
        n_values = len(_CATEGORICAL_VALUES[key])
        strength = spec.categorical_keys.get(key, 0.0)
        base = rng.dirichlet(np.full(n_values, 5.0))
        favourite = rng.dirichlet(np.full(n_values, 0.5), n_seg)
        tables[key] = (1.0 - strength) * base[None, :] + strength * favourite
    means = {key: rng.normal(0.0, spec.numeric_keys.get(key, 0.0), n_seg) for key in NUMERIC_KEYS}

    user_segment = rng.choice(n_seg, spec.n_users, p=segment_weights)
    activity = rng.lognormal(0.0, 1.2, spec.n_users)
    static = {
        key: _draw_rows(rng, tables[key], user_segment) for key in ("age_band", "gender", "region", "os")
    }
    home_device = _draw_rows(rng, tables["device"], user_segment)

    # ---------------------------------------------------------------- requests
    product = _draw_products(request_rng, spec, n_requests, popularity, arrival)
    known = request_rng.random(n_requests) < spec.known_user_rate
    user = np.where(known, request_rng.choice(spec.n_users, n_requests, p=activity / activity.sum()), -1)
    anonymous_segment = request_rng.choice(n_seg, n_requests, p=segment_weights)
    segment = np.where(known, user_segment[np.maximum(user, 0)], anonymous_segment)
    # Every key has a value (device, placement and daypart drive effects whether or not they are
    # sent); `codes` keeps what the caller sends: the world's keys, demographics only when known.
    values = np.zeros((n_requests, len(CATEGORICAL_KEYS)), dtype=np.int64)
    codes = np.full((n_requests, len(CATEGORICAL_KEYS)), -1, dtype=np.int64)
    for j, key in enumerate(CATEGORICAL_KEYS):
        fresh = _draw_rows(request_rng, tables[key], segment)
        if key in static:
            value = np.where(known, static[key][np.maximum(user, 0)], fresh)
        elif key == "device":
            value = np.where(
                known & (request_rng.random(n_requests) < 0.85), home_device[np.maximum(user, 0)], fresh
            )
        else:
            value = fresh
        values[:, j] = value
        if key in spec.categorical_keys:
            codes[:, j] = value
        if key in DEMOGRAPHIC_KEYS:
            codes[~known, j] = -1
    # Context that drives effects whether or not the caller sends it.
    device = values[:, CATEGORICAL_KEYS.index("device")]
    placement = values[:, CATEGORICAL_KEYS.index("placement")]
    daypart = values[:, CATEGORICAL_KEYS.index("daypart")]
    raw = np.full((n_requests, len(NUMERIC_KEYS)), np.nan)
    numeric = np.full((n_requests, len(NUMERIC_KEYS)), np.nan)
    for j, key in enumerate(NUMERIC_KEYS):
        if key not in spec.numeric_keys:
            continue
        if key == "hour":
            numeric[:, j] = request_rng.uniform(0.0, 24.0, n_requests)
            continue
        raw[:, j] = request_rng.normal(means[key][segment], 1.0)
        numeric[:, j] = _numeric_value(key, raw[:, j])
    uniform = request_rng.random(n_requests)
    delay = (
        np.floor(request_rng.exponential(spec.delay_mean, n_requests)).astype(np.int64)
        if spec.delay_mean > 0
        else np.zeros(n_requests, dtype=np.int64)
    )

    # ---------------------------------------------------------------- the hidden click model
    model = _click_model(spec, model_rng, cat, product_category, creatives_total=n_creatives)
    drift_at = int(spec.drift_at * n_requests) if spec.drift_at is not None else None
    phase = np.zeros(n_requests, dtype=np.int64)
    if drift_at is not None:
        phase[drift_at:] = 1
    sizes_per_request = sizes[product]
    offset = np.concatenate([[0], np.cumsum(sizes_per_request)]).astype(np.int64)
    r_flat = np.repeat(np.arange(n_requests), sizes_per_request)
    c_flat = start[product][r_flat] + (np.arange(len(r_flat)) - offset[r_flat])
    shared = (
        model.base[c_flat]
        + model.device[device[r_flat], c_flat]
        + model.placement[placement[r_flat], c_flat]
        + model.daypart[daypart[r_flat], c_flat]
    )
    seg_effect = model.segment[phase[r_flat], segment[r_flat], c_flat]
    p = _sigmoid(shared + seg_effect)

    # The oracle that knows the model but sees only what the request reveals.
    log_post = np.zeros((n_requests, n_seg)) + np.log(segment_weights)[None, :]
    for j, key in enumerate(CATEGORICAL_KEYS):
        sent = codes[:, j] >= 0
        log_post[sent] += np.log(tables[key][:, codes[sent, j]].T)
    for j, key in enumerate(NUMERIC_KEYS):
        if key in spec.numeric_keys and key != "hour":
            log_post += -0.5 * (raw[:, j][:, None] - means[key][None, :]) ** 2
    posterior = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    posterior /= posterior.sum(axis=1, keepdims=True)
    expected = np.zeros_like(p)
    for s in range(n_seg):
        expected += posterior[r_flat, s] * _sigmoid(shared + model.segment[phase[r_flat], s, c_flat])
    order = np.lexsort((-expected, r_flat))
    observable_best = order[offset[:-1]]

    return Stream(
        spec=spec,
        seed=seed,
        n_requests=n_requests,
        creatives=creatives,
        product_ids=product_ids,
        product_start=start,
        product_size=sizes,
        arrival=arrival,
        product=product,
        user=user.astype(np.int64),
        segment=segment.astype(np.int64),
        categorical_codes=codes,
        numeric_values=numeric,
        uniform=uniform,
        delay=delay,
        p=p,
        offset=offset,
        observable_best=observable_best.astype(np.int64),
        drift_at=drift_at,
        drift_segment=0 if drift_at is not None else -1,
    )


def _sigmoid(x: Floats) -> Floats:
    result: Floats = 1.0 / (1.0 + np.exp(-x))
    return result


def _draw_rows(rng: np.random.Generator, table: Floats, rows: Ints) -> Ints:
    """One category per entry of `rows`, drawn from `table[row]` (inverse CDF, vectorised)."""
    cdf = np.cumsum(table, axis=1)
    u = rng.random(len(rows))
    result: Ints = np.minimum((u[:, None] > cdf[rows]).sum(axis=1), table.shape[1] - 1).astype(np.int64)
    return result


def _numeric_value(key: str, raw: Floats) -> Floats:
    """What the caller sends for a numeric key, from its latent normal value."""
    if key == "session_depth":
        return np.exp(0.6 * raw + 1.0)
    if key == "session_minutes":
        return np.exp(0.8 * raw + 2.0)
    if key == "recent_clicks":
        return np.exp(0.7 * raw)
    return raw


def _draw_products(
    rng: np.random.Generator, spec: WorldSpec, n_requests: int, popularity: Floats, arrival: Ints
) -> Ints:
    """The product of every request: live products, by popularity, new ones boosted a while."""
    boost_len = int(spec.boost_fraction * n_requests)
    breaks = sorted({0, n_requests, *arrival.tolist(), *(arrival + boost_len).tolist()})
    breaks = [b for b in breaks if 0 <= b <= n_requests]
    out = np.zeros(n_requests, dtype=np.int64)
    for lo, hi in itertools.pairwise(breaks):
        if hi <= lo:
            continue
        live = arrival <= lo
        weight = popularity * live
        boosted = live & (lo < arrival + boost_len) & (arrival > 0)
        weight = np.where(boosted, weight * spec.new_product_boost, weight)
        out[lo:hi] = rng.choice(len(popularity), hi - lo, p=weight / weight.sum())
    return out


@dataclass
class _ClickModel:
    base: Floats  # (creatives,)
    segment: Floats  # (phases, segments, creatives)
    device: Floats  # (devices, creatives)
    placement: Floats  # (placements, creatives)
    daypart: Floats  # (dayparts, creatives)


def _click_model(
    spec: WorldSpec, rng: np.random.Generator, cat: _Catalogue, product_category: Ints, creatives_total: int
) -> _ClickModel:
    effect_codes = _effect_codes(spec, cat)
    creative_category = product_category[cat.product]
    base = np.full(creatives_total, spec.base_logit)
    base += rng.normal(0.0, spec.product_sd, spec.n_products)[cat.product]
    for kind in spec.global_kinds:
        codes, levels = effect_codes[kind]
        base += rng.normal(0.0, spec.global_sd, levels)[codes]
    for kind in spec.category_kinds:
        codes, levels = effect_codes[kind]
        base += rng.normal(0.0, spec.category_sd, (spec.n_categories, levels))[creative_category, codes]
    base += spec.aesthetic_coef * cat.quality
    optimum = rng.uniform(0.1, 0.4, spec.n_categories)
    base -= spec.text_ratio_coef * ((cat.text_ratio - optimum[creative_category]) / 0.15) ** 2
    base += rng.normal(0.0, spec.quirk_sd, creatives_total)

    phases = 2 if spec.drift_at is not None else 1
    segment = np.zeros((phases, spec.n_segments, creatives_total))
    for phase in range(phases):
        # Phase 1 re-draws the drifting segment (0, the largest) and keeps the others.
        draws = range(spec.n_segments) if phase == 0 else range(1)
        if phase == 1:
            segment[1] = segment[0]
        for s in draws:
            effect = np.zeros(creatives_total)
            for kind in spec.segment_kinds:
                codes, levels = effect_codes[kind]
                effect += rng.normal(0.0, spec.segment_sd, levels)[codes]
            if spec.style_sd > 0:
                taste = rng.normal(0.0, 1.0, spec.style_dim)
                effect += spec.style_sd * (cat.z @ taste) / np.sqrt(spec.style_dim)
            segment[phase, s] = effect

    size_codes = cat.codes["size"]
    n_dev = len(_CATEGORICAL_VALUES["device"])
    device = rng.normal(0.0, spec.device_size_sd, (n_dev, len(SIZES)))[:, size_codes]
    n_pl = len(_CATEGORICAL_VALUES["placement"])
    template_codes, template_levels = effect_codes["template"]
    placement = rng.normal(0.0, spec.placement_template_sd, (n_pl, template_levels))[:, template_codes]
    n_dp = len(_CATEGORICAL_VALUES["daypart"])
    colour_codes, colour_levels = effect_codes["colour" if spec.catalogue == "grid" else "background_kind"]
    daypart = rng.normal(0.0, spec.daypart_colour_sd, (n_dp, colour_levels))[:, colour_codes]
    return _ClickModel(base, segment, device, placement, daypart)


def _creative_messages(
    spec: WorldSpec, rng: np.random.Generator, cat: _Catalogue, product_category: Ints
) -> list[common_pb2.Creative]:
    names = _element_names(spec)
    n = len(cat.product)
    visual = [kind for kind in names if kind != "size"]
    spread = 1.0 / np.sqrt(len(visual))
    look = {kind: rng.normal(0.0, spread, (len(names[kind]), spec.image_dim)) for kind in visual}
    mix = rng.normal(0.0, 1.0 / np.sqrt(spec.style_dim), (spec.style_dim, spec.image_dim))
    image = cat.z @ mix + rng.normal(0.0, spec.image_noise, (n, spec.image_dim))
    for kind in visual:
        image += look[kind][cat.codes[kind]]
    style_vectors = rng.normal(0.0, 1.0 / np.sqrt(2.0), (len(COPY_STYLES), spec.copy_dim))
    copy_vectors = style_vectors[_copy_styles(cat)] + rng.normal(0.0, 0.4, (cat.n_copies, spec.copy_dim))
    aesthetic = np.clip(50.0 + 15.0 * (cat.quality + rng.normal(0.0, 0.7, n)), 0.0, 100.0)
    creatives = []
    for i in range(n):
        p = int(cat.product[i])
        product_id = f"{spec.name}-p{p:04d}"
        elements = {kind: names[kind][int(cat.codes[kind][i])] for kind in names}
        elements["copy"] = f"{product_id}-copy-{int(cat.codes['copy'][i])}"
        _, width, height = SIZES[int(cat.codes["size"][i])]
        creatives.append(
            common_pb2.Creative(
                creative_id=f"{product_id}-c{i:05d}",
                product_id=product_id,
                product_version=1,
                format=IMAGE,
                template_id=elements["template"],
                width=width,
                height=height,
                elements=elements,
                numeric_attributes={
                    "aesthetic_score": round(float(aesthetic[i]), 2),
                    "text_ratio": round(float(cat.text_ratio[i]), 4),
                    "has_person": float(cat.has_person[i]),
                    "price_tag": float(cat.price_tag[i]),
                },
                image_embedding=common_pb2.Embedding(model=IMAGE_MODEL, values=image[i].tolist()),
                copy_embedding=common_pb2.Embedding(
                    model=COPY_MODEL, values=copy_vectors[int(cat.codes["copy"][i])].tolist()
                ),
                category=CATEGORIES[int(product_category[p])],
            )
        )
    return creatives


def _copy_styles(cat: _Catalogue) -> Ints:
    """The style of every copy id (copies without a creative get style 0)."""
    styles = np.zeros(cat.n_copies, dtype=np.int64)
    styles[cat.codes["copy"]] = cat.copy_style
    return styles
