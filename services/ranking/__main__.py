"""`python -m creativeloop.ranking`: the ranking service process."""

from __future__ import annotations

import asyncio

from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.logs import configure_logging
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name
from creativeloop.kit.topics import BANDIT_STATS, CREATIVES
from creativeloop.ranking.service import RankingServicer
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard
from creativeloop.v1 import ranking_pb2, ranking_pb2_grpc


async def serve(settings: RankingSettings) -> None:
    catalogue, stats = CreativeCatalogue(), StatsBoard()
    creatives_feed = TopicFeed(settings.common, CREATIVES, catalogue.apply)
    stats_feed = TopicFeed(settings.common, BANDIT_STATS, stats.apply)

    async def caught_up() -> None:
        await creatives_feed.caught_up.wait()
        await stats_feed.caught_up.wait()

    runtime = ServiceRuntime(
        service="ranking",
        settings=settings,
        servicers=[
            GrpcServicer(
                RankingServicer(settings, catalogue, stats),
                ranking_pb2_grpc.add_RankingServiceServicer_to_server,
                service_name(ranking_pb2, "RankingService"),
            )
        ],
        tasks=[creatives_feed.run, stats_feed.run],
        ready_check=caught_up,
    )
    await runtime.run()


def main() -> None:
    settings = RankingSettings()
    configure_logging(settings.common, "ranking")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
