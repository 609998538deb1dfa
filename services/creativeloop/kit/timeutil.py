"""Timestamps in one convention: UTC, protobuf Timestamp on the wire."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp


def now_timestamp() -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp
