"""One shared click model for every creative, explored by inverse-gap weighting: ``policy = "shared"``.

`SharedModelPolicy` learns a Bayesian logistic regression of click on crossed features, online
from every outcome, and chooses with SquareCB's inverse-gap weighting (Foster & Rakhlin 2020)
over the model's logits. Every choice's probability has a closed form, so the propensity it
reports is exact.

**Features** (vocabularies grow as values appear; nothing is hashed, nothing collides):

- request side ψ(x): a bias, one token per categorical feature (``device=mobile``), per numeric
  feature its standardised signed log and its quintile bin, and ``anonymous`` for requests
  without a user id (`ranking.schema.request_features`: the typed features plus the string
  context);
- creative side φ(a): a bias, one-hot element ids of every kind with at most `max_cross_values`
  values (template, background, layout, colour, size...), numeric attributes (standardised signed
  log and quintile bin), standardised image and copy embeddings;
- per creative: its id, its product and the element ids of kinds with more values (per-product
  ids such as copy ids) as plain effects.

**Model**: logit P(click) = Σ_j ψ_j(x) W[j]·φ(a) + W[category(a)]·φ(a) + Σ_k b_k(a). Row
``bias`` of W holds the global effect of every creative feature (shared by every creative built
from an element, and by a new creative from its first request), the other request rows how each
request feature shifts them (segment x element, device x size, ...), the category rows how each
category does; b holds per-creative, per-product and per-copy effects. Weights have independent
Gaussian posteriors N(m, v). An outcome updates all weights it touches at once by
assumed-density filtering (adPredictor's scheme with a logistic link): the score s = xᵀw has
prior N(μ, σ²); its posterior under the click is found by a 1-d Laplace step and projected back
on the weights (m += v⊙x (μ' − μ)/σ², v −= (v⊙x)² (σ² − σ'²)/σ⁴). A weight's variance never
falls below `variance_floor` times its prior, so old evidence never freezes it and changed
tastes are relearnt. Prior variances are learnt per kind of weight (empirical Bayes, see
`SharedModel`), so no world's effect sizes are built in.

**Exploration**: for the best mean logit s_b, candidate a ≠ b gets
p_a = 1 / (K + γ · (s_b − s_a)) and b the rest (p_b ≥ 1/K): a candidate the model cannot tell
from the best is explored like a coin flip among K, one it finds worse by a logit gap g gets
about 1/(γ g). With `optimism` β > 0 the gaps shrink by β times each candidate's posterior
standard deviation (off by default: the diagonal posterior is too wide for it to pay, on the
bench). `pull` samples from exactly these probabilities and reports the chosen one's.

Cost: a creative is encoded once (its dense row kept); a `pull` is one gather of the candidates'
rows and two small matrix products, no loop over candidates. Graepel et al. (2010), Web-scale
Bayesian click-through rate prediction (adPredictor); Foster & Rakhlin (2020), Beyond UCB:
optimal and efficient contextual bandits with regression oracles (SquareCB).

>>> from creativeloop.v1 import common_pb2, events_pb2
>>> index = CreativeIndex()
>>> for cid, colour in (("a", "red"), ("b", "blue")):
...     creative = common_pb2.Creative(creative_id=cid, product_id="p", elements={"colour": colour})
...     index.apply(cid, events_pb2.CreativeUpdated(creative=creative))
>>> policy = SharedModelPolicy(index, seed=0)
>>> for n in range(3000):
...     chosen = ("a", "b")[n % 2]
...     clicked = chosen == "b" and n % 10 == 1
...     policy.update(events_pb2.Impression(impression_id=str(n), creative_id=chosen), clicked)
>>> decision = policy.pull(["a", "b"])
>>> probabilities = policy.probabilities(["a", "b"])
>>> decision.index, round(float(probabilities.sum()), 6), bool(probabilities[1] > 0.9)
(1, 1.0, True)
>>> bool(decision.propensity == probabilities[decision.index])
True
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.model import ModelHolder
from creativeloop.ranking.policies.base import Decision, Floats, Policy, check_slots
from creativeloop.ranking.schema import request_features
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import common_pb2, events_pb2

SHARED_VERSION = "shared-igw-v1"

Ints = npt.NDArray[np.int64]


class CreativeLookup(Protocol):
    """Where the policy finds a creative's features by id (ranking's `FeatureStore` is one)."""

    def creative(self, creative_id: str) -> common_pb2.Creative | None: ...


class CreativeIndex:
    """A plain creative lookup fed by the `creatives` topic (`apply`), for use without a FeatureStore."""

    def __init__(self) -> None:
        self._creatives: dict[str, common_pb2.Creative] = {}

    def apply(self, _key: str, event: events_pb2.CreativeUpdated) -> None:
        self._creatives[event.creative.creative_id] = event.creative

    def creative(self, creative_id: str) -> common_pb2.Creative | None:
        return self._creatives.get(creative_id)


def signed_log(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


class _Scaler:
    """Running mean and spread of one numeric input (Welford), frozen with its quintile edges after
    `freeze_after` values."""

    def __init__(self, freeze_after: int) -> None:
        self.freeze_after = freeze_after
        self.values: list[float] = []
        self.count = 0
        self.mean = 0.0
        self._m2 = 0.0
        self.edges: list[float] | None = None

    @property
    def frozen(self) -> bool:
        return self.edges is not None

    def observe(self, value: float) -> None:
        if self.edges is not None:
            return
        self.values.append(value)
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (value - self.mean)
        if self.count >= self.freeze_after:
            self.edges = np.unique(np.quantile(np.asarray(self.values), [0.2, 0.4, 0.6, 0.8])).tolist()
            self.values = []

    @property
    def scale(self) -> float:
        return math.sqrt(self._m2 / self.count) if self.count > 1 and self._m2 > 0 else 1.0

    def standard(self, value: float) -> float:
        return max(-4.0, min(4.0, (value - self.mean) / self.scale))

    def bin(self, value: float) -> int | None:
        return None if self.edges is None else bisect.bisect_right(self.edges, value)


class _VectorScaler:
    """`_Scaler` for every dimension of an embedding at once (no bins)."""

    def __init__(self, size: int, freeze_after: int) -> None:
        self.freeze_after = freeze_after
        self.count = 0
        self.mean = np.zeros(size)
        self._m2 = np.zeros(size)
        self.frozen = False

    def observe(self, value: Floats) -> None:
        if self.frozen:
            return
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (value - self.mean)
        self.frozen = self.count >= self.freeze_after

    def standard(self, value: Floats) -> Floats:
        scale = np.sqrt(self._m2 / self.count) if self.count > 1 else np.ones_like(self.mean)
        scale[scale <= 0] = 1.0
        result: Floats = np.clip((value - self.mean) / scale, -4.0, 4.0)
        return result


@dataclass
class _Encoded:
    """One creative as the model sees it (for the vocabularies' `version`); its dense row of
    creative features is row `row` of the model's creative matrix."""

    version: int
    row: int
    columns: Ints
    values: Floats
    main: list[int]
    category_row: int


@dataclass
class _CandidateSet:
    """One candidate list's rows (cached: a product's creatives come back together)."""

    version: int
    rows: Ints  # K rows of the creative matrix
    main: Ints  # K x L indices into the per-creative weights (0 = padding)
    category_rows: Ints  # K
    #: The one category row every candidate has (the usual case: one product), else -1.
    category: int


class _Vocabulary:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.tokens: list[str] = []

    def get(self, token: str) -> int | None:
        return self.index.get(token)

    def add(self, token: str) -> tuple[int, bool]:
        found = self.index.get(token)
        if found is not None:
            return found, False
        self.index[token] = len(self.tokens)
        self.tokens.append(token)
        return len(self.tokens) - 1, True

    def __len__(self) -> int:
        return len(self.tokens)


#: Kinds of rows of W (request side), of columns (creative side) and of per-creative effects.
ROW_KINDS = ("bias", "category", "context", "pair")
COLUMN_KINDS = ("bias", "element", "numeric", "image", "copy")
EFFECT_KINDS = ("padding", "creative", "product", "element")
CONTEXT, PAIR = ROW_KINDS.index("context"), ROW_KINDS.index("pair")
ELEMENT, NUMERIC = COLUMN_KINDS.index("element"), COLUMN_KINDS.index("numeric")


class SharedModel:
    """The Bayesian crossed logistic model (see the module doc): encoding, scoring, learning.

    Prior variances are kept per block (kind of row x kind of column of W; kind of effect of b)
    and re-estimated from the posteriors every `empirical_bayes_every` outcomes (the EM step of a
    Gaussian prior's variance: the mean of m² + v over the block's weights that have data), so the
    scale of each kind of effect is learnt, not tuned; the initial values are the products of the
    row factors (``prior_global`` for the bias row, ``prior_category``, ``prior_context`` for
    request features, ``prior_pair`` for pairs of categorical features, off at 0) and the column
    factors (``column_*``; an embedding's factor is its whole vector's, spread over its
    dimensions). ``prior_creative``, ``prior_product`` and ``prior_element`` start the per-creative
    effects, ``prior_bias`` and ``initial_ctr`` the intercept.

    Numeric inputs are standardised with the first `freeze_after` values seen (then frozen, with
    quintile edges); an element kind with more than `max_cross_values` values is not crossed.
    `cache_size` bounds the cached candidate lists and request encodings.
    """

    def __init__(
        self,
        creatives: CreativeLookup,
        prior_global: float = 1.0,
        prior_context: float = 0.03,
        prior_category: float = 0.1,
        prior_pair: float = 0.0,
        prior_creative: float = 0.1,
        prior_product: float = 0.1,
        prior_element: float = 0.1,
        prior_bias: float = 4.0,
        column_bias: float = 0.25,
        column_element: float = 0.05,
        column_numeric: float = 0.03,
        column_embedding: float = 0.25,
        initial_ctr: float = 0.02,
        variance_floor: float = 0.1,
        empirical_bayes_every: int = 300,
        max_cross_values: int = 64,
        freeze_after: int = 500,
        cache_size: int = 100_000,
    ) -> None:
        self.creatives = creatives
        self.prior_pair = prior_pair
        self.column_embedding = column_embedding
        self.variance_floor = variance_floor
        self.empirical_bayes_every = empirical_bayes_every
        self.max_cross_values = max_cross_values
        self.freeze_after = freeze_after
        self.cache_size = cache_size
        rows = np.array([prior_global, prior_category, prior_context, prior_pair])
        columns = np.array([column_bias, column_element, column_numeric, column_embedding, column_embedding])
        #: Prior variance per (row kind, column kind); embedding columns per dimension (set on first use).
        self.block_prior = np.outer(rows, columns)
        self._embedding_set = [False] * len(COLUMN_KINDS)
        self.effect_prior = np.array([0.0, prior_creative, prior_product, prior_element])
        # W: rows = request tokens and categories, columns = creative features.
        self.rows = _Vocabulary()
        self.columns = _Vocabulary()
        self._row_kind: list[int] = []
        self._column_kind: list[int] = []
        self._w_mean = np.zeros((64, 64))
        self._w_var = np.zeros((64, 64))
        self._w_prior = np.zeros((64, 64))
        # b: per creative, product and high-cardinality element; entry 0 is padding.
        self.effects = _Vocabulary()
        self._effect_kind: list[int] = []
        self._b_mean = np.zeros(1024)
        self._b_var = np.zeros(1024)
        self._b_prior = np.zeros(1024)
        self._effect("", 0)
        self.prior_bias = prior_bias
        self._row("bias", 0)
        self._column("bias", 0)  # W[0, 0] is the intercept, with its own prior
        self._w_mean[0, 0] = math.log(initial_ctr / (1.0 - initial_ctr))
        self._kind_values: dict[str, set[str]] = {}
        self._uncrossed: set[str] = set()
        self._scalers: dict[str, _Scaler] = {}
        self._vector_scalers: dict[tuple[str, str, int], tuple[_VectorScaler, Ints]] = {}
        #: Scales frozen so far (a freeze re-encodes every creative with the frozen scale).
        self._freezes = 0
        #: One dense row of creative features per creative ever encoded.
        self._x = np.zeros((256, 64))
        self._x_rows: dict[str, int] = {}
        self._version = 0
        self._encoded: dict[str, _Encoded] = {}
        self._sets: dict[tuple[str, ...], _CandidateSet] = {}
        self._requests: dict[tuple[object, ...], list[int]] = {}
        self.updates = 0

    # ------------------------------------------------------------------ vocabularies and priors

    def _row(self, token: str, kind: int) -> int:
        index, new = self.rows.add(token)
        if new:
            self._row_kind.append(kind)
            if index >= self._w_mean.shape[0]:
                self._grow(rows=2 * self._w_mean.shape[0])
            self._init_prior(slice(index, index + 1), slice(0, len(self.columns)))
        return index

    def _column(self, token: str, kind: int, dimensions: int = 1) -> int:
        index, new = self.columns.add(token)
        if new:
            if kind >= COLUMN_KINDS.index("image") and not self._embedding_set[kind]:
                self.block_prior[:, kind] /= dimensions  # the vector's total, spread over its dimensions
                self._embedding_set[kind] = True
            self._column_kind.append(kind)
            if index >= self._w_mean.shape[1]:
                self._grow(columns=2 * self._w_mean.shape[1])
                grown = np.zeros((self._x.shape[0], self._w_mean.shape[1]))
                grown[:, : self._x.shape[1]] = self._x
                self._x = grown
            self._init_prior(slice(0, len(self.rows)), slice(index, index + 1))
        return index

    def _init_prior(self, rows: slice, columns: slice) -> None:
        kinds = np.ix_(self._row_kind[rows], self._column_kind[columns])
        prior = self.block_prior[kinds]
        if rows.start == 0 and columns.start == 0 and prior.size:
            prior[0, 0] = self.prior_bias
        self._w_var[rows, columns] = prior
        self._w_prior[rows, columns] = prior

    def _grow(self, rows: int | None = None, columns: int | None = None) -> None:
        r = rows or self._w_mean.shape[0]
        c = columns or self._w_mean.shape[1]
        for name in ("_w_mean", "_w_var", "_w_prior"):
            old = getattr(self, name)
            new = np.zeros((r, c))
            new[: old.shape[0], : old.shape[1]] = old
            setattr(self, name, new)

    def _effect(self, token: str, kind: int) -> int:
        index, new = self.effects.add(token)
        if new:
            self._effect_kind.append(kind)
            if index >= len(self._b_mean):
                size = 2 * len(self._b_mean)
                for name in ("_b_mean", "_b_var", "_b_prior"):
                    old = getattr(self, name)
                    grown = np.zeros(size)
                    grown[: len(old)] = old
                    setattr(self, name, grown)
            prior = self.effect_prior[kind]
            self._b_var[index] = prior
            self._b_prior[index] = prior
        return index

    def empirical_bayes(self, minimum: int = 5, low: float = 1e-5, high: float = 1.0) -> None:
        """Re-estimate every block's prior variance from its weights' posteriors, and move the
        posteriors to the new prior (their data part unchanged)."""
        r, c = len(self.rows), len(self.columns)
        block = np.add.outer(np.array(self._row_kind) * len(COLUMN_KINDS), np.array(self._column_kind))
        mean, var, prior = self._w_mean[:r, :c], self._w_var[:r, :c], self._w_prior[:r, :c]
        has_data = var < 0.95 * prior
        has_data[0, 0] = False
        new = _em_variance(block, mean, var, has_data, self.block_prior.ravel(), minimum, low, high)
        self.block_prior = new.reshape(self.block_prior.shape)
        target = new[block]
        target[0, 0] = prior[0, 0]
        self._w_mean[:r, :c], self._w_var[:r, :c] = _reprior(mean, var, prior, target)
        self._w_prior[:r, :c] = target
        n = len(self.effects)
        kinds = np.array(self._effect_kind)
        mean_b, var_b, prior_b = self._b_mean[:n], self._b_var[:n], self._b_prior[:n]
        has_data_b = var_b < 0.95 * prior_b
        new_b = _em_variance(kinds, mean_b, var_b, has_data_b, self.effect_prior, minimum, low, high)
        new_b[0] = 0.0
        self.effect_prior = new_b
        target_b = new_b[kinds]
        self._b_mean[1:n], self._b_var[1:n] = _reprior(mean_b[1:], var_b[1:], prior_b[1:], target_b[1:])
        self._b_prior[:n] = target_b

    def _scaler(self, name: str) -> _Scaler:
        scaler = self._scalers.get(name)
        if scaler is None:
            scaler = self._scalers[name] = _Scaler(self.freeze_after)
        return scaler

    def _numeric(self, name: str, value: float, observe: bool) -> list[tuple[str, float]]:
        """(token, value) for one numeric input: its standardised signed log and its quintile bin."""
        scaler = self._scaler(name)
        x = signed_log(value)
        if observe and not scaler.frozen:
            scaler.observe(x)
            self._freezes += scaler.frozen
        tokens = [(name, scaler.standard(x))]
        b = scaler.bin(x)
        if b is not None:
            tokens.append((f"{name}#q{b}", 1.0))
        return tokens

    # ------------------------------------------------------------------ encoding

    def encode_creative(self, creative_id: str) -> _Encoded:
        cached = self._encoded.get(creative_id)
        if cached is not None and cached.version == self._version:
            return cached
        creative = self.creatives.creative(creative_id)
        if creative is None:
            creative = common_pb2.Creative(creative_id=creative_id)
        first = cached is None
        freezes = self._freezes
        for kind, value in creative.elements.items():
            seen = self._kind_values.setdefault(kind, set())
            if kind not in self._uncrossed and value not in seen:
                seen.add(value)
                if len(seen) > self.max_cross_values:
                    self._uncrossed.add(kind)
                    self._version += 1
        cross: list[tuple[str, float, int]] = [("bias", 1.0, 0)]
        main = [
            self._effect(f"creative={creative_id}", EFFECT_KINDS.index("creative")),
            self._effect(f"product={creative.product_id}", EFFECT_KINDS.index("product")),
        ]
        for kind, value in sorted(creative.elements.items()):
            if kind in self._uncrossed:
                main.append(self._effect(f"{kind}={value}", EFFECT_KINDS.index("element")))
            else:
                cross.append((f"{kind}={value}", 1.0, ELEMENT))
        for attribute, number in sorted(creative.numeric_attributes.items()):
            numeric = self._numeric(f"a:{attribute}", number, observe=first)
            cross += [(t, v, NUMERIC) for t, v in numeric]
        columns = [self._column(t, k) for t, _, k in cross]
        values = [v for _, v, _ in cross]
        for label, embedding in (("image", creative.image_embedding), ("copy", creative.copy_embedding)):
            if not embedding.values:
                continue
            vector = np.asarray(embedding.values, dtype=np.float64)
            scaler, embedding_columns = self._embedding(label, embedding.model, len(vector))
            if first and not scaler.frozen:
                scaler.observe(vector)
                self._freezes += scaler.frozen
            columns += embedding_columns.tolist()
            values += scaler.standard(vector).tolist()
        if self._freezes != freezes:
            self._version += 1  # a scale froze: every creative is encoded again with it
        row = self._x_rows.get(creative_id)
        if row is None:
            row = self._x_rows[creative_id] = len(self._x_rows)
            if row >= self._x.shape[0]:
                grown = np.zeros((2 * self._x.shape[0], self._x.shape[1]))
                grown[: self._x.shape[0]] = self._x
                self._x = grown
        encoded = _Encoded(
            version=self._version,
            row=row,
            columns=np.array(columns, dtype=np.int64),
            values=np.array(values),
            main=main,
            category_row=self._row(f"category={creative.category}", ROW_KINDS.index("category")),
        )
        self._x[row] = 0.0
        self._x[row, encoded.columns] = encoded.values
        self._encoded[creative_id] = encoded
        return encoded

    def _embedding(self, label: str, model: str, size: int) -> tuple[_VectorScaler, Ints]:
        key = (label, model, size)
        found = self._vector_scalers.get(key)
        if found is None:
            kind = COLUMN_KINDS.index(label)
            columns = [self._column(f"{label}:{model}:{size}:{j}", kind, size) for j in range(size)]
            found = self._vector_scalers[key] = (
                _VectorScaler(size, self.freeze_after),
                np.array(columns, dtype=np.int64),
            )
        return found

    def encode_request(
        self,
        user_id: str,
        context: Mapping[str, str] | None,
        features: common_pb2.RequestFeatures | None,
        learn_scale: bool,
    ) -> tuple[list[int], list[float]]:
        """Rows of W the request switches on, and their values ψ."""
        categorical, numeric = request_features(context, features)
        key = (*sorted(categorical.items()), not user_id)
        cached = self._requests.get(key)
        if cached is None:
            pairs = sorted(categorical.items())
            tokens = ["bias", *(f"{k}={v}" for k, v in pairs)]
            if self.prior_pair > 0:
                tokens += [
                    f"{k1}={v1}&{k2}={v2}" for i, (k1, v1) in enumerate(pairs) for k2, v2 in pairs[i + 1 :]
                ]
            if not user_id:
                tokens.append("anonymous")
            cached = self._requests[key] = [self._row(t, PAIR if "&" in t else CONTEXT) for t in tokens]
            if len(self._requests) > self.cache_size:
                self._requests.clear()
        rows = list(cached)
        psi = [1.0] * len(rows)
        for name, value in sorted(numeric.items()):
            for token, x in self._numeric(f"r:{name}", value, observe=learn_scale):
                rows.append(self._row(token, CONTEXT))
                psi.append(x)
        return rows, psi

    def candidate_set(self, candidates: Sequence[str]) -> _CandidateSet:
        key = tuple(candidates)
        cached = self._sets.get(key)
        if cached is not None and cached.version == self._version:
            return cached
        encoded = [self.encode_creative(c) for c in candidates]
        if any(e.version != self._version for e in encoded):  # a vocabulary changed midway
            encoded = [self.encode_creative(c) for c in candidates]
        longest = max(len(e.main) for e in encoded)
        main = np.zeros((len(candidates), longest), dtype=np.int64)
        for i, e in enumerate(encoded):
            main[i, : len(e.main)] = e.main
        rows = np.array([e.category_row for e in encoded], dtype=np.int64)
        single = int(rows[0]) if np.all(rows == rows[0]) else -1
        built = _CandidateSet(self._version, np.array([e.row for e in encoded]), main, rows, single)
        if len(self._sets) >= self.cache_size:
            self._sets.clear()
        self._sets[key] = built
        return built

    # ------------------------------------------------------------------ scoring and learning

    def scores(
        self, rows: list[int], psi: list[float], candidates: _CandidateSet, variance: bool = True
    ) -> tuple[Floats, Floats | None]:
        """Posterior mean (and, if `variance`, variance) of each candidate's logit."""
        width = len(self.columns)
        x = self._x[candidates.rows, :width]
        single = candidates.category >= 0
        if single:
            rows = [*rows, candidates.category]
            psi = [*psi, 1.0]
        r = np.array(rows)
        v = np.array(psi)
        mean = x @ (v @ self._w_mean[r, :width])
        mean += self._b_mean[candidates.main].sum(axis=1)
        if not single:
            mean += np.einsum("kd,kd->k", x, self._w_mean[candidates.category_rows, :width])
        if not variance:
            return mean, None
        x2 = x * x
        var = x2 @ ((v * v) @ self._w_var[r, :width])
        var += self._b_var[candidates.main].sum(axis=1)
        if not single:
            var += np.einsum("kd,kd->k", x2, self._w_var[candidates.category_rows, :width])
        return mean, var

    def learn(self, rows: list[int], psi: list[float], creative_id: str, clicked: bool) -> None:
        """One outcome: assumed-density filtering of all the weights it touches (module doc)."""
        encoded = self.encode_creative(creative_id)
        columns, x = encoded.columns, encoded.values
        all_rows = np.array([*rows, encoded.category_row], dtype=np.int64)
        all_psi = np.array([*psi, 1.0])
        if len(np.unique(all_rows)) != len(all_rows):  # a category token also sent as a feature
            all_rows, first = np.unique(all_rows, return_index=True)
            all_psi = all_psi[first]
        grid = np.ix_(all_rows, columns)
        z = np.outer(all_psi, x)  # the inputs of the touched W entries
        main = np.array(encoded.main, dtype=np.int64)
        w_var = self._w_var[grid]
        b_var = self._b_var[main]
        mu = float((z * self._w_mean[grid]).sum() + self._b_mean[main].sum())
        sigma2 = float((z * z * w_var).sum() + b_var.sum())
        post_mu, post_sigma2 = _laplace_1d(mu, sigma2, clicked)
        shift = (post_mu - mu) / sigma2
        shrink = (sigma2 - post_sigma2) / (sigma2 * sigma2)
        vz = w_var * z
        self._w_mean[grid] += vz * shift
        floor = self.variance_floor
        self._w_var[grid] = np.maximum(w_var - vz * vz * shrink, floor * self._w_prior[grid] + 1e-12)
        self._b_mean[main] += b_var * shift
        self._b_var[main] = np.maximum(b_var - b_var * b_var * shrink, floor * self._b_prior[main] + 1e-12)
        self.updates += 1
        if self.empirical_bayes_every and self.updates % self.empirical_bayes_every == 0:
            self.empirical_bayes()


def _em_variance(
    block: Ints,
    mean: Floats,
    var: Floats,
    has_data: npt.NDArray[np.bool_],
    current: Floats,
    minimum: int,
    low: float,
    high: float,
) -> Floats:
    """Per block: the mean of m² + v over its weights with data (where at least `minimum`)."""
    size = len(current)
    counts = np.bincount(block[has_data], minlength=size)
    sums = np.bincount(block[has_data], weights=(mean * mean + var)[has_data], minlength=size)
    new = current.copy()
    ok = counts >= minimum
    new[ok] = np.clip(sums[ok] / counts[ok], low, high)
    return new


def _reprior(mean: Floats, var: Floats, prior: Floats, target: Floats) -> tuple[Floats, Floats]:
    """Posteriors under prior variance `target` instead of `prior`, with the same data."""
    precision = 1.0 / var
    data = np.maximum(precision - 1.0 / prior, 0.0)
    new_precision = data + 1.0 / target
    return mean * precision / new_precision, 1.0 / new_precision


def _laplace_1d(mu: float, sigma2: float, clicked: bool) -> tuple[float, float]:
    """Mean and variance of the Laplace approximation to N(s; mu, sigma2) · P(click = y | s)."""
    y = 1.0 if clicked else 0.0
    s = mu
    for _ in range(4):
        p = 1.0 / (1.0 + math.exp(-s))
        gradient = y - p - (s - mu) / sigma2
        curvature = p * (1.0 - p) + 1.0 / sigma2
        s += gradient / curvature
    p = 1.0 / (1.0 + math.exp(-s))
    return s, 1.0 / (p * (1.0 - p) + 1.0 / sigma2)


def inverse_gap_weights(mean: Floats, std: Floats | None, gamma: float, optimism: float = 0.0) -> Floats:
    """SquareCB's inverse-gap weighting on logits, the gaps narrowed by `optimism` · std.

    >>> inverse_gap_weights(np.array([0.0, -1.0, -1.0]), None, gamma=8.0).tolist()
    [0.8181818181818181, 0.09090909090909091, 0.09090909090909091]
    """
    k = len(mean)
    best = int(mean.argmax())
    gap = mean[best] - mean
    if optimism > 0 and std is not None:
        gap = np.maximum(gap - optimism * std, 0.0)
    p: Floats = 1.0 / (k + gamma * gap)
    p[best] = 0.0
    p[best] = 1.0 - p.sum()
    return p


class SharedModelPolicy(Policy):
    """The shared crossed model with optimistic inverse-gap weighting (module doc).

    `creatives` is where creative features come from by id: in serving the `FeatureStore` that
    ranking's `creatives` feed fills (or a `CreativeIndex`). `update` learns one outcome; the
    request's features travel on the impression (`Impression.features` and `context`). In
    serving the ranking process joins `ad.impressions` and `ad.clicks` and calls `update`
    (`ranking.outcomes.OutcomeJoiner`, after `reward_wait_s` for a non-click).
    """

    needs_behaviour = False

    def __init__(
        self,
        creatives: CreativeLookup,
        gamma: float = 1600.0,
        optimism: float = 0.0,
        seed: int | None = None,
        slate_samples: int = 4000,
        **model: Any,
    ) -> None:
        self.model = SharedModel(creatives, **model)
        #: Sequential slates drawn to estimate the marginals of the slots after the first.
        self.slate_samples = slate_samples
        self.gamma = gamma
        self.optimism = optimism
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_settings(
        cls,
        settings: RankingSettings,
        stats: StatsBoard,
        features: FeatureStore,
        models: ModelHolder | None = None,
    ) -> SharedModelPolicy:
        return cls(features, seed=settings.seed, slate_samples=settings.propensity_samples)

    def _distribution(
        self,
        candidates: Sequence[str],
        user_id: str,
        context: Mapping[str, str] | None,
        features: common_pb2.RequestFeatures | None,
    ) -> Floats:
        if len(candidates) == 0:
            raise ValueError("no arms to choose from")
        if len(candidates) == 1:
            return np.ones(1)
        rows, psi = self.model.encode_request(user_id, context, features, learn_scale=False)
        optimistic = self.optimism > 0
        mean, var = self.model.scores(rows, psi, self.model.candidate_set(candidates), optimistic)
        std = np.sqrt(var) if var is not None else None
        return inverse_gap_weights(mean, std, self.gamma, self.optimism)

    def pull(
        self,
        candidates: Sequence[str],
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Decision:
        p = self._distribution(candidates, user_id, context, features)
        index = min(int(np.searchsorted(p.cumsum(), self._rng.random() * p.sum(), side="right")), len(p) - 1)
        while p[index] <= 0.0:  # never pick what has probability 0 (rounding at the end)
            index -= 1
        return Decision(index, float(p[index]), SHARED_VERSION)

    def probabilities(
        self,
        candidates: Sequence[str],
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Floats:
        return self._distribution(candidates, user_id, context, features)

    def slate_probabilities(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Floats:
        """P(candidate a fills slot k) when each slot is drawn in turn from the remaining
        candidates' inverse-gap weights: exact for one slot, Monte Carlo (`slate_samples` slates,
        the `propensity_samples` setting in serving) beyond."""
        n = len(candidates)
        check_slots(n, slots)
        first = self.probabilities(candidates, user_id, context, features=features)
        if slots == 1:
            return first[:, None]
        counts = self._sequential_counts(candidates, slots, user_id, context, features, self.slate_samples)
        counts[:, 0] = first * self.slate_samples
        result: Floats = counts / self.slate_samples
        return result

    def _sequential_counts(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str,
        context: Mapping[str, str] | None,
        features: common_pb2.RequestFeatures | None,
        draws: int,
        served: list[int] | None = None,
    ) -> Floats:
        """How often each candidate fills each slot over `draws` sequential slates (n x slots):
        each slot drawn from the remaining candidates' inverse-gap weights. If `served` is a list,
        the first slate is appended to it (the one served)."""
        n = len(candidates)
        rows, psi = self.model.encode_request(user_id, context, features, learn_scale=False)
        mean, var = self.model.scores(rows, psi, self.model.candidate_set(candidates), self.optimism > 0)
        std = np.sqrt(var) if var is not None else None
        counts = np.zeros((n, slots))
        for draw in range(draws):
            left = np.arange(n)
            for k in range(slots):
                p = inverse_gap_weights(
                    mean[left], std[left] if std is not None else None, self.gamma, self.optimism
                )
                pick = min(int(np.searchsorted(np.cumsum(p), self._rng.random(), side="right")), len(p) - 1)
                while p[pick] <= 0.0:  # never pick what has probability 0 (rounding at the end)
                    pick -= 1
                counts[left[pick], k] += 1
                if draw == 0 and served is not None:
                    served.append(int(left[pick]))
                left = np.delete(left, pick)
        return counts

    def pull_slate(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> list[Decision]:
        """Sequential inverse-gap draws: slot 0 from all candidates, each next slot from those left.

        Slot 0's propensity is exact (`probabilities`); the later slots' marginals P(candidate
        fills slot k) are estimated from `slate_samples` sequential slates, the served one among
        them (standard error at most 0.5/sqrt(`slate_samples`)).
        """
        n = len(candidates)
        check_slots(n, slots)
        if slots == 1 or n == 1:
            return [self.pull(candidates, user_id, context, features=features)]
        first = self.probabilities(candidates, user_id, context, features=features)
        served: list[int] = []
        counts = self._sequential_counts(
            candidates, slots, user_id, context, features, self.slate_samples, served
        )
        return [
            Decision(
                a, float(first[a]) if k == 0 else float(counts[a, k]) / self.slate_samples, SHARED_VERSION
            )
            for k, a in enumerate(served)
        ]

    def update(self, impression: events_pb2.Impression, clicked: bool) -> None:
        """Learn one outcome: the request's features come from the impression, the creative's
        from the lookup."""
        features = impression.features if impression.HasField("features") else None
        rows, psi = self.model.encode_request(
            impression.user_id, impression.context, features, learn_scale=True
        )
        self.model.learn(rows, psi, impression.creative_id, clicked)
