"""Linear Thompson sampling (Agrawal & Goyal 2013) over the ranking feature vector.

Click ~ x·θ with a Gaussian posterior θ ~ N(μ, v²·A⁻¹), A = λI + Σ x xᵀ over impressions and
μ = A⁻¹ Σ click·x. It learns online from the impression and click streams: each impression adds
x xᵀ to A with its row *as of just before it* (from `FeatureStore`, like training), and a later
click adds x to b, so no impression has to wait for its outcome. Rows are kept for
`max_pending` impressions to credit their clicks.

- `LinTS`: the sampler and its posterior, a `FeatureListener`. `pull` samples θ once and picks
  the candidate with the best score; like `BetaThompson`, it also draws `propensity_samples`
  more θ and reports how often the chosen candidate wins (the chosen round is one of them, so the
  estimate is never zero).
- `LinTSPolicy` (setting ``policy = "lints"``, version ``lints-v1``): `LinTS` over the rows a
  `FeatureStore` computes for (user, creative, context).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from creativeloop.ranking.features import N_FEATURES, FeatureStore
from creativeloop.ranking.model import ModelHolder
from creativeloop.ranking.policies.base import (
    CHUNK,
    Choice,
    Decision,
    Floats,
    Policy,
    check_slots,
    sampled_slate,
    slot_counts,
)
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import StatsBoard
from creativeloop.v1 import common_pb2, events_pb2

LINTS_VERSION = "lints-v1"


class LinTS:
    """The LinTS posterior over θ, learnt from feature rows and clicks, and its sampler.

    >>> policy = LinTS(2, scale=0.1, seed=0)
    >>> for n in range(200):
    ...     policy.observe_impression(f"i{n}", np.array([1.0, float(n % 2)]))
    ...     if n % 2:
    ...         policy.observe_click(f"i{n}")
    >>> policy.pull(np.array([[1.0, 0.0], [1.0, 1.0]])).index
    1
    """

    def __init__(
        self,
        dim: int,
        ridge: float = 1.0,
        scale: float = 0.05,
        propensity_samples: int = 1000,
        seed: int | None = None,
        max_pending: int = 100_000,
    ) -> None:
        self.dim = dim
        self.ridge = ridge
        self.scale = scale
        self.propensity_samples = propensity_samples
        self.max_pending = max_pending
        self._rng = np.random.default_rng(seed)
        self._a = np.eye(dim) * ridge
        self._b = np.zeros(dim)
        self._pending: OrderedDict[str, Floats] = OrderedDict()
        self._mean = np.zeros(dim)
        self._cov_chol = np.eye(dim) / np.sqrt(ridge)
        self._stale = False
        self.impressions = 0
        self.clicks = 0

    # FeatureListener
    def observe_impression(self, impression_id: str, row: Floats) -> None:
        if impression_id in self._pending:
            return
        self._a += np.outer(row, row)
        self._pending[impression_id] = row
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
        self.impressions += 1
        self._stale = True

    def observe_click(self, impression_id: str) -> None:
        row = self._pending.pop(impression_id, None)  # popped: a duplicate click counts once
        if row is None:
            return
        self._b += row
        self.clicks += 1
        self._stale = True

    def _refresh(self) -> None:
        if not self._stale:
            return
        # A = L Lᵀ  =>  A⁻¹ = L⁻ᵀ L⁻¹, so θ = μ + v L⁻ᵀ z has covariance v² A⁻¹.
        chol = np.linalg.cholesky(self._a)
        inv_chol = np.linalg.solve(chol, np.eye(self.dim))  # L⁻¹ (triangular, small)
        self._mean = inv_chol.T @ (inv_chol @ self._b)
        self._cov_chol = inv_chol.T
        self._stale = False

    @property
    def mean(self) -> Floats:
        self._refresh()
        return self._mean

    def _score_law(self, rows: Floats) -> tuple[Floats, Floats]:
        """(centre, spread) of the candidates' scores: scores = centre + spread @ z, z ~ N(0, I)."""
        n = rows.shape[0]
        self._refresh()
        centre = rows @ self._mean
        spread = (rows @ self._cov_chol) * self.scale  # n x dim: scores ~ N(centre, spread spreadᵀ)
        if n < self.dim:
            # Fewer candidates than features: draw the n scores from their own n x n covariance.
            cov = spread @ spread.T
            cov[np.diag_indices(n)] += 1e-12 + 1e-9 * float(np.trace(cov)) / n  # rows may repeat
            spread = np.linalg.cholesky(cov)
        return centre, spread

    def pull(self, rows: Floats) -> Choice:
        """Choose among candidates with feature `rows` (n x dim)."""
        n = rows.shape[0]
        if n == 0:
            raise ValueError("no arms to choose from")
        if n == 1:
            return Choice(0, 1.0)
        centre, spread = self._score_law(rows)
        noise = self._rng.standard_normal((spread.shape[1], self.propensity_samples))
        scores = centre[:, None] + spread @ noise  # n x samples
        winners = scores.argmax(axis=0)
        index = int(winners[0])
        propensity = float(np.count_nonzero(winners == index)) / self.propensity_samples
        return Choice(index, propensity)

    def pull_slate(self, rows: Floats, slots: int) -> list[Choice]:
        """One draw of θ ranks every candidate; the best `slots` fill the slots in order, each with
        its marginal P(candidate fills slot k) estimated from `propensity_samples` draws, the
        served one among them (`sampled_slate`), as `pull` estimates its propensity."""
        n = rows.shape[0]
        check_slots(n, slots)
        if n == 1:
            return [Choice(0, 1.0)]
        centre, spread = self._score_law(rows)

        def draw(size: int) -> Floats:
            scores: Floats = (centre[:, None] + spread @ self._rng.standard_normal((spread.shape[1], size))).T
            return scores

        served, marginals = sampled_slate(draw, n, slots, self.propensity_samples)
        return [Choice(a, float(marginals[a, k])) for k, a in enumerate(served)]

    def slate(self, rows: Floats, slots: int = 1) -> Floats:
        """P(candidate a lands in slot k), shape (n, slots), over `propensity_samples` draws of θ.

        Exact for one candidate. Drawn in chunks of `CHUNK` draws; ties go to the first
        candidate, as in `pull`.
        """
        n = rows.shape[0]
        check_slots(n, slots)
        if n == 1:
            return np.ones((1, 1))
        centre, spread = self._score_law(rows)
        counts = np.zeros((n, slots))
        done = 0
        while done < self.propensity_samples:
            size = min(CHUNK, self.propensity_samples - done)
            noise = self._rng.standard_normal((spread.shape[1], size))
            counts += slot_counts((centre[:, None] + spread @ noise).T, slots)
            done += size
        result: Floats = counts / self.propensity_samples
        return result


