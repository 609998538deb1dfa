"""The creative lifecycle without a broker: the state records the retirement hook writes, how
readers read them, that ranking (catalogue and the Rank RPC on a real gRPC server) never serves
a creative that is not live, and people's controls (SetControl: pin, reject, release)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest
from google.protobuf.message import Message

from creativeloop.kit.codec import encode
from creativeloop.kit.lifecycle import (
    LIVE,
    PAUSED,
    REJECTED,
    RETIRED,
    CreativeRetirer,
    creative_state,
    is_live,
    state_change,
)
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.stage import ProfileStage, Retirement, profile_subject
from creativeloop.kit.topics import CREATIVES, Topic
from creativeloop.ranking.control import PINNED_POLICY_VERSION, CreativeControlServicer
from creativeloop.ranking.policies import build_policy
from creativeloop.ranking.service import RankingServicer
from creativeloop.ranking.settings import RankingSettings
from creativeloop.ranking.state import CreativeCatalogue
from creativeloop.stack.broker import free_port
from creativeloop.v1 import (
    common_pb2,
    control_pb2,
    control_pb2_grpc,
    events_pb2,
    ranking_pb2,
    ranking_pb2_grpc,
)

IMAGE = common_pb2.CREATIVE_FORMAT_IMAGE


class Recorder:
    """Stands in for EventProducer: what was sent, in order (None: a tombstone)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message | None]] = []

    async def send_batch(self, topic: Topic, items: Sequence[tuple[str, Message]]) -> None:
        self.sent += [(topic.name, key, event) for key, event in items]

    async def send(self, topic: Topic, key: str, event: Message, *, partition: int | None = None) -> None:
        encode(event)  # validated as EventProducer would
        self.sent.append((topic.name, key, event))

    async def send_tombstone(self, topic: Topic, key: str) -> None:
        self.sent.append((topic.name, key, None))


def image(cid: str, product: str = "p1", version: int = 1) -> events_pb2.CreativeUpdated:
    return events_pb2.CreativeUpdated(
        creative=common_pb2.Creative(
            creative_id=cid, product_id=product, product_version=version, format=IMAGE, headline=cid
        )
    )


def test_state_reads_the_legacy_retired_flag() -> None:
    assert creative_state(image("a")) == LIVE and is_live(image("a"))
    assert creative_state(events_pb2.CreativeUpdated(retired=True)) == RETIRED
    paused = state_change("a", "p1", 1, PAUSED, "not_admitted")
    assert creative_state(paused) == PAUSED and paused.retired, "non-live records set `retired` too"
    assert not is_live(paused)


async def test_the_retirer_pauses_or_retires_each_superseded_key() -> None:
    producer = Recorder()
    retire = CreativeRetirer(producer)
    await retire(Retirement("imagegen", "p1", 1, 2, False, ("a", "b")))
    await retire(Retirement("imagegen", "p2", 3, 4, False, ("c",), paused=True, reasons=("AD_LAW", "Y")))
    await retire(Retirement("imagegen", "p3", 5, 5, True, ("d",)))
    await retire(Retirement("imagegen", "p4", None, 1, True, ()))  # nothing to retire: nothing sent
    got = [
        (topic, key, e.creative.product_id, e.creative.product_version, e.state, e.state_reason, e.retired)
        for topic, key, e in producer.sent
        if isinstance(e, events_pb2.CreativeUpdated)
    ]
    assert got == [
        ("creatives", "a", "p1", 1, RETIRED, "superseded", True),
        ("creatives", "b", "p1", 1, RETIRED, "superseded", True),
        ("creatives", "c", "p2", 3, PAUSED, "not_admitted:AD_LAW", True),
        ("creatives", "d", "p3", 5, RETIRED, "deleted", True),
    ]
    assert retire.published == 4


async def test_a_stage_with_the_retirer_writes_states_after_the_replacements() -> None:
    producer = Recorder()

    async def generate(event: events_pb2.ContentProfileUpdated) -> list[tuple[str, Message]]:
        version = event.profile.product_version
        return [(f"img-v{version}", image(f"img-v{version}", version=version))]

    stage = ProfileStage(
        "imagegen",
        cast(EventProducer, producer),
        CREATIVES,
        generate,
        profile_subject,
        retire=CreativeRetirer(producer),
    )

    def profile(version: int, admitted: bool = True) -> events_pb2.ContentProfileUpdated:
        return events_pb2.ContentProfileUpdated(
            profile=common_pb2.ContentProfile(
                product_id="p1", product_version=version, admission=common_pb2.Admission(admitted=admitted)
            )
        )

    await stage(profile(1))
    await stage(profile(2))
    await stage(profile(3, admitted=False))
    await stage(profile(4))
    states = [
        (key, creative_state(e)) for _, key, e in producer.sent if isinstance(e, events_pb2.CreativeUpdated)
    ]
    assert states == [
        ("img-v1", LIVE),
        ("img-v2", LIVE),  # the replacement is out first
        ("img-v1", RETIRED),
        ("img-v2", PAUSED),  # version 3 lost admission
        ("img-v4", LIVE),
        ("img-v2", RETIRED),  # version 4 is admitted again: the paused ones retire
    ]


