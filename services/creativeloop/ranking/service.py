"""The Rank RPC: choose one creative for a request and say how likely that choice was."""

from __future__ import annotations

import uuid
from typing import Any

import grpc

from creativeloop.ranking.policies import POLICY_VERSION, Policy
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue
from creativeloop.v1 import common_pb2, ranking_pb2, ranking_pb2_grpc

__all__ = ["POLICY_VERSION", "RankingServicer"]


class RankingServicer(ranking_pb2_grpc.RankingServiceServicer):
    def __init__(self, settings: RankingSettings, catalogue: CreativeCatalogue, policy: Policy) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._policy = policy

    async def Rank(
        self, request: ranking_pb2.RankRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ranking_pb2.RankResponse:
        if not request.product_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "missing product_id")
        if len(request.candidate_creative_ids) > self._settings.max_candidates:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(request.candidate_creative_ids)} candidates, limit {self._settings.max_candidates}",
            )
        creative_format = request.format or common_pb2.CREATIVE_FORMAT_IMAGE
        candidates = self._catalogue.candidates(request.product_id, creative_format)
        if request.candidate_creative_ids:
            wanted = set(request.candidate_creative_ids)
            unknown = wanted - {c.creative_id for c in candidates}
            if unknown:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"unknown or not live for product {request.product_id!r}: {sorted(unknown)[:5]}",
                )
            candidates = [c for c in candidates if c.creative_id in wanted]
        if not candidates:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unknown product_id {request.product_id!r}: no live "
                f"{common_pb2.CreativeFormat.Name(creative_format)} creatives",
            )
        decision = self._policy.pull(
            [c.creative_id for c in candidates],
            request.user_id,
            request.context,
            features=request.features if request.HasField("features") else None,
        )
        return ranking_pb2.RankResponse(
            creative=candidates[decision.index],
            propensity=decision.propensity,
            impression_id=uuid.uuid4().hex,
            policy_version=decision.policy_version,
            candidates=len(candidates),
            predicted_ctr=decision.predicted_ctr,
            stats_bucket=decision.stats_bucket,
        )
