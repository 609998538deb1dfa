"""A Triton backend whose server is gone answers quickly with a reason instead of hanging."""

from __future__ import annotations

import numpy as np
import pytest

from creativeloop.kit.models import ModelUnavailableError
from creativeloop.kit.models.triton import TritonModelClient
from creativeloop.stack.broker import free_port


@pytest.mark.timeout(60)  # a hang guard: the deadline must end the call, not the test runner
async def test_health_says_why_when_triton_is_unreachable() -> None:
    url = f"127.0.0.1:{free_port()}"
    client = TritonModelClient(url, timeout_s=0.5, retries=1)
    health = await client.health(["image_classifier"])
    assert not health.ok
    assert url in health.reason and "unreachable" in health.reason
    await client.aclose()


def test_calls_fail_with_model_unavailable_after_bounded_retries() -> None:
    client = TritonModelClient(f"127.0.0.1:{free_port()}", timeout_s=0.5, retries=1, retry_backoff_s=0.01)
    with pytest.raises(ModelUnavailableError, match="'tiny'"):
        client.infer("tiny", {"x": np.zeros((1, 4), np.float32)})
    client.close()
