"""`python -m creativeloop.ranking`: the ranking service process."""

from __future__ import annotations

import os

# Rank multiplies tiny matrices (50 candidates x ~100 features): one BLAS thread is faster than a
# pool spinning against the event loop for the same cores. Must be set before numpy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import asyncio  # noqa: E402
from collections.abc import Callable, Coroutine  # noqa: E402
from typing import Any  # noqa: E402

from creativeloop.kit.feed import TopicFeed  # noqa: E402
from creativeloop.kit.logs import configure_logging  # noqa: E402
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name  # noqa: E402
from creativeloop.kit.topics import AD_CLICKS, AD_IMPRESSIONS, BANDIT_STATS, CONTENT_PROFILES, CREATIVES  # noqa: E402
from creativeloop.ranking.features import FeatureStore  # noqa: E402
from creativeloop.ranking.model import ModelHolder  # noqa: E402
from creativeloop.ranking.policies import build_policy  # noqa: E402
from creativeloop.ranking.service import RankingServicer  # noqa: E402
from creativeloop.ranking.settings import RankingSettings  # noqa: E402
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard  # noqa: E402
from creativeloop.v1 import ranking_pb2, ranking_pb2_grpc  # noqa: E402


async def serve(settings: RankingSettings) -> None:
    catalogue, stats = CreativeCatalogue(), StatsBoard()
    features = FeatureStore(settings.max_users, settings.user_history)
    models = ModelHolder(settings.model_dir, settings.model_poll_s)
    policy = build_policy(settings, stats, features, models)

    def creative(key: str, event: Any) -> None:
        catalogue.apply(key, event)
        features.apply_creative(key, event)

    feeds: list[TopicFeed[Any]] = [
        TopicFeed(settings.common, CREATIVES, creative),
        TopicFeed(settings.common, BANDIT_STATS, stats.apply),
    ]
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if policy.needs_behaviour:
        # Every replica follows the behaviour streams from the beginning (no consumer group), so
        # each rebuilds the same user features and LinTS state by itself.
        feeds += [
            TopicFeed(settings.common, CONTENT_PROFILES, features.apply_profile),
            TopicFeed(settings.common, AD_IMPRESSIONS, features.apply_impression),
            TopicFeed(settings.common, AD_CLICKS, features.apply_click),
        ]
    if settings.policy == "hybrid":  # the only policy that reads the CTR model
        await asyncio.to_thread(models.refresh)
        tasks.append(models.poll)
    tasks += [feed.run for feed in feeds]

    async def caught_up() -> None:
        for feed in feeds:
            await feed.caught_up.wait()

    runtime = ServiceRuntime(
        service="ranking",
        settings=settings,
        servicers=[
            GrpcServicer(
                RankingServicer(settings, catalogue, policy),
                ranking_pb2_grpc.add_RankingServiceServicer_to_server,
                service_name(ranking_pb2, "RankingService"),
            )
        ],
        tasks=tasks,
        ready_check=caught_up,
    )
    await runtime.run()


def main() -> None:
    settings = RankingSettings()
    configure_logging(settings.common, "ranking")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
