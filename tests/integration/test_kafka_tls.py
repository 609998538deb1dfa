"""Kafka over TLS end to end: the project's clients, configured only by CREATIVELOOP_KAFKA_*, against
the real local broker behind a TLS terminator.

Tansu 0.6 (the local broker) does not terminate TLS itself in the build that installs here, so the
test puts a small TLS proxy in front of it and has the broker advertise the proxy's port: every
byte between the clients and the broker crosses TLS, and a plaintext client is refused. SASL
cannot be exercised against this broker; `test_sasl_options_reach_the_clients` checks the options
the settings produce instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from creativeloop.kit.admin import ensure_topics
from creativeloop.kit.feed import TopicFeed
from creativeloop.kit.kafka import client_options, faust_credentials
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import CommonSettings, KafkaSecuritySettings
from creativeloop.kit.topics import PRODUCT_CHANGES
from creativeloop.stack.broker import TansuBroker, free_port
from creativeloop.v1 import common_pb2, events_pb2
from tests.certs import make_ca, make_leaf, write_pem

pytestmark = pytest.mark.integration


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def tls_terminator(port: int, upstream: int, context: ssl.SSLContext) -> AsyncIterator[None]:
    """Accept TLS on `port` and relay the plaintext to the broker on `upstream`."""

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, broker_writer), _pipe(broker_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port, ssl=context)
    try:
        yield
    finally:
        server.close()


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca = make_ca("kafka test CA")
    write_pem(tmp_path / "ca.pem", ca[0])
    write_pem(tmp_path / "broker.pem", *make_leaf(ca, "broker", server=True, ips=("127.0.0.1",)))
    return tmp_path / "ca.pem", tmp_path / "broker.pem", tmp_path / "broker.key"


async def test_the_clients_talk_to_the_broker_over_tls_and_plaintext_is_refused(
    tmp_path: Path, pki: tuple[Path, Path, Path]
) -> None:
    ca_file, cert_file, key_file = pki
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    tls_port = free_port()
    with TansuBroker(advertised_port=tls_port, log_path=tmp_path / "tansu.log") as broker:
        async with tls_terminator(tls_port, broker.port, server_context):
            settings = CommonSettings(
                bootstrap_servers=f"127.0.0.1:{tls_port}",
                kafka=KafkaSecuritySettings(security_protocol="SSL", ssl_ca_file=ca_file),
            )
            await ensure_topics(settings)  # the admin client over TLS
            product = common_pb2.Product(product_id="p-tls", version=1, title="Linen shirt")
            async with EventProducer(settings, "tls-test") as producer:
                await producer.send(PRODUCT_CHANGES, "p-tls", events_pb2.ProductChanged(product=product))
            seen: dict[str, events_pb2.ProductChanged] = {}
            feed: TopicFeed[events_pb2.ProductChanged] = TopicFeed(
                settings, PRODUCT_CHANGES, lambda key, event: seen.__setitem__(key, event)
            )
            task = asyncio.create_task(feed.run())  # a consumer over TLS
            try:
                await asyncio.wait_for(feed.caught_up.wait(), 60)
                assert seen["p-tls"].product.title == "Linen shirt"
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

            plaintext = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{tls_port}", request_timeout_ms=3000)
            with pytest.raises((KafkaConnectionError, asyncio.TimeoutError)):
                await asyncio.wait_for(plaintext.start(), 10)
            await plaintext.stop()


async def test_sasl_options_reach_the_clients(tmp_path: Path) -> None:
    ca = make_ca("kafka test CA")
    ca_file = write_pem(tmp_path / "ca.pem", ca[0])
    settings = CommonSettings(
        bootstrap_servers="kafka-0:9093,kafka-1:9093",
        kafka=KafkaSecuritySettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username="creativeloop",
            sasl_password="not-logged",
            ssl_ca_file=ca_file,
        ),
    )
    options = client_options(settings)
    assert options["bootstrap_servers"] == "kafka-0:9093,kafka-1:9093"
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("creativeloop", "not-logged")
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(c["subject"] == ((("commonName", "kafka test CA"),),) for c in context.get_ca_certs())
    producer = AIOKafkaProducer(**options)  # aiokafka accepts the combination
    assert producer.client._security_protocol == "SASL_SSL"
    credentials = faust_credentials(settings)
    assert credentials is not None and credentials.username == "creativeloop"  # type: ignore[attr-defined]
    assert "not-logged" not in repr(settings)


def test_inconsistent_kafka_security_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs CREATIVELOOP_KAFKA_SASL_USERNAME"):
        KafkaSecuritySettings(security_protocol="SASL_PLAINTEXT")
    with pytest.raises(ValueError, match="need an SSL or SASL_SSL security protocol"):
        KafkaSecuritySettings(ssl_ca_file=write_pem(tmp_path / "ca.pem", make_ca("x")[0]))
    with pytest.raises(ValueError, match="no readable file"):
        KafkaSecuritySettings(security_protocol="SSL", ssl_ca_file=tmp_path / "missing.pem")
