"""Build a ContentProfile from a Product: the one function both the RPC and the stream call."""

from __future__ import annotations

from creativeloop.kit.codec import InvalidEvent
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.understanding.tags import extract_tags
from creativeloop.v1 import common_pb2

PIPELINE_VERSION = "skeleton-1"


def check_product(product: common_pb2.Product, settings: UnderstandingSettings) -> None:
    """Raise InvalidEvent with a reason for input no profile should be built from."""
    if not product.product_id:
        raise InvalidEvent("missing product.product_id")
    if not product.title.strip():
        raise InvalidEvent("empty product.title")
    if len(product.title) > settings.max_title_chars:
        raise InvalidEvent(
            f"product.title has {len(product.title)} characters, limit {settings.max_title_chars}"
        )
    if len(product.images) > settings.max_images:
        raise InvalidEvent(f"{len(product.images)} images, limit {settings.max_images}")
    for index, image in enumerate(product.images):
        if not image.uri and not image.content:
            raise InvalidEvent(f"images[{index}] has neither uri nor content")
        if len(image.content) > settings.max_image_bytes:
            raise InvalidEvent(
                f"images[{index}] is {len(image.content)} bytes, limit {settings.max_image_bytes}"
            )


def build_profile(product: common_pb2.Product, settings: UnderstandingSettings) -> common_pb2.ContentProfile:
    """Deterministic: the same product version always yields the same profile."""
    check_product(product, settings)
    tags = extract_tags(product, settings.max_tags)
    selling_points = [tag.text for tag in tags if tag.source != common_pb2.TAG_SOURCE_CATEGORY][:5]
    reasons = [] if product.images else ["NO_IMAGE"]
    return common_pb2.ContentProfile(
        product_id=product.product_id,
        product_version=product.version,
        title=product.title.strip(),
        category=product.category,
        price=product.price,
        # Profiles travel on Kafka: keep media by reference, never inline bytes.
        images=[
            common_pb2.Media(uri=m.uri, sha256=m.sha256, mime_type=m.mime_type)
            for m in product.images
            if m.uri
        ],
        tags=tags,
        selling_points=selling_points,
        admission=common_pb2.Admission(admitted=True, reason_codes=reasons),
        language=product.language or "en",
        pipeline_version=PIPELINE_VERSION,
    )
