"""Copy candidates per second: the learned generator and the template path, vs a floor in the same run.

    python -m bench.bench_copy [--repository deploy/model-repository] [--rounds 3]

Profiles: 24 deterministic English apparel profiles (title, category, selling points, price).
Paths, one profile at a time on one onnxruntime thread (embedded backend):

- **floor**: one pass of the copy model's tokenizer over the profile's source text (the least
  any model path must do);
- **template**: `compose_copy(..., templates_only=True)` (templates, ad-law check, MMR);
- **model raw**: `CopyModel.generate` (one encoder call + batched decoding of K latent codes);
- **copygen**: the whole service path (model + templates, filters, MMR), headline slot.

Reports candidates per second (returned candidates; raw decodings for "model raw"), ms per
profile, and each path's time relative to the template path. When the repository has no copy
generator, the tiny profile is built into a temporary repository first.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from creativeloop.copygen.generator import CopyModel, profile_seed, profile_source
from creativeloop.copygen.points import rank_points
from creativeloop.copygen.service import Generators, compose_copy
from creativeloop.copygen.settings import CopygenSettings
from creativeloop.evaluation.copy import ensure_repository
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.v1 import common_pb2

ITEMS = (
    ("Flowy Linen Summer Dress", "Women / Dresses", ["flowy", "linen", "pockets"]),
    ("Relaxed Cotton Tee", "Women / Knits", ["soft cotton", "relaxed fit"]),
    ("High-Rise Skinny Jeans", "Women / Jeans", ["stretchy", "flattering", "dark wash"]),
    ("Cozy Cable Knit Sweater", "Women / Sweaters", ["cozy", "warm", "chunky knit"]),
    ("Silk Button-Down Blouse", "Women / Blouses", ["silky", "drapes nicely"]),
    ("Quilted Puffer Jacket", "Women / Jackets", ["warm", "lightweight", "hood"]),
    ("Wide-Leg Linen Pants", "Women / Pants", ["breathable", "wide leg", "pockets"]),
    ("Lace Trim Camisole", "Women / Intimates", ["delicate lace", "soft"]),
)


def profiles() -> list[common_pb2.ContentProfile]:
    out = []
    for index in range(24):
        title, category, points = ITEMS[index % len(ITEMS)]
        out.append(
            common_pb2.ContentProfile(
                product_id=f"bench-{index}",
                product_version=1 + index // len(ITEMS),
                title=title,
                category=category,
                selling_points=points,
                price=common_pb2.Price(currency="USD", amount_micros=(29 + index) * 1_000_000),
                language="en",
            )
        )
    return out


def timed(
    fn: Callable[[common_pb2.ContentProfile], int], items: list[common_pb2.ContentProfile], rounds: int
) -> tuple[float, int]:
    """Best-of-`rounds` seconds for one pass over `items`, and the candidates that pass produced."""
    best, produced = float("inf"), 0
    for _ in range(rounds):
        started = time.perf_counter()
        produced = sum(fn(p) for p in items)
        best = min(best, time.perf_counter() - started)
    return best, produced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repository", type=Path, default=Path("deploy/model-repository"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    repository = ensure_repository(args.repository)
    client = EmbeddedModelClient(repository)
    model = CopyModel(client, repository)
    settings = CopygenSettings(models={"repository": repository}, model_samples=args.samples)
    generators = Generators(settings, client)
    items = profiles()
    sources = {p.product_id: profile_source(p, [r.text for r in rank_points(p, "en")]) for p in items}

    def floor(p: common_pb2.ContentProfile) -> int:
        model.tokenizer.encode(sources[p.product_id])
        return 1

    def template(p: common_pb2.ContentProfile) -> int:
        return len(compose_copy(p, settings, slot="headline", templates_only=True)[1].candidates)

    def raw(p: common_pb2.ContentProfile) -> int:
        return len(model.generate(sources[p.product_id], samples=args.samples, seed=profile_seed(p)))

    def full(p: common_pb2.ContentProfile) -> int:
        return len(compose_copy(p, settings, slot="headline", generators=generators)[1].candidates)

    full(items[0])  # load sessions outside the timing
    results = {}
    for name, fn in (
        ("floor (tokenizer pass)", floor),
        ("template", template),
        ("model raw", raw),
        ("copygen", full),
    ):
        seconds, produced = timed(fn, items, args.rounds)
        results[name] = {"seconds": seconds, "candidates": produced}
    base = results["template"]["seconds"]
    print(f"model {model.version}; {len(items)} profiles, best of {args.rounds}; K = {args.samples}\n")
    print("| path | candidates/s | ms per profile | x template time |\n|---|---|---|---|")
    for name, r in results.items():
        rate, per_profile = r["candidates"] / r["seconds"], 1000 * r["seconds"] / len(items)
        print(f"| {name} | {rate:.0f} | {per_profile:.2f} | {r['seconds'] / base:.2f} |")
    summary = {name.split(" ")[0]: round(r["candidates"] / r["seconds"], 1) for name, r in results.items()}
    print(json.dumps({"benchmark": "copy", "model": model.version, "candidates_per_s": summary}))
    client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
