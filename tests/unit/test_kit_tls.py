"""gRPC over TLS and mutual TLS on a real loopback server, with certificates made for the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pydantic import ValidationError

from creativeloop.kit.server import ServiceRuntime
from creativeloop.kit.settings import GrpcTlsSettings, ServiceSettings
from creativeloop.kit.tls import aio_channel, sync_channel
from creativeloop.stack.broker import free_port
from tests.certs import make_ca, make_leaf, write_pem


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    other_client_cert: Path
    other_client_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA with a server and a client certificate, and a second CA with its own client."""
    root = tmp_path_factory.mktemp("pki")
    ca, other = make_ca("creativeloop test CA"), make_ca("someone else's CA")
    server = make_leaf(ca, "ranking", server=True, dns_names=("ranking.creativeloop.test",))
    client, stranger = make_leaf(ca, "imagegen", server=False), make_leaf(other, "x", server=False)
    write_pem(root / "ca.pem", ca[0])
    write_pem(root / "other-ca.pem", other[0])
    write_pem(root / "server.pem", *server)
    write_pem(root / "client.pem", *client)
    write_pem(root / "stranger.pem", *stranger)
    return Pki(
        root / "ca.pem",
        root / "server.pem",
        root / "server.key",
        root / "client.pem",
        root / "client.key",
        root / "other-ca.pem",
        root / "stranger.pem",
        root / "stranger.key",
    )


@pytest.fixture
async def serve(pki: Pki) -> AsyncIterator[object]:
    """Start a ServiceRuntime with the given TLS settings; yields a function that does it."""
    started: list[tuple[ServiceRuntime, asyncio.Task[None]]] = []

    async def start(tls: GrpcTlsSettings, health_port: int = 0) -> int:
        settings = ServiceSettings(grpc_port=0, metrics_port=0, health_port=health_port, tls=tls)
        runtime = ServiceRuntime("tls-test", settings, [])
        task = asyncio.create_task(runtime.run())
        while runtime.bound_port == 0:
            await asyncio.sleep(0.01)
        started.append((runtime, task))
        return runtime.bound_port

    yield start
    for runtime, task in started:
        runtime.stop()
        await asyncio.wait_for(task, 10)


async def _status(port: int, tls: GrpcTlsSettings) -> int | grpc.StatusCode:
    """The health status, or the error code the call failed with."""
    async with aio_channel(f"127.0.0.1:{port}", tls) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
        return int(reply.status)


SERVING = int(health_pb2.HealthCheckResponse.SERVING)


async def test_tls_server_talks_only_to_tls_clients_that_trust_its_ca(serve: object, pki: Pki) -> None:
    port = await serve(GrpcTlsSettings(cert_file=pki.server_cert, key_file=pki.server_key))  # type: ignore[operator]
    trusting = GrpcTlsSettings(ca_file=pki.ca, server_name="ranking.creativeloop.test")
    assert await _status(port, trusting) == SERVING
    assert await _status(port, GrpcTlsSettings()) == grpc.StatusCode.UNAVAILABLE  # plaintext client
    wrong_ca = GrpcTlsSettings(ca_file=pki.other_ca, server_name="ranking.creativeloop.test")
    assert await _status(port, wrong_ca) == grpc.StatusCode.UNAVAILABLE
    wrong_name = GrpcTlsSettings(ca_file=pki.ca, server_name="copygen.creativeloop.test")
    assert await _status(port, wrong_name) == grpc.StatusCode.UNAVAILABLE

    def blocking_check() -> int:  # the blocking client too, off the loop the server runs on
        with sync_channel(f"127.0.0.1:{port}", trusting) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
            return int(reply.status)

    assert await asyncio.to_thread(blocking_check) == SERVING


async def test_mutual_tls_refuses_clients_without_a_certificate_from_its_ca(serve: object, pki: Pki) -> None:
    port = await serve(  # type: ignore[operator]
        GrpcTlsSettings(cert_file=pki.server_cert, key_file=pki.server_key, client_ca_file=pki.ca)
    )
    name = "ranking.creativeloop.test"
    with_cert = GrpcTlsSettings(
        ca_file=pki.ca, client_cert_file=pki.client_cert, client_key_file=pki.client_key, server_name=name
    )
    assert await _status(port, with_cert) == SERVING
    assert (
        await _status(port, GrpcTlsSettings(ca_file=pki.ca, server_name=name)) == grpc.StatusCode.UNAVAILABLE
    )
    stranger = GrpcTlsSettings(
        ca_file=pki.ca,
        client_cert_file=pki.other_client_cert,
        client_key_file=pki.other_client_key,
        server_name=name,
    )
    assert await _status(port, stranger) == grpc.StatusCode.UNAVAILABLE


async def test_plaintext_stays_the_default(serve: object) -> None:
    port = await serve(GrpcTlsSettings())  # type: ignore[operator]
    assert await _status(port, GrpcTlsSettings()) == SERVING


def test_incomplete_or_missing_tls_files_fail_at_start_with_the_variable_named(
    pki: Pki, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="CERT_FILE and _KEY_FILE go together"):
        GrpcTlsSettings(cert_file=pki.server_cert)
    with pytest.raises(ValidationError, match=r"CLIENT_CA_FILE \(mutual TLS\) needs the server's CERT_FILE"):
        GrpcTlsSettings(client_ca_file=pki.ca)
    with pytest.raises(ValidationError, match="CLIENT_CERT_FILE needs CA_FILE"):
        GrpcTlsSettings(client_cert_file=pki.client_cert, client_key_file=pki.client_key)
    with pytest.raises(ValidationError, match="CREATIVELOOP_GRPC_TLS_CA_FILE: no readable file"):
        GrpcTlsSettings(ca_file=tmp_path / "missing.pem")


def test_settings_come_from_the_environment(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREATIVELOOP_GRPC_TLS_CERT_FILE", str(pki.server_cert))
    monkeypatch.setenv("CREATIVELOOP_GRPC_TLS_KEY_FILE", str(pki.server_key))
    settings = ServiceSettings()
    assert settings.tls.server_enabled and not settings.tls.client_enabled


async def test_probes_reach_a_plaintext_health_only_port_beside_the_tls_port(serve: object, pki: Pki) -> None:
    health_port = free_port("127.0.0.1")
    port = await serve(  # type: ignore[operator]
        GrpcTlsSettings(cert_file=pki.server_cert, key_file=pki.server_key, client_ca_file=pki.ca),
        health_port,
    )
    assert await _status(health_port, GrpcTlsSettings()) == SERVING  # what a kubelet gRPC probe does
    assert await _status(port, GrpcTlsSettings()) == grpc.StatusCode.UNAVAILABLE
    async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in reflection:
                pass
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED  # health only, nothing else
