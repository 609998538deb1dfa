"""`creativeloop demo`: the whole loop on a sample catalogue, with simulated users.

1. start the local stack (Tansu + every service as a process);
2. publish the sample catalogue (built from the offline review corpus) to `product.changes`;
3. wait until every product is understood and has image creatives;
4. drive simulated users through Rank (gRPC), logging impressions and clicks to Kafka, while
   the bandit service turns them into `bandit.stats` that ranking applies live;
5. print what happened and the serving policy's CTR against uniform random and the oracle;
   optionally plot CTR over time and cumulative regret (`plot_path`).

The result keeps the logged impressions and clicks (as sent to Kafka) and the creatives the
users were shown, so the demo's own logs can be evaluated off-policy against the simulator's
truth (`creativeloop.evaluation.ope.own_logs`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from creativeloop.datasets.catalogue import build_catalogue, catalogue_changes
from creativeloop.datasets.reviews import load_reviews
from creativeloop.demo.traffic import ClickModel, TrafficReport, TrafficSimulator, plot_traffic
from creativeloop.kit.assets import FilesystemAssetStore
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.lifecycle import is_live
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings, GrpcTlsSettings
from creativeloop.kit.tls import aio_channel
from creativeloop.kit.topics import (
    AD_CLICKS,
    AD_IMPRESSIONS,
    BANDIT_STATS,
    CONTENT_PROFILES,
    CREATIVES,
    PRODUCT_CHANGES,
)
from creativeloop.stack.local import LocalStack
from creativeloop.training.ranker import Logs, TrainOptions, TrainResult, train_from_logs
from creativeloop.v1 import common_pb2, events_pb2, ranking_pb2, ranking_pb2_grpc

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE


class LoopObserver:
    """Follows the loop's output topics so the demo can wait on them and report them."""

    def __init__(self, settings: CommonSettings) -> None:
        self.profiles: dict[str, common_pb2.ContentProfile] = {}
        self.creatives: dict[str, common_pb2.Creative] = {}
        self.stats: dict[str, events_pb2.BanditStats] = {}
        self.last_creative_at = time.monotonic()
        self.feeds: list[
            TopicFeed[events_pb2.ContentProfileUpdated]
            | TopicFeed[events_pb2.CreativeUpdated]
            | TopicFeed[events_pb2.BanditStats]
        ] = [
            TopicFeed(settings, CONTENT_PROFILES, self._profile),
            TopicFeed(settings, CREATIVES, self._creative),
            TopicFeed(settings, BANDIT_STATS, self._stats),
        ]

    def _profile(self, _key: str, event: events_pb2.ContentProfileUpdated) -> None:
        self.profiles[event.profile.product_id] = event.profile

    def _creative(self, _key: str, event: events_pb2.CreativeUpdated) -> None:
        if not is_live(event):  # paused, retired or rejected: no longer a candidate
            self.creatives.pop(event.creative.creative_id, None)
            return
        if event.creative.creative_id not in self.creatives:
            self.last_creative_at = time.monotonic()
        self.creatives[event.creative.creative_id] = event.creative

    def _stats(self, _key: str, event: events_pb2.BanditStats) -> None:
        self.stats[event.creative_id] = event

    def image_creatives_by_product(self) -> dict[str, list[common_pb2.Creative]]:
        grouped: dict[str, list[common_pb2.Creative]] = {}
        for creative in sorted(self.creatives.values(), key=lambda c: c.creative_id):
            if creative.format == IMAGE:
                grouped.setdefault(creative.product_id, []).append(creative)
        return grouped


async def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


async def _rank_ready(
    rank: Callable[[ranking_pb2.RankRequest], Awaitable[ranking_pb2.RankResponse]], product_ids: list[str]
) -> None:
    """Ranking follows `creatives` asynchronously: wait until it can rank every product."""
    pending = set(product_ids)
    deadline = time.monotonic() + 60
    while pending:
        for product_id in sorted(pending):
            try:
                await rank(ranking_pb2.RankRequest(user_id="warmup", product_id=product_id, format=IMAGE))
                pending.discard(product_id)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.INVALID_ARGUMENT or time.monotonic() > deadline:
                    raise
        if pending:
            await asyncio.sleep(0.2)


