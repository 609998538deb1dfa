"""Linear Thompson sampling (Agrawal & Goyal 2013) over the ranking feature vector.

Click ~ x·θ with a Gaussian posterior θ ~ N(μ, v²·A⁻¹), A = λI + Σ x xᵀ over impressions and
μ = A⁻¹ Σ click·x. It learns online from the impression and click streams: each impression adds
x xᵀ to A with its row *as of just before it* (from `FeatureStore`, like training), and a later
click adds x to b, so no impression has to wait for its outcome. Rows are kept for
`max_pending` impressions to credit their clicks.

`pull` samples θ once and picks the candidate with the best score; like `BetaThompson`, it also
draws `propensity_samples` more θ and reports how often the chosen candidate wins (the chosen
round is one of them, so the estimate is never zero).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from creativeloop.ranking.thompson import Choice


class LinTS:
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
        self._pending: OrderedDict[str, npt.NDArray[np.float64]] = OrderedDict()
        self._mean = np.zeros(dim)
        self._cov_chol = np.eye(dim) / np.sqrt(ridge)
        self._stale = False
        self.impressions = 0
        self.clicks = 0

    # FeatureListener
    def observe_impression(self, impression_id: str, row: npt.NDArray[np.float64]) -> None:
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
    def mean(self) -> npt.NDArray[np.float64]:
        self._refresh()
        return self._mean

    def pull(self, rows: npt.NDArray[np.float64]) -> Choice:
        """Choose among candidates with feature `rows` (n x dim)."""
        n = rows.shape[0]
        if n == 0:
            raise ValueError("no arms to choose from")
        if n == 1:
            return Choice(0, 1.0)
        self._refresh()
        centre = rows @ self._mean
        spread = (rows @ self._cov_chol) * self.scale  # n x dim: scores ~ N(centre, spread spreadᵀ)
        if n < self.dim:
            # Fewer candidates than features: draw the n scores from their own n x n covariance.
            cov = spread @ spread.T
            cov[np.diag_indices(n)] += 1e-12 + 1e-9 * float(np.trace(cov)) / n  # rows may repeat
            spread = np.linalg.cholesky(cov)
        noise = self._rng.standard_normal((spread.shape[1], self.propensity_samples))
        scores = centre[:, None] + spread @ noise  # n x samples
        winners = scores.argmax(axis=0)
        index = int(winners[0])
        propensity = float(np.count_nonzero(winners == index)) / self.propensity_samples
        return Choice(index, propensity)
