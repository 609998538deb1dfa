"""`AttributionService.GetElementAttribution`: the job's current estimates, pooled over products
(the same as `element.attribution`) or within one product, per context bucket."""

from __future__ import annotations

from typing import Any

import grpc

from creativeloop.attribution.job import AttributionJob, lift_message
from creativeloop.kit.validation import Invalid, check_id
from creativeloop.v1 import attribution_pb2, attribution_pb2_grpc


class AttributionServicer(attribution_pb2_grpc.AttributionServiceServicer):
    def __init__(self, job: AttributionJob) -> None:
        self._job = job

    async def GetElementAttribution(
        self,
        request: attribution_pb2.GetElementAttributionRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> attribution_pb2.GetElementAttributionResponse:
        try:
            check_id("product_id", request.product_id)
        except Invalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)
        if not self._job.ready.is_set():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "still reading the logs")
        estimator = self._job.estimator
        lifts = []
        for kind, value, bucket in estimator.element_keys():
            if bucket != request.context_bucket or (request.element_kind and kind != request.element_kind):
                continue
            estimate = estimator.estimate(kind, value, bucket, product_id=request.product_id)
            if request.product_id and estimate.impressions_with == 0:
                continue  # an element this product's creatives do not have
            lifts.append(lift_message(estimate, request.product_id))
        lifts.sort(key=lambda m: (m.element_kind, -m.lift, m.element_id))
        return attribution_pb2.GetElementAttributionResponse(lifts=lifts)
