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
from creativeloop.kit.lifecycle import is_live  # noqa: E402
from creativeloop.kit.logs import configure_logging, get_logger  # noqa: E402
from creativeloop.kit.producer import EventProducer  # noqa: E402
from creativeloop.kit.server import GrpcServicer, ServiceRuntime, service_name  # noqa: E402
from creativeloop.kit.topics import (  # noqa: E402
    AD_CLICKS,
    AD_IMPRESSIONS,
    BANDIT_STATS,
    CONTENT_PROFILES,
    CREATIVE_CONTROLS,
    CREATIVES,
    RANKING_POLICY,
    USER_BEHAVIOUR,
)
from creativeloop.ranking.apprentice import PolicyRoles  # noqa: E402
from creativeloop.ranking.control import CreativeControlServicer  # noqa: E402
from creativeloop.ranking.features import FeatureStore  # noqa: E402
from creativeloop.ranking.model import ModelHolder  # noqa: E402
from creativeloop.ranking.outcomes import OutcomeJoiner  # noqa: E402
from creativeloop.ranking.policies import Policy, build_policy  # noqa: E402
from creativeloop.ranking.service import RankingServicer  # noqa: E402
from creativeloop.ranking.settings import RankingSettings  # noqa: E402
from creativeloop.ranking.state import CreativeCatalogue, StatsBoard  # noqa: E402
from creativeloop.v1 import control_pb2, control_pb2_grpc, events_pb2, ranking_pb2, ranking_pb2_grpc  # noqa: E402

log = get_logger(__name__)


async def serve(settings: RankingSettings) -> None:
    catalogue, stats = CreativeCatalogue(), StatsBoard()
    producer = EventProducer(settings.common, "ranking")  # SetControl's decisions
    await producer.start()
    features = FeatureStore(settings.max_users, settings.user_history)
    models = ModelHolder(settings.model_dir, settings.model_poll_s)
    # The serving policy and, in apprentice mode, the candidate beside it (ranking.apprentice);
    # both read the same views and learn from the same outcomes.
    names = [n for n in (settings.policy, settings.apprentice_policy) if n]
    policies: dict[str, Policy] = {
        name: build_policy(
            settings.model_copy(update={"policy": name, "apprentice_policy": ""}), stats, features, models
        )
        for name in names
    }
    roles = PolicyRoles(policies, settings.policy, settings.apprentice_policy)

    def creative(key: str, event: Any) -> None:
        catalogue.apply(key, event)
        if is_live(event):  # a state record carries no content: keep what the features have
            features.apply_creative(key, event)

    def bandit_stats(key: str, event: events_pb2.BanditStats) -> None:
        stats.apply(key, event)
        features.apply_stats(key, event)

    # Ranking reads latest state only, not the impression and click logs (except for `shared`,
    # below): the bandit owns the join and publishes counts (bandit.stats) and each user's recent
    # behaviour (user.behaviour), re-publishing every key at least every few minutes, so a
    # replica reads a bounded look-back of them and starts in seconds whatever the history. No
    # consumer group: every replica keeps the same caches.
    lookback = settings.state_lookback_s or None
    feeds: list[TopicFeed[Any]] = [
        TopicFeed(settings.common, CREATIVES, creative),
        TopicFeed(settings.common, CREATIVE_CONTROLS, catalogue.apply_control, delete=catalogue.release),
        TopicFeed(settings.common, BANDIT_STATS, bandit_stats, lookback_s=lookback),
        # Promotions (`creativeloop ope gate`): from the beginning, the latest record counts.
        TopicFeed(settings.common, RANKING_POLICY, roles.assign, delete=roles.reset),
    ]
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if any(p.needs_behaviour for p in policies.values()):
        feeds += [
            TopicFeed(settings.common, CONTENT_PROFILES, features.apply_profile),
            TopicFeed(
                settings.common,
                USER_BEHAVIOUR,
                features.apply_behaviour,
                delete=features.forget_user,
                lookback_s=lookback,
            ),
        ]
    if "shared" in policies:
        # The one policy that learns a model from every outcome (serving or apprentice): it
        # follows the impression and click logs from the look-back on (not from the beginning)
        # and joins them itself.
        joiner = OutcomeJoiner(policies["shared"].update, settings.reward_wait_s)
        feeds += [
            TopicFeed(settings.common, AD_IMPRESSIONS, joiner.impression, lookback_s=lookback),
            TopicFeed(settings.common, AD_CLICKS, joiner.click, lookback_s=lookback),
        ]
        tasks.append(joiner.run)
    if "hybrid" in policies:  # the only policy that reads the CTR model
        await asyncio.to_thread(models.refresh)
        tasks.append(models.poll)
    tasks += [feed.run for feed in feeds]

    async def caught_up() -> None:
        for feed in feeds:
            await feed.caught_up.wait()
        log.info("latest state read", records={feed.topic.name: feed.records_read for feed in feeds})

    runtime = ServiceRuntime(
        service="ranking",
        settings=settings,
        servicers=[
            GrpcServicer(
                RankingServicer(settings, catalogue, roles),
                ranking_pb2_grpc.add_RankingServiceServicer_to_server,
                service_name(ranking_pb2, "RankingService"),
            ),
            GrpcServicer(
                CreativeControlServicer(catalogue, producer),
                control_pb2_grpc.add_CreativeControlServiceServicer_to_server,
                service_name(control_pb2, "CreativeControlService"),
            ),
        ],
        tasks=tasks,
        ready_check=caught_up,
        on_stop=[producer.stop],
    )
    await runtime.run()


def main() -> None:
    settings = RankingSettings()
    configure_logging(settings.common, "ranking")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