def test_the_catalogue_serves_only_live_creatives_and_keeps_the_others_states() -> None:
    catalogue = CreativeCatalogue()
    for cid in ("a", "b", "c", "d"):
        catalogue.apply(cid, image(cid))
    catalogue.apply("a", state_change("a", "p1", 1, RETIRED, "superseded"))
    catalogue.apply("b", state_change("b", "p1", 1, PAUSED, "not_admitted"))
    catalogue.apply("c", state_change("c", "p1", 1, REJECTED))
    assert [c.creative_id for c in catalogue.candidates("p1", IMAGE)] == ["d"]
    assert catalogue.inactive("p1") == {"a": RETIRED, "b": PAUSED, "c": REJECTED}
    assert (catalogue.state("a", "p1"), catalogue.state("d", "p1"), catalogue.state("z", "p1")) == (
        RETIRED,
        LIVE,
        None,
    )
    catalogue.apply("b", image("b"))  # republished live (the same version admitted again)
    assert [c.creative_id for c in catalogue.candidates("p1", IMAGE)] == ["b", "d"]
    assert catalogue.candidates("p1", IMAGE)[0].headline == "b"
    assert "b" not in catalogue.inactive("p1") and len(catalogue) == 2


@dataclass
class Ranking:
    catalogue: CreativeCatalogue
    producer: Recorder
    rank: Any
    set_control: Any


@pytest.fixture
async def ranking() -> AsyncIterator[Ranking]:
    """A real gRPC server with the Rank and SetControl servicers over a catalogue the test fills."""
    catalogue = CreativeCatalogue()
    producer = Recorder()
    settings = RankingSettings(policy="thompson", seed=0)
    server = grpc.aio.server()
    ranking_pb2_grpc.add_RankingServiceServicer_to_server(
        RankingServicer(settings, catalogue, build_policy(settings)), server
    )
    control_pb2_grpc.add_CreativeControlServiceServicer_to_server(
        CreativeControlServicer(catalogue, producer), server
    )
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Ranking(
                catalogue,
                producer,
                ranking_pb2_grpc.RankingServiceStub(channel).Rank,
                control_pb2_grpc.CreativeControlServiceStub(channel).SetControl,
            )
    finally:
        await server.stop(None)


async def test_rank_never_serves_a_creative_that_is_not_live(ranking: Ranking) -> None:
    catalogue, rank = ranking.catalogue, ranking.rank
    for cid in ("old-1", "old-2", "new-1", "new-2"):
        catalogue.apply(cid, image(cid))
    for cid in ("old-1", "old-2"):
        catalogue.apply(cid, state_change(cid, "p1", 1, RETIRED, "superseded"))
    served = set()
    for _ in range(60):
        reply = await rank(ranking_pb2.RankRequest(user_id="u", product_id="p1", format=IMAGE))
        served.add(reply.creative.creative_id)
        assert reply.candidates == 2
    assert served == {"new-1", "new-2"}
    # Named candidates that are not live are skipped...
    reply = await rank(
        ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=["old-1", "new-2"])
    )
    assert reply.creative.creative_id == "new-2" and reply.candidates == 1
    # ...and when none is live the call fails with FAILED_PRECONDITION, saying why.
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await rank(
            ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=["old-1", "old-2"])
        )
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "2 CREATIVE_STATE_RETIRED" in (failed.value.details() or "")
    # An id ranking never saw is still the caller's error.
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await rank(ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=["nope"]))
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_rank_fails_clearly_when_a_product_has_nothing_live(
    ranking: Ranking,
) -> None:
    catalogue, rank = ranking.catalogue, ranking.rank
    catalogue.apply("a", image("a"))
    catalogue.apply("b", image("b"))
    catalogue.apply("a", state_change("a", "p1", 1, PAUSED, "not_admitted"))
    catalogue.apply("b", state_change("b", "p1", 1, RETIRED, "deleted"))
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await rank(ranking_pb2.RankRequest(product_id="p1", format=IMAGE))
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "1 CREATIVE_STATE_PAUSED, 1 CREATIVE_STATE_RETIRED" in (failed.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await rank(ranking_pb2.RankRequest(product_id="never-seen", format=IMAGE))
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT


PIN, REJECT = events_pb2.CONTROL_ACTION_PIN, events_pb2.CONTROL_ACTION_REJECT


def request(*candidates: str) -> ranking_pb2.RankRequest:
    return ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=candidates)