@dataclass
class _EventLog:
    """What the demo's ad server logged, in the order it was sent."""

    impressions: list[events_pb2.Impression] = field(default_factory=list)
    clicks: list[events_pb2.Click] = field(default_factory=list)
    creatives_by_product: dict[str, list[common_pb2.Creative]] = field(default_factory=dict)
    #: The CTR model trained mid-run, or why none was.
    model: TrainResult | None = None
    model_error: str = ""


async def _retrain_after(
    impressions: int, log: _EventLog, observer: LoopObserver, model_dir: Path, seed: int
) -> None:
    """Train the LightGBM CTR model from what was logged so far and publish a version.

    Ranking polls its model directory and swaps the new version in while traffic continues,
    switching from plain Thompson sampling to the hybrid policy with the model's prior.
    """
    while len(log.impressions) < impressions:
        await asyncio.sleep(0.2)
    logs = Logs(
        creatives=[events_pb2.CreativeUpdated(creative=c) for c in observer.creatives.values()],
        profiles=[events_pb2.ContentProfileUpdated(profile=p) for p in observer.profiles.values()],
        impressions=list(log.impressions),
        clicks=list(log.clicks),
    )
    try:
        log.model = await asyncio.to_thread(
            train_from_logs, logs, model_dir, TrainOptions(seed=seed), None, "demo"
        )
    except Exception as exc:  # the demo goes on with the policy it has
        log.model_error = repr(exc)


async def _run_loop(
    stack: LocalStack,
    products: list[common_pb2.Product],
    n_requests: int,
    seed: int,
    log: _EventLog,
    train_after: float,
) -> tuple[LoopObserver, TrafficReport, float]:
    settings = CommonSettings(bootstrap_servers=stack.bootstrap_servers)
    observer = LoopObserver(settings)
    feeds = [asyncio.create_task(feed.run()) for feed in observer.feeds]
    started = time.monotonic()
    try:
        async with (
            EventProducer(settings, "demo") as producer,
            aio_channel(stack.running["ranking"].target, GrpcTlsSettings()) as channel,
        ):
            await producer.send_batch(PRODUCT_CHANGES, list(catalogue_changes(products)))
            ids = [p.product_id for p in products]
            await _wait(lambda: set(ids) <= set(observer.profiles), 120, "content profiles")
            # Only admitted products get creatives (understanding's quality and ad-law gates).
            ids = [pid for pid in ids if observer.profiles[pid].admission.admitted]
            if not ids:
                raise RuntimeError("demo: understanding admitted no product; see the profiles' reason codes")
            await _wait(
                lambda: (
                    set(ids) <= set(observer.image_creatives_by_product())
                    and time.monotonic() - observer.last_creative_at > 2.0
                ),
                300,
                "image creatives for every product",
            )
            generation_s = time.monotonic() - started
            stub = ranking_pb2_grpc.RankingServiceStub(channel)

            async def rank(request: ranking_pb2.RankRequest) -> ranking_pb2.RankResponse:
                response: ranking_pb2.RankResponse = await stub.Rank(request, timeout=5)
                return response

            await _rank_ready(rank, ids)

            async def log_impression(event: events_pb2.Impression) -> None:
                await producer.send(AD_IMPRESSIONS, event.impression_id, event)
                log.impressions.append(event)

            async def log_click(event: events_pb2.Click) -> None:
                await producer.send(AD_CLICKS, event.impression_id, event)
                log.clicks.append(event)

            log.creatives_by_product = observer.image_creatives_by_product()
            simulator = TrafficSimulator(
                rank=rank,
                log_impression=log_impression,
                log_click=log_click,
                creatives_by_product=log.creatives_by_product,
                click_model=ClickModel(seed=seed),
                seed=seed,
            )
            retrain = None
            if train_after > 0:
                retrain = asyncio.create_task(
                    _retrain_after(int(train_after * n_requests), log, observer, stack.model_dir, seed)
                )
            report = await simulator.run(n_requests=n_requests, concurrency=16)
            if retrain is not None and not retrain.done():
                retrain.cancel()
                log.model_error = "traffic ended before the model was trained"
            return observer, report, generation_s
    finally:
        for task in feeds:
            task.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)


