"""Pick the model backend from settings: the one place that knows both backends exist."""

from __future__ import annotations

from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.triton import TritonModelClient
from creativeloop.kit.settings import ModelSettings


def model_client_from_settings(settings: ModelSettings | None = None) -> ModelClient:
    settings = settings or ModelSettings()
    if settings.backend == "triton":
        return TritonModelClient(
            settings.triton_url, timeout_s=settings.triton_timeout_s, retries=settings.triton_retries
        )
    # onnxruntime comes from one of two alternative extras (cpu, gpu): a Triton-only deployment may
    # have neither, so the embedded backend is imported only when it is chosen.
    from creativeloop.kit.models.embedded import EmbeddedModelClient

    return EmbeddedModelClient(
        settings.repository,
        providers=settings.provider_list,
        intra_op_threads=settings.intra_op_threads,
        inter_op_threads=settings.inter_op_threads,
        micro_batch_max=settings.micro_batch_max,
        micro_batch_wait_ms=settings.micro_batch_wait_ms,
    )
