"""The policy interface: what Rank serves and what off-policy evaluation evaluates.

A policy chooses one of a request's candidate creatives (`pull`), learns from an outcome
(`update`) and says how likely each candidate is (`probabilities`, and `slate_probabilities`
for several slots). The Thompson-sampling policies sample a score per candidate from a posterior
and show the best, so the chance of a choice has no closed form: for Beta posteriors (thompson,
hybrid) it is computed by quadrature within 1e-3 (`beta_max`); for LinTS, and for the later slots
of a slate, it is estimated by Monte Carlo with the policy's own `propensity_samples` draws; it is
exact for one candidate and for candidates whose posteriors are all the same. ``shared`` chooses
by inverse-gap weighting, whose probabilities are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from creativeloop.v1 import common_pb2, events_pb2

Floats = npt.NDArray[np.float64]

#: Largest number of Monte Carlo draws sampled at once by `slate_probabilities` (memory bound).
CHUNK = 10_000


@dataclass(frozen=True)
class Decision:
    """One choice among a request's candidates, as Rank returns and the ad server logs it."""

    index: int
    #: Probability that the policy picks `index` for this request (what IPS divides by).
    propensity: float
    policy_version: str
    #: The model's p̂ of the chosen creative (0 without a model).
    predicted_ctr: float = 0.0
    #: The bandit.stats bucket the chosen creative's counts came from ("" = all contexts).
    stats_bucket: str = ""


@dataclass(frozen=True)
class Choice:
    """A sampler's pick: an arm and the probability of picking it (quadrature or Monte Carlo)."""

    index: int
    #: Probability that the sampler picks `index` given the same posteriors.
    propensity: float


class Policy(Protocol):
    """Chooses creatives with explore-exploit; River's `pull` / `update` shape.

    `candidates` are creative ids, `context` the request's string context (placement, device...),
    `features` its typed features (`RankRequest.features`, keys in `ranking.schema`); policies that
    do not read them ignore them.
    `probabilities` and `slate_probabilities` draw from the same generator as `pull`: off-policy
    evaluation builds a policy of its own rather than asking the one that serves.
    """

    @property
    def needs_behaviour(self) -> bool:
        """Whether the policy reads the user's behaviour (features).

        Serving then follows the profile, impression and click streams. When False, a choice
        depends only on the candidates, the context and the counts.
        """
        ...

    def pull(
        self,
        candidates: Sequence[str],
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Decision:
        """Choose one of `candidates` for `user_id` in `context`, with the propensity of that choice."""
        ...

    def probabilities(
        self,
        candidates: Sequence[str],
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Floats:
        """P(`pull` picks each candidate), shape (len(candidates),), summing to 1.

        By default the first column of `slate_probabilities` (policies that subclass `Policy`
        inherit it; one with a cheaper closed form overrides it).
        """
        result: Floats = self.slate_probabilities(candidates, 1, user_id, context, features=features)[:, 0]
        return result

    def slate_probabilities(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> Floats:
        """P(candidate a lands in slot k) when the best `slots` scores fill the slots in order.

        Shape (len(candidates), slots); each column sums to 1; column 0 is `probabilities`.
        """
        ...

    def pull_slate(
        self,
        candidates: Sequence[str],
        slots: int,
        user_id: str = "",
        context: Mapping[str, str] | None = None,
        *,
        features: common_pb2.RequestFeatures | None = None,
    ) -> list[Decision]:
        """Choose `slots` different candidates, in slot order, for a multi-slot Rank.

        Each `Decision.propensity` is the marginal P(this candidate fills this slot) under the way
        the slate was drawn, i.e. the slate's entry of `slate_probabilities` (not the probability
        conditional on the earlier slots). One slot is `pull`. Policies that subclass `Policy` and
        do not override it serve one slot only.
        """
        if slots == 1:
            return [self.pull(candidates, user_id, context, features=features)]
        raise NotImplementedError(f"{type(self).__name__} serves one slot only")

    def update(self, impression: events_pb2.Impression, clicked: bool) -> None:
        """Learn from one impression and whether it was clicked (joined by the caller)."""
        ...


def check_slots(n_candidates: int, slots: int) -> None:
    if n_candidates == 0:
        raise ValueError("no arms to choose from")
    if not 1 <= slots <= n_candidates:
        raise ValueError(
            f"slots (len_list in OBP's terms) must lie in [1, {n_candidates}] for {n_candidates} candidates"
        )


def slot_counts(scores: Floats, slots: int) -> Floats:
    """How often each of n candidates lands in each slot over the draws `scores` (draws x n).

    The best score takes slot 0, the next slot 1...; ties go to the smaller index, as in `pull`.

    >>> slot_counts(np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]]), 2).tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]]
    """
    n = scores.shape[1]
    top = np.argsort(-scores, axis=1, kind="stable")[:, :slots]
    counts = np.zeros((n, slots))
    for k in range(slots):
        counts[:, k] = np.bincount(top[:, k], minlength=n)
    return counts


def sampled_slate(
    draw: Callable[[int], Floats], n: int, slots: int, samples: int
) -> tuple[list[int], Floats]:
    """Serve the best `slots` of one score draw, with marginals estimated from `samples` draws.

    `draw(size)` gives `size` independent score vectors (size x n). The first is the one served:
    its best `slots` candidates fill the slots in order (ties to the smaller index, as in `pull`).
    The marginals P(candidate a in slot k), shape (n, slots), are the frequencies over all
    `samples` draws, the served one among them (so a served candidate never gets propensity 0,
    at most 1/`samples` above its frequency otherwise); their standard error is at most
    0.5/sqrt(`samples`). Drawn in chunks of `CHUNK`.

    >>> rng = np.random.default_rng(0)
    >>> served, marginals = sampled_slate(lambda size: rng.random((size, 3)), 3, 2, 100)
    >>> len(set(served)), marginals.sum(axis=0).tolist()
    (2, [1.0, 1.0])
    """
    counts = np.zeros((n, slots))
    served: list[int] | None = None
    done = 0
    while done < samples:
        size = min(CHUNK, samples - done)
        scores = draw(size)
        if served is None:
            served = [int(i) for i in np.argsort(-scores[0], kind="stable")[:slots]]
        counts += slot_counts(scores, slots)
        done += size
    assert served is not None
    return served, counts / samples


def uniform_slots(n_candidates: int, slots: int) -> Floats:
    """The exact slate distribution when every candidate's posterior is the same: 1/n everywhere."""
    return np.full((n_candidates, slots), 1.0 / n_candidates)