class LinTSPolicy(Policy):
    """Linear Thompson sampling over the `FeatureStore` rows of (user, creative, context).

    In serving, the ranking process applies the ad.impressions and ad.clicks streams to
    `features` itself (every replica reads them from the beginning) and `LinTS` learns from them
    as a `FeatureListener`: Rank never calls `update`. Offline (the simulator, off-policy
    evaluation on logs), `update` applies one logged impression and its click to the same store,
    so `LinTS` learns by the same path.

    >>> policy = LinTSPolicy(FeatureStore(), seed=5)
    >>> decision = policy.pull(["a", "b"], user_id="u")
    >>> decision.policy_version, 0.0 < decision.propensity <= 1.0, policy.needs_behaviour
    ('lints-v1', True, True)

    Agrawal & Goyal (2013), Thompson sampling for contextual bandits with linear payoffs.
    """

    needs_behaviour = True

    def __init__(
        self,
        features: FeatureStore,
        ridge: float = 1.0,
        scale: float = 0.05,
        propensity_samples: int = 1000,
        seed: int | None = None,
        max_pending: int = 100_000,
    ) -> None:
        self.features = features
        self.lints = LinTS(
            N_FEATURES,
            ridge=ridge,
            scale=scale,
            propensity_samples=propensity_samples,
            seed=seed,
            max_pending=max_pending,
        )
        features.listeners.append(self.lints)

    @classmethod
    def from_settings(
        cls,
        settings: RankingSettings,
        stats: StatsBoard,
        features: FeatureStore,
        models: ModelHolder | None = None,
    ) -> LinTSPolicy:
        return cls(
            features,
            ridge=settings.lints_ridge,
            scale=settings.lints_scale,
            propensity_samples=settings.propensity_samples,
            seed=settings.seed,
            max_pending=settings.lints_pending,
        )

    def pull(
        self,
        candidates: Sequence[str],
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Decision:
        choice = self.lints.pull(self.features.matrix(user_id, candidates, context))
        return Decision(choice.index, choice.propensity, LINTS_VERSION)

    def slate_probabilities(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Floats:
        return self.lints.slate(self.features.matrix(user_id, candidates, context), slots)

    def pull_slate(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> list[Decision]:
        rows = self.features.matrix(user_id, candidates, context)
        return [Decision(c.index, c.propensity, LINTS_VERSION) for c in self.lints.pull_slate(rows, slots)]

    def update(self, impression: events_pb2.Impression, clicked: bool) -> None:
        """Apply the impression (and its click) to `features`, which tells `LinTS`."""
        self.features.apply_impression(impression.impression_id, impression)
        if clicked:
            self.features.apply_click(
                impression.impression_id,
                events_pb2.Click(
                    impression_id=impression.impression_id,
                    user_id=impression.user_id,
                    creative_id=impression.creative_id,
                ),
            )