@dataclass(frozen=True)
class DemoResult:
    products: list[common_pb2.Product]
    profiles: int
    admitted: int
    creatives_by_format: dict[str, int]
    creatives_with_stats: int
    generation_s: float
    traffic: TrafficReport
    #: Every impression and click the demo logged to Kafka, in the order sent.
    impressions: list[events_pb2.Impression] = field(default_factory=list, repr=False)
    clicks: list[events_pb2.Click] = field(default_factory=list, repr=False)
    #: The image creatives each product's requests chose among (the simulator's candidates).
    creatives_by_product: dict[str, list[common_pb2.Creative]] = field(default_factory=dict, repr=False)
    #: The seed of the simulated users' hidden `ClickModel` (their true click probabilities).
    click_model_seed: int = 0
    #: The CTR / regret plot, when one was asked for.
    plot_path: Path | None = None
    #: The CTR model trained mid-run (version, metrics), or why none was.
    model: TrainResult | None = None
    model_error: str = ""

    def click_model(self) -> ClickModel:
        """The simulated users' hidden click model (ground truth for off-policy evaluation)."""
        return ClickModel(seed=self.click_model_seed)

    def _model_line(self) -> str:
        if self.model is None:
            return f"CTR model               none ({self.model_error or 'not asked for'})"
        metrics = self.model.metadata["metrics"]
        data = self.model.metadata["data"]
        return (
            f"CTR model               {self.model.version}: trained mid-run on "
            f"{data.get('impressions', '?')} impressions, holdout AUC {metrics.get('holdout_auc', 0):.3f}; "
            "ranking hot-swapped it in (see policy versions below)"
        )

    def format(self) -> str:
        """The printable summary."""
        total = sum(self.creatives_by_format.values())
        by_format = ", ".join(f"{n} {fmt}" for fmt, n in sorted(self.creatives_by_format.items()))
        lines = [
            "",
            "CreativeLoop demo",
            "=================",
            f"products published      {len(self.products)}",
            f"products understood     {self.profiles} ({self.admitted} admitted)",
            f"creatives generated     {total} ({by_format})",
            f"generation took         {self.generation_s:.1f} s (catalogue in -> creatives for all)",
            f"creatives with stats    {self.creatives_with_stats} (bandit.stats snapshots seen)",
            self._model_line(),
            "",
            self.traffic.format_summary(),
        ]
        if self.plot_path is not None:
            lines += ["", f"plot of CTR over time and cumulative regret: {self.plot_path}"]
        return "\n".join(lines)


def run_demo(
    work_dir: Path,
    data_dir: Path,
    n_products: int,
    n_requests: int,
    seed: int,
    *,
    plot_path: Path | None = None,
    train_after: float = 0.4,
    extra_env: Mapping[str, str] | None = None,
) -> DemoResult:
    """Run the demo end to end on a fresh local stack; with `plot_path`, also write the PNG plot.

    After `train_after` of the requests (0 disables), the demo trains the CTR model from its logs
    and ranking hot-reloads it: the rest of the traffic is served by the hybrid policy.
    `extra_env` adds settings for the services (e.g. fewer image sizes).
    """
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise RuntimeError("the demo's plot needs matplotlib (pip install matplotlib==3.11.2)")
    reviews = load_reviews(data_dir)
    # Seed the ranking policy too, so a demo run is as repeatable as asynchronous feedback allows.
    model_dir = work_dir / "models" / "ranker"
    shutil.rmtree(model_dir, ignore_errors=True)  # each demo run learns from scratch
    env = {
        "CREATIVELOOP_RANKING_SEED": str(seed),
        "CREATIVELOOP_RANKING_MODEL_DIR": str(model_dir),
        "CREATIVELOOP_RANKING_MODEL_POLL_S": "1",
        **(extra_env or {}),
    }
    with LocalStack(work_dir, extra_env=env) as stack:
        products = build_catalogue(reviews, n_products, FilesystemAssetStore(stack.asset_dir), seed=seed)
        log = _EventLog()
        observer, report, generation_s = asyncio.run(
            _run_loop(stack, products, n_requests, seed, log, train_after)
        )
    formats = Counter(
        common_pb2.CreativeFormat.Name(c.format).removeprefix("CREATIVE_FORMAT_").lower()
        for c in observer.creatives.values()
    )
    return DemoResult(
        products=products,
        profiles=len(observer.profiles),
        admitted=sum(1 for p in observer.profiles.values() if p.admission.admitted),
        creatives_by_format=dict(formats),
        creatives_with_stats=len(observer.stats),
        generation_s=generation_s,
        traffic=report,
        impressions=log.impressions,
        clicks=log.clicks,
        creatives_by_product=log.creatives_by_product,
        click_model_seed=seed,
        plot_path=plot_traffic(report, plot_path) if plot_path is not None else None,
        model=log.model,
        model_error=log.model_error,
    )