def control(creative_id: str, action: int = 0, **fields: str) -> control_pb2.SetControlRequest:
    return control_pb2.SetControlRequest(creative_id=creative_id, product_id="p1", action=action, **fields)  # type: ignore[arg-type]


async def test_a_rejected_creative_is_never_served_and_a_release_brings_it_back(ranking: Ranking) -> None:
    for cid in ("a", "b"):
        ranking.catalogue.apply(cid, image(cid))
    reply = await ranking.set_control(
        control_pb2.SetControlRequest(
            creative_id="a", product_id="p1", action=REJECT, actor="adv", note="off-brand"
        )
    )
    assert reply.live and reply.control.action == REJECT and reply.control.actor == "adv"
    topic, key, event = ranking.producer.sent[-1]
    assert (topic, key) == ("creative.controls", "a") and isinstance(event, events_pb2.CreativeControl)
    assert event.action == REJECT and event.note == "off-brand"
    assert ranking.catalogue.state("a", "p1") == REJECTED
    served = {
        (await ranking.rank(ranking_pb2.RankRequest(product_id="p1", format=IMAGE))).creative.creative_id
        for _ in range(30)
    }
    assert served == {"b"}
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await ranking.rank(
            ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=["a"])
        )
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "CREATIVE_STATE_REJECTED" in (failed.value.details() or "")
    # A replayed (republished) creative stays rejected: the decision is on its own topic.
    ranking.catalogue.apply("a", image("a"))
    assert ranking.catalogue.state("a", "p1") == REJECTED
    # Released (a tombstone on creative.controls): served again.
    await ranking.set_control(control("a"))
    assert ranking.producer.sent[-1] == ("creative.controls", "a", None)
    reply = await ranking.rank(
        ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=["a"])
    )
    assert reply.creative.creative_id == "a"


async def test_pinned_creatives_are_served_outside_the_bandit_with_their_propensity(ranking: Ranking) -> None:
    for cid in ("a", "b", "c"):
        ranking.catalogue.apply(cid, image(cid))
    await ranking.set_control(control("b", PIN))
    for _ in range(20):
        reply = await ranking.rank(ranking_pb2.RankRequest(product_id="p1", format=IMAGE))
        assert reply.creative.creative_id == "b" and reply.propensity == 1.0
        assert reply.policy_version == PINNED_POLICY_VERSION and reply.candidates == 3
    await ranking.set_control(control("c", PIN))
    served = set()
    for _ in range(60):
        reply = await ranking.rank(ranking_pb2.RankRequest(product_id="p1", format=IMAGE))
        assert reply.propensity == 0.5, "uniform among the two pinned"
        served.add(reply.creative.creative_id)
    assert served == {"b", "c"}
    # A pinned creative that is retired is not served: the lifecycle comes first.
    ranking.catalogue.apply("b", state_change("b", "p1", 1, RETIRED, "superseded"))
    ranking.catalogue.apply("c", state_change("c", "p1", 1, PAUSED, "not_admitted"))
    reply = await ranking.rank(ranking_pb2.RankRequest(product_id="p1", format=IMAGE))
    assert reply.creative.creative_id == "a" and reply.policy_version != PINNED_POLICY_VERSION
    # A request whose candidates leave out the pinned ones goes to the bandit.
    ranking.catalogue.apply("b", image("b"))
    reply = await ranking.rank(
        ranking_pb2.RankRequest(product_id="p1", format=IMAGE, candidate_creative_ids=["a"])
    )
    assert reply.creative.creative_id == "a" and reply.policy_version != PINNED_POLICY_VERSION


async def test_set_control_needs_a_known_creative(ranking: Ranking) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await ranking.set_control(control_pb2.SetControlRequest(creative_id="x", product_id="p1", action=PIN))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await ranking.set_control(control_pb2.SetControlRequest(creative_id="x", action=PIN))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ranking.producer.sent == []
