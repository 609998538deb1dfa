"""The policies a bench run compares, behind one small interface (`BenchPolicy`).

- `UniformPolicy`: a uniformly random candidate (propensity 1/K).
- `OraclePolicy`: the candidate with the best true click probability (knows everything), and
  `ObservableOraclePolicy`: the best expected click probability given what the request reveals
  (knows the click model, not the user's segment): the ceiling of any policy that learns.
- `RankingPolicy`: any ranking `Policy` (ranking's per-creative Beta Thompson sampling
  ``thompson``, and every other setting of `ranking.policies.POLICIES`) as Rank serves it:
  `pull` with the request's candidates, user id, string context and typed features; `update`
  with the logged `Impression` (features included) and whether it was clicked.
- `LinUCBPolicy` and `LinTSPolicy`: shared linear bandits (Li et al. 2010; Agrawal & Goyal 2013)
  over `LinearFeatures`, one ridge regression of click on z(request, creative).
- `VowpalWabbitPolicy`: Vowpal Wabbit ``--cb_explore_adf`` (epsilon-greedy or SquareCB) over the
  same information as text features (shared: the request's categorical and numeric features;
  per action: element ids, category, numeric attributes, both embeddings, the creative id; with
  request x creative interactions), learning from each outcome as it arrives.

Every policy learns only through `learn`, which the runner calls when an outcome arrives.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from creativeloop.evaluation.policy_bench.worlds import Request, Stream
from creativeloop.ranking.features import FeatureStore
from creativeloop.ranking.policies import POLICIES, Policy, build_policy
from creativeloop.ranking.schema import request_features
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import common_pb2, events_pb2

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BenchChoice:
    index: int
    #: P(the policy picks `index` for this request); NaN where a reference does not compute it.
    propensity: float


class BenchPolicy(Protocol):
    """What the runner drives: creatives going live, a choice per request, outcomes as they arrive."""

    name: str

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None: ...

    def choose(self, request: Request) -> BenchChoice: ...

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None: ...


def _seed(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


class UniformPolicy:
    """Every candidate with probability 1/K."""

    def __init__(self, seed: int, name: str = "uniform") -> None:
        self.name = name
        self._rng = _seed(name, seed)

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None:
        pass

    def choose(self, request: Request) -> BenchChoice:
        k = len(request.candidates)
        return BenchChoice(int(self._rng.integers(k)), 1.0 / k)

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        pass


class OraclePolicy:
    """The candidate with the best true click probability (it reads the stream's hidden truth)."""

    def __init__(self, stream: Stream, name: str = "oracle") -> None:
        self.name = name
        self._stream = stream

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None:
        pass

    def choose(self, request: Request) -> BenchChoice:
        return BenchChoice(int(np.argmax(self._stream.probabilities(request.n))), 1.0)

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        pass


class ObservableOraclePolicy(OraclePolicy):
    """Knows the click model and every parameter, but not the user's segment: it shows the best
    expected click probability given the request's features (the world's Bayes posterior)."""

    def __init__(self, stream: Stream, name: str = "oracle-observable") -> None:
        super().__init__(stream, name)

    def choose(self, request: Request) -> BenchChoice:
        stream = self._stream
        return BenchChoice(int(stream.observable_best[request.n] - stream.offset[request.n]), 1.0)


class RankingPolicy:
    """A ranking `Policy` as Rank serves it, its outcomes fed back as `update` would get them.

    New creatives reach the policy's creative lookup (`FeatureStore.apply_creative`, as
    ranking's `creatives` feed does in serving).
    """

    def __init__(self, policy: Policy, features: FeatureStore, name: str) -> None:
        self.name = name
        self.policy = policy
        self.features = features
        self._version = ""

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None:
        for creative in creatives:
            self.features.apply_creative(creative.creative_id, events_pb2.CreativeUpdated(creative=creative))

    def choose(self, request: Request) -> BenchChoice:
        decision = self.policy.pull(
            request.candidate_ids, request.user_id, request.context, features=request.features
        )
        self._version = decision.policy_version
        return BenchChoice(decision.index, decision.propensity)

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        impression = events_pb2.Impression(
            impression_id=f"imp-{request.n}",
            user_id=request.user_id,
            product_id=request.product_id,
            creative_id=request.candidates[choice.index].creative_id,
            propensity=choice.propensity,
            policy_version=self._version,
            context=request.context,
            features=request.features,
        )
        self.policy.update(impression, clicked)


def ranking_policy(kind: str, seed: int, name: str = "", **settings: object) -> RankingPolicy:
    """Ranking's policy `kind` (a `policy` setting) built by its factory, as serving builds it."""
    features = FeatureStore()
    config = RankingSettings.model_validate({"policy": kind, "seed": seed, **settings})
    return RankingPolicy(build_policy(config, StatsBoard(), features), features, name or kind)


# --------------------------------------------------------------------------- shared linear bandits


def signed_log(x: float) -> float:
    """sign(x) log(1 + |x|): numeric features of any scale on a common one."""
    return math.copysign(math.log1p(abs(x)), x)


class LinearFeatures:
    """z(request, creative) = [(P ψ) ⊗ (Q φ), φ] for the shared linear bandits.

    φ(creative): one-hot element ids (per kind, at most `max_values_per_kind` values: per-product
    ids such as copy ids go over it and are left out), one-hot category, numeric attributes
    (signed log), image and copy embeddings. ψ(request): a bias, one-hot categorical features and
    signed-log numeric features. Vocabularies grow as values appear (no hashing). A full-matrix
    bandit costs d² per request, so the request x creative cross goes through fixed Gaussian
    projections P (`context_dim` rows) and Q (`creative_dim` rows), whose columns are drawn when
    a vocabulary entry first appears; φ itself enters in full.
    """

    def __init__(
        self,
        seed: int,
        context_dim: int = 16,
        creative_dim: int = 16,
        max_values_per_kind: int = 32,
        capacity: int = 256,
    ) -> None:
        self.context_dim = context_dim
        self.creative_dim = creative_dim
        self.max_values_per_kind = max_values_per_kind
        self.capacity = capacity
        self._rng = np.random.default_rng([seed, 7])
        self._creative_vocab: dict[str, int] = {}
        self._values_per_kind: dict[str, int] = {}
        self._context_vocab: dict[str, int] = {"bias": 0}
        self._p = np.zeros((context_dim, capacity))
        self._q = np.zeros((creative_dim, capacity))
        self._p[:, 0] = self._rng.normal(0.0, 1.0 / math.sqrt(context_dim), context_dim)
        self._rows: dict[str, Floats] = {}

    @property
    def cross_dim(self) -> int:
        return self.context_dim * self.creative_dim

    @property
    def dim(self) -> int:
        """Width of z (the creative block is `capacity` wide; unused columns stay zero)."""
        return self.cross_dim + self.capacity

    def _creative_index(self, token: str, kind: str) -> int | None:
        index = self._creative_vocab.get(token)
        if index is not None:
            return index
        if self._values_per_kind.get(kind, 0) >= self.max_values_per_kind:
            return None
        if len(self._creative_vocab) >= self.capacity:
            return None
        index = len(self._creative_vocab)
        self._creative_vocab[token] = index
        self._values_per_kind[kind] = self._values_per_kind.get(kind, 0) + 1
        self._q[:, index] = self._rng.normal(0.0, 1.0 / math.sqrt(self.creative_dim), self.creative_dim)
        return index

    def creative_row(self, creative: common_pb2.Creative) -> Floats:
        """φ(creative), `capacity` wide (cached per creative id)."""
        row = self._rows.get(creative.creative_id)
        if row is not None:
            return row
        row = np.zeros(self.capacity)
        entries: list[tuple[str, str, float]] = [("category", f"category={creative.category}", 1.0)]
        entries += [(kind, f"{kind}={value}", 1.0) for kind, value in creative.elements.items()]
        entries += [(f"num:{k}", f"num:{k}", signed_log(v)) for k, v in creative.numeric_attributes.items()]
        for name, embedding in (("image", creative.image_embedding), ("copy", creative.copy_embedding)):
            entries += [(f"{name}:{j}", f"{name}:{j}", v) for j, v in enumerate(embedding.values)]
        for kind, token, value in entries:
            index = self._creative_index(token, kind)
            if index is not None:
                row[index] = value
        self._rows[creative.creative_id] = row
        return row

    def context_row(self, request: Request) -> Floats:
        """P ψ(request)."""
        categorical, numeric = request_features(request.context, request.features)
        psi = [(0, 1.0)]
        tokens = [(f"{k}={v}", 1.0) for k, v in categorical.items()]
        tokens += [(f"num:{k}", signed_log(v)) for k, v in numeric.items()]
        for token, value in tokens:
            index = self._context_vocab.get(token)
            if index is None:
                if len(self._context_vocab) >= self.capacity:
                    continue
                index = len(self._context_vocab)
                self._context_vocab[token] = index
                self._p[:, index] = self._rng.normal(0.0, 1.0 / math.sqrt(self.context_dim), self.context_dim)
            psi.append((index, value))
        indices = [i for i, _ in psi]
        values = np.array([v for _, v in psi])
        result: Floats = self._p[:, indices] @ values
        return result

    def matrix(self, request: Request) -> Floats:
        """z for every candidate of `request`: (K, dim)."""
        phi = np.stack([self.creative_row(c) for c in request.candidates])
        projected = phi @ self._q.T  # K x creative_dim
        cross = (self.context_row(request)[None, :, None] * projected[:, None, :]).reshape(len(phi), -1)
        result: Floats = np.hstack([cross, phi])
        return result


class _RidgeBandit:
    """Ridge regression of click on z, kept as A⁻¹ and b (Sherman-Morrison per outcome)."""

    def __init__(self, name: str, seed: int, ridge: float) -> None:
        self.name = name
        self.features = LinearFeatures(seed)
        d = self.features.dim
        self._a_inv = np.eye(d) / ridge
        self._b = np.zeros(d)
        self._theta = np.zeros(d)
        self._rng = _seed(name, seed)
        self._z: dict[int, Floats] = {}

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None:
        pass

    def _active(self) -> int:
        """Columns in use: the cross block and the creative entries seen so far."""
        return self.features.cross_dim + len(self.features._creative_vocab)

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        z = self._z.pop(request.n)
        d = len(z)
        a_inv = self._a_inv[:d, :d]
        az = a_inv @ z
        a_inv -= np.outer(az, az) / (1.0 + z @ az)
        self._b[:d] += float(clicked) * z
        self._theta[:d] = a_inv @ self._b[:d]

    def _remember(self, request: Request, z: Floats) -> None:
        self._z[request.n] = z


class LinUCBPolicy(_RidgeBandit):
    """Shared LinUCB: the candidate with the best θ̂·z + α √(zᵀ A⁻¹ z) (deterministic: propensity 1).

    Li, Chu, Langford & Schapire (2010), A contextual-bandit approach to personalized news article
    recommendation.
    """

    def __init__(self, seed: int, alpha: float = 0.2, ridge: float = 1.0, name: str = "linucb") -> None:
        super().__init__(name, seed, ridge)
        self.alpha = alpha

    def choose(self, request: Request) -> BenchChoice:
        d = self._active()
        z = self.features.matrix(request)[:, :d]
        width = np.sqrt(np.maximum(np.einsum("kd,kd->k", z @ self._a_inv[:d, :d], z), 0.0))
        index = int(np.argmax(z @ self._theta[:d] + self.alpha * width))
        self._remember(request, z[index])
        return BenchChoice(index, 1.0)


class LinTSPolicy(_RidgeBandit):
    """Shared linear Thompson sampling: θ̃ ~ N(θ̂, v² A⁻¹), the candidate with the best θ̃·z.

    The Cholesky factor of A⁻¹ is refreshed every `refresh` outcomes (θ̂ after every one): a
    d³ factorisation per request would dominate the bench. Propensities are not estimated (NaN).

    Agrawal & Goyal (2013), Thompson sampling for contextual bandits with linear payoffs.
    """

    def __init__(
        self, seed: int, scale: float = 0.05, ridge: float = 1.0, refresh: int = 100, name: str = "lints"
    ) -> None:
        super().__init__(name, seed, ridge)
        self.scale = scale
        self.refresh = refresh
        self._chol = np.eye(self.features.dim) / math.sqrt(ridge)
        self._since = refresh

    def choose(self, request: Request) -> BenchChoice:
        d = self._active()
        if self._since >= self.refresh or self._chol.shape[0] != d:
            self._chol = _cholesky(self._a_inv[:d, :d])
            self._since = 0
        z = self.features.matrix(request)[:, :d]
        theta = self._theta[:d] + self.scale * (self._chol @ self._rng.standard_normal(d))
        index = int(np.argmax(z @ theta))
        self._remember(request, z[index])
        return BenchChoice(index, math.nan)

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        super().learn(request, choice, clicked)
        self._since += 1


def _cholesky(matrix: Floats) -> Floats:
    """Cholesky factor of a covariance kept by rank-one updates (symmetrised; jitter if needed)."""
    sym = (matrix + matrix.T) / 2.0
    jitter = 1e-12
    while True:
        try:
            return np.asarray(np.linalg.cholesky(sym + jitter * np.eye(len(sym))), dtype=np.float64)
        except np.linalg.LinAlgError:
            jitter *= 100.0


# --------------------------------------------------------------------------- Vowpal Wabbit


def _vw_token(text: str) -> str:
    return text.replace(" ", "_").replace(":", ";").replace("|", "/")


class VowpalWabbitPolicy:
    """Vowpal Wabbit ``--cb_explore_adf`` with `exploration` (e.g. ``--epsilon 0.05``, ``--squarecb``).

    Shared namespaces: C (categorical request features), N (numeric, signed log). Action
    namespaces: E (element ids), K (category), A (numeric attributes), I (image embedding), T
    (copy embedding), R (creative id). Interactions: request (C, N) x creative (E, K, A, I, T) and
    category x elements. Cost -1 for a click, 0 otherwise, with the chosen action's probability;
    the action is drawn from VW's PMF by this policy's generator. VW's own defaults otherwise
    (SquareCB: gamma = 10 · t^0.5), with 2^22 weights.
    """

    INTERACTIONS = ("CE", "CK", "CA", "CI", "CT", "NE", "NK", "NA", "NI", "NT", "KE", "KA")

    def __init__(self, seed: int, exploration: str, name: str, bits: int = 22) -> None:
        # Imported here: vowpalwabbit is optional (the `quality` and `dev` extras).
        from vowpalwabbit import Workspace

        self.name = name
        quadratic = " ".join(f"-q {pair}" for pair in self.INTERACTIONS)
        self._workspace = Workspace(
            f"--cb_explore_adf {exploration} {quadratic} -b {bits} --random_seed {seed} --quiet"
        )
        self._rng = _seed(name, seed)
        self._lines: dict[str, str] = {}
        self._pending: dict[int, tuple[str, list[str]]] = {}

    def add_creatives(self, creatives: Sequence[common_pb2.Creative]) -> None:
        for c in creatives:
            elements = " ".join(_vw_token(f"{k}={v}") for k, v in sorted(c.elements.items()))
            numeric = " ".join(f"{_vw_token(k)}:{signed_log(v):.5g}" for k, v in c.numeric_attributes.items())
            image = " ".join(f"i{j}:{v:.5g}" for j, v in enumerate(c.image_embedding.values))
            copy = " ".join(f"t{j}:{v:.5g}" for j, v in enumerate(c.copy_embedding.values))
            self._lines[c.creative_id] = (
                f"|E {elements} |K {_vw_token(c.category)} |A {numeric} |I {image} |T {copy} "
                f"|R {_vw_token(c.creative_id)}"
            )

    def _shared(self, request: Request) -> str:
        categorical, numeric = request_features(request.context, request.features)
        c = " ".join(_vw_token(f"{k}={v}") for k, v in sorted(categorical.items()))
        n = " ".join(f"{_vw_token(k)}:{signed_log(v):.5g}" for k, v in sorted(numeric.items()))
        return f"shared |C {c} |N {n}"

    def choose(self, request: Request) -> BenchChoice:
        shared = self._shared(request)
        lines = [self._lines[c.creative_id] for c in request.candidates]
        pmf = np.asarray(self._workspace.predict([shared, *lines]), dtype=np.float64)
        pmf /= pmf.sum()
        index = min(int(np.searchsorted(np.cumsum(pmf), self._rng.random(), side="right")), len(pmf) - 1)
        self._pending[request.n] = (shared, lines)
        return BenchChoice(index, float(pmf[index]))

    def learn(self, request: Request, choice: BenchChoice, clicked: bool) -> None:
        shared, lines = self._pending.pop(request.n)
        labelled = list(lines)
        labelled[choice.index] = f"0:{-1.0 if clicked else 0.0}:{choice.propensity:.6g} {lines[choice.index]}"
        self._workspace.learn([shared, *labelled])

    def finish(self) -> None:
        self._workspace.finish()


# --------------------------------------------------------------------------- the registry

REFERENCES = ("uniform", "thompson", "linucb", "lints", "vw-epsilon", "vw-squarecb", "oracle")
#: What `creativeloop eval policies` runs unless told otherwise.
DEFAULT_POLICIES = (*REFERENCES, "oracle-observable", "shared")
ORACLES = ("oracle", "oracle-observable")


def policy_names() -> tuple[str, ...]:
    """Every name `make_policy` knows: the references, the observable oracle and ranking's
    policies, each as ``ranking:<setting>`` and, where no reference has the name, as ``<setting>``."""
    ranking = [f"ranking:{kind}" for kind in POLICIES]
    bare = [kind for kind in POLICIES if kind not in REFERENCES]
    return tuple(dict.fromkeys([*REFERENCES, "oracle-observable", *bare, *ranking]))


def make_policy(name: str, stream: Stream, seed: int) -> BenchPolicy:
    """The bench policy `name` for one run on `stream` (its generator seeded by `seed` and `name`)."""
    if name == "uniform":
        return UniformPolicy(seed)
    if name == "oracle":
        return OraclePolicy(stream)
    if name == "oracle-observable":
        return ObservableOraclePolicy(stream)
    if name == "linucb":
        return LinUCBPolicy(seed)
    if name == "lints":
        return LinTSPolicy(seed)
    if name == "vw-epsilon":
        return VowpalWabbitPolicy(seed, "--epsilon 0.05", name)
    if name == "vw-squarecb":
        return VowpalWabbitPolicy(seed, "--squarecb", name)
    if name == "thompson":
        # Ranking's serving class; few Monte Carlo draws: the bench scores choices, not propensities.
        return ranking_policy("thompson", seed, propensity_samples=10)
    kind = name.removeprefix("ranking:")
    if kind in POLICIES and (name.startswith("ranking:") or name not in REFERENCES):
        return ranking_policy(kind, seed, name=name)
    raise ValueError(f"unknown policy {name!r}; known: {', '.join(policy_names())}")
