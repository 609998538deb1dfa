"""Context buckets: the coarse request contexts that bandit statistics are kept per.

One definition shared by the bandit (which counts per bucket) and ranking (which reads the
bucket of the request it serves), so the two always agree.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Context keys that define a bucket, in order. Others (e.g. a request id) are ignored.
BUCKET_KEYS: tuple[str, ...] = ("placement", "device")

ALL_CONTEXTS = ""


def context_bucket(context: Mapping[str, str]) -> str:
    """`placement=feed|device=mobile` from a request context; "" when none of the keys is set.

    >>> context_bucket({"device": "mobile", "placement": "feed", "request": "r1"})
    'placement=feed|device=mobile'
    >>> context_bucket({})
    ''
    """
    parts = [f"{key}={context[key]}" for key in BUCKET_KEYS if context.get(key)]
    return "|".join(parts)


def stats_key(creative_id: str, bucket: str = ALL_CONTEXTS) -> str:
    """The bandit.stats record key of one creative in one bucket."""
    return f"{creative_id}|{bucket}" if bucket else creative_id
