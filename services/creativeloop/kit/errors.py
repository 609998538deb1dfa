"""What a stream stage does with an error: bad records dead-letter, outages pause, bugs get a few tries.

Every handler error falls in one of three kinds, and `classify` is the one place that decides:

- ``INVALID``: the record itself is bad (undecodable, fails its contract, an asset it names is
  missing): `creativeloop.kit.codec.InvalidEvent`. Retrying cannot help; it goes to
  ``<topic>.dlq`` with the reason and the stream goes on.
- ``DEPENDENCY``: something the handler needs could not answer, and the same record will succeed
  once it is back: the model backend (`ModelError` other than `InputMismatchError`, Triton's
  UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED), a gRPC peer (same codes), the broker
  (any aiokafka `KafkaError` except those about the size or format of what was sent), a refused
  connection, or anything a service raises as `DependencyUnavailable`. The worker pauses the
  partition, reports NOT_SERVING and retries the record until it succeeds; nothing is
  dead-lettered.
- ``BUG``: anything else. It may be transient, so the worker retries it a bounded number of times,
  then dead-letters the record with the error as the reason (replayable with `creativeloop dlq
  replay` once fixed), so one poisonous record cannot stall a partition forever.

Services mark their own outages once, where they happen, by raising (a subclass of)
`DependencyUnavailable`, e.g. imagegen's ``CopygenUnavailable`` or the S3 asset store's
``AssetStoreUnavailable``:

>>> classify(DependencyUnavailable("copygen", "GenerateCopy at 127.0.0.1:1 failed: UNAVAILABLE")).kind
<FailureKind.DEPENDENCY: 'dependency'>
>>> from creativeloop.kit.codec import InvalidEvent
>>> classify(InvalidEvent("empty product.title")).kind
<FailureKind.INVALID: 'invalid'>
>>> classify(KeyError("bug")).kind
<FailureKind.BUG: 'bug'>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from tritonclient.utils import InferenceServerException

from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.models.errors import InputMismatchError, ModelError


class DependencyUnavailable(RuntimeError):
    """A dependency (`dependency` names it: "models", "copygen", "broker"...) could not answer.

    Raise it (or subclass it) for failures that say nothing about the record: the stream worker
    pauses and retries instead of dead-lettering.
    """

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency}: {reason}")
        self.dependency = dependency
        self.reason = reason


class FailureKind(enum.Enum):
    INVALID = "invalid"
    DEPENDENCY = "dependency"
    BUG = "bug"


@dataclass(frozen=True)
class Failure:
    """How a handler error is treated: its kind, the dependency (for DEPENDENCY) and a reason."""

    kind: FailureKind
    reason: str
    dependency: str = ""


#: gRPC codes that say the peer could not answer now, not that the request was wrong.
RETRIABLE_GRPC_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
_RETRIABLE_TRITON = frozenset(f"StatusCode.{code.name}" for code in RETRIABLE_GRPC_CODES)
#: Broker errors about what was sent (too large, malformed): retrying the same record fails again.
_RECORD_KAFKA_ERRORS = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    InvalidMessageError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
)


def _outage(error: BaseException) -> Failure | None:
    """The dependency outage `error` itself reports, or None."""
    if isinstance(error, DependencyUnavailable):
        return Failure(FailureKind.DEPENDENCY, error.reason, error.dependency)
    if isinstance(error, ModelError) and not isinstance(error, InputMismatchError):
        return Failure(FailureKind.DEPENDENCY, str(error), "models")
    if isinstance(error, InferenceServerException) and str(error.status() or "") in _RETRIABLE_TRITON:
        return Failure(FailureKind.DEPENDENCY, f"triton: {error.message() or error}", "models")
    if isinstance(error, grpc.RpcError):  # grpc.aio.AioRpcError and the sync call errors have code()
        code = getattr(error, "code", None)
        status = code() if callable(code) else None
        if status in RETRIABLE_GRPC_CODES:
            details = getattr(error, "details", lambda: "")()
            return Failure(FailureKind.DEPENDENCY, f"{status.name}: {details}", "grpc")
    if isinstance(error, KafkaError) and not isinstance(error, _RECORD_KAFKA_ERRORS):
        return Failure(FailureKind.DEPENDENCY, f"{type(error).__name__}: {error}", "broker")
    if isinstance(error, ConnectionError):
        return Failure(FailureKind.DEPENDENCY, repr(error), "network")
    return None


def classify(error: BaseException) -> Failure:
    """INVALID, DEPENDENCY or BUG (see the module docstring).

    An `InvalidEvent` is always INVALID, even when raised from a dependency error (copygen
    rejecting a profile is the profile's fault). Otherwise the error and its explicit causes
    (``raise ... from``) are searched for an outage, so wrapping one keeps it retriable.
    """
    if isinstance(error, InvalidEvent):
        return Failure(FailureKind.INVALID, error.reason)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _outage(current)
        if found is not None:
            return found
        current = current.__cause__
    return Failure(FailureKind.BUG, repr(error))


def is_retriable(error: BaseException) -> bool:
    """True for a dependency outage: retry the same record later, never dead-letter it."""
    return classify(error).kind is FailureKind.DEPENDENCY
