"""The one registry of Kafka topics: name, partitions, compaction, message type and key."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from creativeloop.v1 import attribution_pb2, events_pb2, streams_pb2

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    """A topic and its contract: every record's value is one `message` keyed by `key`."""

    name: str
    message: type[Message]
    key: str
    compacted: bool = False
    #: None means the deployment's `topic_partitions` setting.
    partitions: int | None = None

    @property
    def dlq(self) -> Topic:
        """Where records of this topic that cannot be decoded or validated go, with the reason."""
        return Topic(self.name + DLQ_SUFFIX, events_pb2.DeadLetter, key="source key", partitions=1)


PRODUCT_CHANGES = Topic("product.changes", events_pb2.ProductChanged, key="product_id")
CONTENT_PROFILES = Topic(
    "content.profiles", events_pb2.ContentProfileUpdated, key="product_id", compacted=True
)
CREATIVES = Topic("creatives", events_pb2.CreativeUpdated, key="creative_id", compacted=True)
AD_IMPRESSIONS = Topic("ad.impressions", events_pb2.Impression, key="impression_id")
AD_CLICKS = Topic("ad.clicks", events_pb2.Click, key="impression_id")
BANDIT_STATS = Topic("bandit.stats", events_pb2.BanditStats, key="creative_id", compacted=True)
#: Each user's recent impressions and clicks per creative, published by the bandit (which owns the
#: impression-click join); ranking's behaviour features read it. A tombstone: the user is gone.
USER_BEHAVIOUR = Topic("user.behaviour", streams_pb2.UserBehaviour, key="user_id", compacted=True)
#: How far each stream stage got with each product (see creativeloop.kit.stage): the newest version
#: handled and the keys published for it. Same partition count as the input topics: a record goes
#: to its input record's partition number, so a worker reads back only its partitions' progress.
STAGE_PROGRESS = Topic("stage.progress", events_pb2.StageProgress, key="stage/product_id", compacted=True)

#: People's decisions about creatives (pin, reject), written by ranking's SetControl RPC and read
#: by every ranking replica; a tombstone releases the creative. See docs/architecture.md.
CREATIVE_CONTROLS = Topic("creative.controls", events_pb2.CreativeControl, key="creative_id", compacted=True)

#: Which policy ranking serves (`PolicyAssignment`, one key "ranking"), written when `creativeloop
#: ope gate` promotes an apprentice policy and followed by every ranking replica, which switches
#: without a restart; a tombstone restores the replicas' settings. See docs/architecture.md.
RANKING_POLICY = Topic(
    "ranking.policy", events_pb2.PolicyAssignment, key="ranking", compacted=True, partitions=1
)
#: The one key of `RANKING_POLICY`.
RANKING_POLICY_KEY = "ranking"

#: Each creative element's lift on CTR and its interval, pooled over products, per context bucket
#: (`ElementLift`), published by the attribution job (creativeloop.attribution). Latest state.
ELEMENT_ATTRIBUTION = Topic(
    "element.attribution",
    attribution_pb2.ElementLift,
    key="element_kind/element_id/context_bucket",
    compacted=True,
)

SOURCE_TOPICS: tuple[Topic, ...] = (
    PRODUCT_CHANGES,
    CONTENT_PROFILES,
    CREATIVES,
    AD_IMPRESSIONS,
    AD_CLICKS,
    BANDIT_STATS,
    USER_BEHAVIOUR,
)

#: Every topic CreativeLoop creates itself (faust creates only its own changelog topics).
ALL_TOPICS: tuple[Topic, ...] = (
    SOURCE_TOPICS
    + tuple(t.dlq for t in SOURCE_TOPICS)
    + (STAGE_PROGRESS, CREATIVE_CONTROLS, RANKING_POLICY, ELEMENT_ATTRIBUTION)
)


def by_name(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"unknown topic {name!r}")
