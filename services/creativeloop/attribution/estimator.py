"""Per element and context bucket: the element's lift on CTR and its uncertainty, from logged
impressions with propensities. Pure: no I/O, no clock (the job feeds it settled impressions).

What "lift" means, precisely. Take one product, its creatives C (the candidates ranking chooses
among), one element kind k (e.g. "layout") and one value v of it (e.g. "split"). Split C into the
creatives with k = v (C_v) and the others (C_-v). For a request x, r(x, c) is the click probability
of creative c shown at x. Define

    CTR_with(v)    = E_x [ mean_{c in C_v}  r(x, c) ]
    CTR_without(v) = E_x [ mean_{c in C_-v} r(x, c) ]
    lift(v)        = CTR_with(v) - CTR_without(v)        (absolute, in CTR points)

over the requests x the product was ranked for (in the bucket): the CTR that serving the
product's creatives with v uniformly at random would earn, minus the same for those without v,
*on the same requests*. It does not depend on how often the serving policy chose either: the naive
CTR (clicks / impressions of creatives with v) does, because a policy that shows v more where users
click more anyway (a context, a time of day) credits v with that context's CTR.

Estimator: each impression i of creative c_i with logged propensity p_i = P(policy chose c_i | x_i)
gets the weight w_i = 1 / p_i. For a set S of creatives, sum_{i: c_i in S} w_i r_i / N estimates
E_x[sum_{c in S} r(x, c)] and sum_{i: c_i in S} w_i / N estimates |S|, so the self-normalised
ratio (SNIPS) sum w r / sum w estimates E_x[mean_{c in S} r(x, c)], unbiased in the limit for any
logging policy that gives every creative a positive propensity. Its variance is the delta-method
sum w_i^2 (r_i - ctr)^2 / (sum w_i)^2. Across products, the per-product lifts are averaged with
weights = each product's impressions (products without both a creative with v and one without
contribute nothing: a lift needs a comparison within one product), variances combined alike;
the interval is the normal approximation lift +- z * sd.

State, per (product, bucket, kind, value): six sums (n, clicks, sum w, sum w r, sum w^2, sum w^2 r):
bounded by catalogue x buckets x element values, independent of traffic. Weights are clipped at
`max_weight` (a propensity below 1/max_weight is taken as 1/max_weight), which bounds the variance
at the cost of a small bias towards the logging policy for nearly never shown creatives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from creativeloop.kit.context import ALL_CONTEXTS

#: z of a two-sided 95 % normal interval.
Z95 = 1.959963984540054


@dataclass
class Sums:
    """Importance-weighted sums over the impressions of one cell."""

    n: int = 0
    clicks: int = 0
    w: float = 0.0
    wr: float = 0.0
    w2: float = 0.0
    w2r: float = 0.0

    def add(self, weight: float, clicked: bool) -> None:
        self.n += 1
        self.w += weight
        self.w2 += weight * weight
        if clicked:
            self.clicks += 1
            self.wr += weight
            self.w2r += weight * weight

    def plus(self, other: Sums) -> Sums:
        return Sums(
            self.n + other.n,
            self.clicks + other.clicks,
            self.w + other.w,
            self.wr + other.wr,
            self.w2 + other.w2,
            self.w2r + other.w2r,
        )

    def snips(self) -> tuple[float, float]:
        """(CTR, variance) of the self-normalised IPS estimate; (0, inf) with no impressions."""
        if self.n == 0 or self.w <= 0:
            return 0.0, math.inf
        ctr = self.wr / self.w
        # sum w^2 (r - ctr)^2 with r in {0, 1}: (1 - 2 ctr) sum w^2 r + ctr^2 sum w^2.
        spread = max((1.0 - 2.0 * ctr) * self.w2r + ctr * ctr * self.w2, 0.0)
        return ctr, spread / (self.w * self.w)


@dataclass(frozen=True)
class Estimate:
    """The lift of one element value in one bucket (see the module doc for the definition)."""

    kind: str
    value: str
    bucket: str
    lift: float
    low: float
    high: float
    stderr: float
    ctr_with: float
    ctr_without: float
    #: clicks / impressions of creatives with the element, as logged (biased by the policy).
    naive_ctr: float
    impressions_with: int
    impressions_without: int
    products: int


@dataclass
class ElementAttribution:
    """The aggregates of all impressions settled so far, and the estimates from them."""

    max_weight: float = 1000.0
    z: float = Z95
    #: (bucket, kind) -> product -> value -> sums
    cells: dict[tuple[str, str], dict[str, dict[str, Sums]]] = field(default_factory=dict)
    #: (bucket, kind, value) -> (impressions, clicks), as logged
    naive: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)

    def add(
        self,
        product_id: str,
        elements: Mapping[str, str],
        bucket: str,
        propensity: float,
        clicked: bool,
    ) -> list[tuple[str, str, str]]:
        """Count one settled impression (in its bucket and in all contexts); returns the
        (kind, value, bucket) keys whose estimates changed (every value of the kinds touched)."""
        if not elements:
            return []
        weight = min(1.0 / propensity, self.max_weight) if propensity > 0 else self.max_weight
        buckets = (ALL_CONTEXTS,) if bucket == ALL_CONTEXTS else (ALL_CONTEXTS, bucket)
        changed: list[tuple[str, str, str]] = []
        for b in buckets:
            for kind, value in elements.items():
                values = self.cells.setdefault((b, kind), {}).setdefault(product_id, {})
                values.setdefault(value, Sums()).add(weight, clicked)
                shown, clicks = self.naive.get((b, kind, value), (0, 0))
                self.naive[(b, kind, value)] = (shown + 1, clicks + int(clicked))
                # The other values of this product's kind are compared against this impression too.
                changed.extend((kind, v, b) for v in values)
        return changed

    def element_keys(self) -> list[tuple[str, str, str]]:
        """Every (kind, value, bucket) with impressions."""
        return [(kind, value, bucket) for bucket, kind, value in self.naive]

    def estimate(self, kind: str, value: str, bucket: str = ALL_CONTEXTS, product_id: str = "") -> Estimate:
        """The lift of `kind` = `value` in `bucket`, over the products that have both (or within
        `product_id` only)."""
        products_of = self.cells.get((bucket, kind), {})
        if product_id:
            products_of = {product_id: products_of[product_id]} if product_id in products_of else {}
        weight_sum = lift = ctr_with = ctr_without = var = 0.0
        n_with = n_without = products = shown = clicks = 0
        for values in products_of.values():
            with_v = values.get(value)
            if with_v is None:
                continue
            shown += with_v.n
            clicks += with_v.clicks
            without = Sums()
            for v, sums in values.items():
                if v != value:
                    without = without.plus(sums)
            if without.n == 0:
                continue
            a, var_a = with_v.snips()
            b, var_b = without.snips()
            h = float(with_v.n + without.n)
            weight_sum += h
            lift += h * (a - b)
            ctr_with += h * a
            ctr_without += h * b
            var += h * h * (var_a + var_b)
            n_with += with_v.n
            n_without += without.n
            products += 1
        if not product_id:
            shown, clicks = self.naive.get((bucket, kind, value), (0, 0))
        naive = clicks / shown if shown else 0.0
        if products == 0:
            return Estimate(
                kind, value, bucket, 0.0, -math.inf, math.inf, math.inf, 0.0, 0.0, naive, shown, 0, 0
            )
        lift /= weight_sum
        stderr = math.sqrt(var) / weight_sum
        return Estimate(
            kind=kind,
            value=value,
            bucket=bucket,
            lift=lift,
            low=lift - self.z * stderr,
            high=lift + self.z * stderr,
            stderr=stderr,
            ctr_with=ctr_with / weight_sum,
            ctr_without=ctr_without / weight_sum,
            naive_ctr=naive,
            impressions_with=n_with,
            impressions_without=n_without,
            products=products,
        )
