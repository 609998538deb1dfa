"""Error classification: bad records dead-letter, dependency outages pause, anything else is a bug."""

from __future__ import annotations

import boto3
import grpc
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
)
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from tritonclient.utils import InferenceServerException

from creativeloop.imagegen.service import CopyClient, CopygenUnavailable
from creativeloop.kit.assets import AssetNotFound, AssetStoreUnavailable, S3AssetStore
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.errors import DependencyUnavailable, FailureKind, classify, is_retriable
from creativeloop.kit.models import InputMismatchError, ModelError, ModelNotFoundError, ModelUnavailableError
from creativeloop.kit.models.triton import TritonModelClient
from creativeloop.stack.broker import free_port
from creativeloop.v1 import common_pb2


def aio_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=f"{code.name} here")


@pytest.mark.parametrize(
    ("error", "kind", "dependency"),
    [
        (InvalidEvent("empty product.title"), FailureKind.INVALID, ""),
        (ModelUnavailableError("ocr_det", "triton UNAVAILABLE"), FailureKind.DEPENDENCY, "models"),
        (ModelNotFoundError("ocr_det", "no such model"), FailureKind.DEPENDENCY, "models"),
        (ModelError("ocr_det", "triton INTERNAL: stub died"), FailureKind.DEPENDENCY, "models"),
        (InputMismatchError("ocr_det", "x", "dtype float32"), FailureKind.BUG, ""),
        (InferenceServerException("down", status="StatusCode.UNAVAILABLE"), FailureKind.DEPENDENCY, "models"),
        (
            InferenceServerException("slow", status="StatusCode.DEADLINE_EXCEEDED"),
            FailureKind.DEPENDENCY,
            "models",
        ),
        (InferenceServerException("bad", status="StatusCode.INVALID_ARGUMENT"), FailureKind.BUG, ""),
        (aio_error(grpc.StatusCode.UNAVAILABLE), FailureKind.DEPENDENCY, "grpc"),
        (aio_error(grpc.StatusCode.DEADLINE_EXCEEDED), FailureKind.DEPENDENCY, "grpc"),
        (aio_error(grpc.StatusCode.INTERNAL), FailureKind.BUG, ""),
        (KafkaConnectionError("no broker"), FailureKind.DEPENDENCY, "broker"),
        (KafkaTimeoutError(), FailureKind.DEPENDENCY, "broker"),
        (NotLeaderForPartitionError(), FailureKind.DEPENDENCY, "broker"),
        (MessageSizeTooLargeError(), FailureKind.BUG, ""),
        (RecordTooLargeError(), FailureKind.BUG, ""),
        (ConnectionRefusedError(111, "refused"), FailureKind.DEPENDENCY, "network"),
        (CopygenUnavailable("GenerateCopy failed: UNAVAILABLE"), FailureKind.DEPENDENCY, "copygen"),
        (DependencyUnavailable("assets", "s3 endpoint down"), FailureKind.DEPENDENCY, "assets"),
        (KeyError("oops"), FailureKind.BUG, ""),
        (ZeroDivisionError(), FailureKind.BUG, ""),
    ],
)
def test_classify(error: BaseException, kind: FailureKind, dependency: str) -> None:
    failure = classify(error)
    assert failure.kind is kind and failure.dependency == dependency
    assert failure.reason
    assert is_retriable(error) == (kind is FailureKind.DEPENDENCY)


def test_an_outage_wrapped_by_a_service_stays_retriable() -> None:
    try:
        try:
            raise ModelUnavailableError("aesthetics", "triton UNAVAILABLE")
        except ModelError as inner:
            raise RuntimeError("scoring failed") from inner
    except RuntimeError as outer:
        assert classify(outer).kind is FailureKind.DEPENDENCY


def test_invalid_event_wins_over_its_cause() -> None:
    """copygen answering INVALID_ARGUMENT, or a wrapped outage turned into a verdict on the record."""
    try:
        try:
            raise aio_error(grpc.StatusCode.UNAVAILABLE)
        except grpc.aio.AioRpcError as inner:
            raise InvalidEvent("rejected") from inner
    except InvalidEvent as outer:
        assert classify(outer).kind is FailureKind.INVALID


async def test_real_clients_failing_on_an_absent_peer_are_retriable() -> None:
    """What the clients raise when nothing listens: the gRPC peer (copygen) and a Triton server."""
    copy = CopyClient(f"127.0.0.1:{free_port()}", timeout_s=0.3)
    try:
        with pytest.raises(CopygenUnavailable) as copy_error:
            await copy.generate(common_pb2.ContentProfile(product_id="p", title="t"), 1, 30)
    finally:
        await copy.close()
    assert classify(copy_error.value).dependency == "copygen"
    assert classify(copy_error.value.__cause__ or copy_error.value).kind is FailureKind.DEPENDENCY

    triton = TritonModelClient(f"127.0.0.1:{free_port()}", timeout_s=0.5, retries=0)
    try:
        with pytest.raises(ModelError) as model_error:
            triton.spec("ocr_det")
    finally:
        triton.close()
    assert classify(model_error.value).kind is FailureKind.DEPENDENCY


def test_an_unreachable_or_failing_s3_store_is_an_outage_not_a_bad_record() -> None:
    config = Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1)
    unreachable = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )
    store = S3AssetStore("bucket", client=unreachable)
    with pytest.raises(AssetStoreUnavailable) as error:
        store.get("s3://bucket/creativeloop/ab/abc.png")
    assert classify(error.value).dependency == "assets"
    with pytest.raises(AssetStoreUnavailable):
        store.put(b"bytes", "image/png")

    stubbed = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=config
    )
    store = S3AssetStore("bucket", client=stubbed)
    with Stubber(stubbed) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(AssetStoreUnavailable, match="SlowDown"):
            store.get("s3://bucket/k.png")
        with pytest.raises(AssetNotFound):  # the record names an asset that is not there: its fault
            store.get("s3://bucket/k.png")
        with pytest.raises(ClientError) as denied:  # neither: a configuration problem, a bug here
            store.get("s3://bucket/k.png")
        assert classify(denied.value).kind is FailureKind.BUG
